import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeSilences, alertsSignature, alertSubject, alertTopLine, edgeOfAlert, firingCount, matchersText, silenceFor } from './alerts.js';
import type { AlertItem, SilenceItem } from './api-types.js';
import { edge } from './test-graphs.js';

const alert: AlertItem = {
  id: 'c0ffee',
  name: 'FlowscopeNewDependency',
  family: 'new_dependency',
  severity: 'warning',
  state: 'firing',
  labels: { alertname: 'FlowscopeNewDependency', severity: 'warning', source: '<b>web</b>', target: 'db', port: '5432', edge: 'process|process:a|process:b|5432', '0bad': 'x' },
  annotations: { summary: 'New dependency: <b>web</b> -> db:5432' },
  starts_at: '2026-12-07T10:00:00Z',
  ends_at: null,
  edge: { id: 'process|process:a|process:b|5432', view: 'process', source: '<b>web</b>', target: 'db', port: 5432 },
  dns: null,
  signals: [{ signal: 'new_dependency', text: 'first seen at 10:00\nsecond line' }],
  explanation: null,
  silenced_by: [],
};

test('alerts: what the panel says of one, and which alerts count', () => {
  assert.equal(alertSubject(alert), '<b>web</b> → db:5432', 'names as the hub wrote them (rendered as text)');
  assert.equal(alertSubject({ ...alert, edge: null, dns: { client: 'web', server: '10.0.0.2' } }), 'web asking 10.0.0.2');
  assert.equal(alertTopLine(alert), 'first seen at 10:00', 'without an explanation, the first signal\'s first line');
  assert.equal(alertTopLine({ ...alert, explanation: { sentence: '93% of refused connections come from node-c' } }), '93% of refused connections come from node-c');
  const answer = { alerts: [alert, { ...alert, id: 'b', state: 'resolved' as const }, { ...alert, id: 'a' }], pending: [] };
  assert.equal(firingCount(answer), 2);
  assert.equal(alertsSignature(answer), 'a,c0ffee', 'firing ids, in order: the graph is read again when they change');
  assert.equal(alertsSignature(null), '');
});

test('alerts: an alert is found on the map by its mark in any view, else by its own edge id', () => {
  const marked = edge('pod:s/a-1', 'pod:s/b-1', 5432, { alerts: [{ id: 'c0ffee', name: alert.name, severity: 'warning', state: 'firing', since: alert.starts_at }] });
  const other = edge('pod:s/a-2', 'pod:s/b-1', 5432);
  assert.equal(edgeOfAlert(alert, [other, marked]), marked);
  const own = { ...edge('process:a', 'process:b', 5432), id: alert.edge!.id };
  assert.equal(edgeOfAlert(alert, [other, own]), own);
  assert.equal(edgeOfAlert(alert, [other]), undefined);
});

test('alerts: a silence from the panel matches exactly the alert\'s labels (alertname first) for the chosen time', () => {
  const s = silenceFor(alert, '4h', '  looking into it ');
  assert.equal(s.kind, 'silence');
  assert.equal(s.duration, '4h');
  assert.equal(s.comment, 'looking into it');
  assert.deepEqual(s.matchers[0], { name: 'alertname', op: '=', value: 'FlowscopeNewDependency' });
  assert.deepEqual(
    s.matchers.map((m) => m.name),
    ['alertname', 'edge', 'port', 'severity', 'source', 'target'],
    'label names the hub would refuse are left out',
  );
  assert.ok(s.matchers.every((m) => m.op === '=' && m.value === alert.labels[m.name]));
});

test('alerts: silences in force are those started and not yet ended, soonest end first', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const s = (id: string, starts: string, ends: string): SilenceItem => ({ id, kind: 'silence', matchers: [{ name: 'alertname', op: '=', value: 'X' }], starts_at: starts, ends_at: ends, created_by: '', comment: '' });
  const list = [s('late', '2026-12-07T11:00:00Z', '2026-12-08T00:00:00Z'), s('expired', '2026-12-07T10:00:00Z', '2026-12-07T11:00:00Z'), s('soon', '2026-12-07T11:30:00Z', '2026-12-07T13:00:00Z'), s('future', '2026-12-07T13:00:00Z', '2026-12-07T14:00:00Z')];
  assert.deepEqual(activeSilences(list, now).map((x) => x.id), ['soon', 'late']);
  assert.equal(matchersText({ matchers: [{ name: 'target', op: '=~', value: 'pay.*' }, { name: 'port', op: '=', value: '80' }] }), 'target=~"pay.*", port="80"');
});
