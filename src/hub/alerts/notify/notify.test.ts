import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveryOptions } from '../config/types.js';
import type { Alert } from '../model.js';
import { AlertmanagerSender } from './alertmanager.js';
import { Dispatcher } from './dispatcher.js';
import { dedupKey, pagerDutyEvent, slackMessage, webhookBody, type Notification } from './formats.js';
import { DeliveryError } from './http.js';

const options = (o: Partial<DeliveryOptions> = {}): DeliveryOptions => ({
  match: {},
  groupBy: ['alertname', 'target'],
  groupWaitMs: 10_000,
  groupIntervalMs: 60_000,
  repeatIntervalMs: 4 * 3_600_000,
  rateLimit: 30,
  sendResolved: true,
  timeoutMs: 1000,
  ...o,
});

function alert(id: string, target: string, state: 'firing' | 'resolved' = 'firing', severity: Alert['severity'] = 'critical'): Alert {
  return {
    id,
    name: 'FlowscopeConnectionFailures',
    family: 'edge',
    severity,
    state,
    labels: { alertname: 'FlowscopeConnectionFailures', severity, target, edge: `workload|a|${target}|80` },
    annotations: { summary: `a -> ${target}:80: 50% of connections fail`, description: 'why', flowscope_url: 'http://hub/x' },
    starts_at: '2026-01-01T00:00:00.000Z',
    ends_at: state === 'resolved' ? '2026-01-01T00:10:00.000Z' : null,
    updated_at: '2026-01-01T00:00:00.000Z',
    edge: { id: `workload|a|${target}|80`, view: 'workload', source: 'a', target, port: 80 },
    dns: null,
    signals: [{ signal: 'failures', since: '2026-01-01T00:00:00.000Z', cleared: null, unit: 'ratio', now: 0.5, baseline: null, text: '50% of 100 connection attempts failed' }],
    explanation: { sentence: '100% of refused connections from a to b:80 land on b pod b-2 on node-c, which receives 50% of the traffic', domain: 'pod', side: 'server', value: 'b-2', problem_share: 1, traffic_share: 0.5, breakdown: null, computed_at: '2026-01-01T00:00:00.000Z' },
    silenced_by: [],
    url: 'http://hub/?view=workload&sel=x',
  };
}

function recorder(fail = false) {
  const sent: Notification[] = [];
  return {
    sent,
    send: async (n: Notification) => {
      if (fail) throw new DeliveryError('the receiver answered 500', 500);
      sent.push(n);
    },
  };
}

test('a group is sent after group_wait, again only when it changes (at most every group_interval) or after repeat_interval, and once more when it resolves', async () => {
  const r = recorder();
  const d = new Dispatcher('team', options(), r.send, () => 'http://hub');
  const t = 1_000_000;
  d.update([alert('a1', 'payments')], t);
  await d.flush(t + 5_000);
  assert.equal(r.sent.length, 0, 'group_wait');
  await d.flush(t + 10_000);
  assert.equal(r.sent.length, 1);
  assert.equal(r.sent[0]!.status, 'firing');
  assert.deepEqual(r.sent[0]!.groupLabels, { alertname: 'FlowscopeConnectionFailures', target: 'payments' });
  // Evaluated every second: nothing new, nothing sent (deduplicated).
  for (let s = 11; s < 100; s++) {
    d.update([alert('a1', 'payments')], t + s * 1000);
    await d.flush(t + s * 1000);
  }
  assert.equal(r.sent.length, 1);
  // Another alert joins the group: sent with both, not before group_interval.
  d.update([alert('a1', 'payments'), alert('a2', 'payments')], t + 100_000);
  await d.flush(t + 100_000);
  assert.equal(r.sent.length, 2);
  assert.equal(r.sent[1]!.alerts.length, 2);
  // Repeat.
  d.update([alert('a1', 'payments'), alert('a2', 'payments')], t + 100_000 + 4 * 3_600_000);
  await d.flush(t + 100_000 + 4 * 3_600_000);
  assert.equal(r.sent.length, 3);
  // Both resolve: one resolved notification, then the group is gone.
  const later = t + 200_000 + 4 * 3_600_000;
  d.update([alert('a1', 'payments', 'resolved'), alert('a2', 'payments', 'resolved')], later);
  await d.flush(later);
  assert.equal(r.sent.length, 4);
  assert.equal(r.sent[3]!.status, 'resolved');
  assert.equal(r.sent[3]!.alerts.length, 2);
  d.update([alert('a1', 'payments', 'resolved')], later + 120_000);
  await d.flush(later + 120_000);
  assert.equal(r.sent.length, 4, 'a resolve is sent once');
  assert.equal(d.state().length, 0);
});

test('alerts with different group labels are separate notifications; silenced ones are left out; a rate limit holds the rest back', async () => {
  const r = recorder();
  const d = new Dispatcher('team', options({ groupWaitMs: 0, rateLimit: 2 }), r.send, () => 'http://hub');
  const t = 2_000_000;
  const silenced = { ...alert('s', 'quiet'), silenced_by: ['x'] };
  d.update([alert('a', 'one'), alert('b', 'two'), alert('c', 'three'), silenced], t);
  await d.flush(t);
  assert.equal(r.sent.length, 2, 'two of three groups within the limit of 2 a minute');
  assert.equal(d.counters.rateLimited, 1);
  await d.flush(t + 30_000);
  assert.equal(r.sent.length, 3, 'the third once a token came back');
  assert.ok(!r.sent.some((n) => n.alerts.some((a) => a.id === 's')), 'a silenced alert is not sent');
});

test('a receiver that fails is retried with backoff, and nothing is marked sent until it answers', async () => {
  const bad = recorder(true);
  const d = new Dispatcher('team', options({ groupWaitMs: 0 }), bad.send, () => 'http://hub');
  const t = 3_000_000;
  d.update([alert('a', 'one')], t);
  await d.flush(t);
  assert.equal(d.counters.failed, 1);
  await d.flush(t + 500);
  assert.equal(d.counters.failed, 1, 'backing off');
  await d.flush(t + 2_000);
  assert.equal(d.counters.failed, 2);
  assert.equal(d.state()[0]!.sentMs, 0);
  assert.match(d.lastError!, /answered 500/);
});

test('the dispatcher remembers what it sent across a restart: nothing is sent twice', async () => {
  const r = recorder();
  const d = new Dispatcher('team', options({ groupWaitMs: 0 }), r.send, () => 'http://hub');
  const t = 4_000_000;
  d.update([alert('a', 'one')], t);
  await d.flush(t);
  const saved = JSON.parse(JSON.stringify(d.state()));
  const r2 = recorder();
  const d2 = new Dispatcher('team', options({ groupWaitMs: 0 }), r2.send, () => 'http://hub');
  d2.restore(saved);
  d2.update([alert('a', 'one')], t + 30_000);
  await d2.flush(t + 30_000);
  assert.equal(r2.sent.length, 0);
  d2.update([alert('a', 'one', 'resolved')], t + 90_000);
  await d2.flush(t + 90_000);
  assert.deepEqual(
    r2.sent.map((n) => n.status),
    ['resolved'],
  );
});

test('Alertmanager: every active alert is sent again each resend interval with endsAt ahead; a resolve carries its endsAt; silenced alerts are not sent', async () => {
  const posts: any[] = [];
  const s = new AlertmanagerSender('am', 60_000, 30, async (b) => void posts.push(b));
  const t = 5_000_000;
  await s.flush([alert('a', 'one'), { ...alert('s', 'two'), silenced_by: ['x'] }], t);
  assert.equal(posts.length, 1);
  assert.equal(posts[0].length, 1);
  assert.equal(posts[0][0].labels.target, 'one');
  assert.equal(posts[0][0].endsAt, new Date(t + 4 * 60_000).toISOString());
  await s.flush([alert('a', 'one')], t + 10_000);
  assert.equal(posts.length, 1, 'unchanged: waits for the resend interval');
  await s.flush([alert('a', 'one')], t + 60_000);
  assert.equal(posts.length, 2);
  await s.flush([alert('a', 'one', 'resolved')], t + 61_000);
  assert.equal(posts.length, 3);
  assert.equal(posts[2][0].endsAt, '2026-01-01T00:10:00.000Z');
});

test('bodies: webhook v4, Slack blocks within limits, PagerDuty trigger and resolve with one stable dedup_key', () => {
  const n: Notification = { receiver: 'r', groupKey: '{}:{alertname="X", target="one"}', groupLabels: { alertname: 'X', target: 'one' }, status: 'firing', alerts: [alert('a', 'one'), alert('b', 'one', 'firing', 'warning')], truncated: 0, externalUrl: 'http://hub' };
  const w = webhookBody(n);
  assert.equal(w.version, '4');
  assert.deepEqual(w.commonLabels, { alertname: 'FlowscopeConnectionFailures', target: 'one', edge: 'workload|a|one|80' }, 'the labels all alerts share (severity differs)');
  assert.equal(w.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
  const many: Notification = { ...n, alerts: Array.from({ length: 40 }, (_, i) => alert(`a${i}`, 'one')) };
  const s = slackMessage(many);
  assert.ok(s.blocks.length <= 50);
  assert.match(JSON.stringify(s.blocks[s.blocks.length - 1]), /and 24 more/);
  const trigger = pagerDutyEvent(n, 'k'.repeat(32), 'hub') as { dedup_key: string; payload: { severity: string } };
  assert.equal(trigger.payload.severity, 'critical', 'the worst of the group');
  const resolve = pagerDutyEvent({ ...n, status: 'resolved' }, 'k'.repeat(32), 'hub');
  assert.deepEqual(Object.keys(resolve).sort(), ['dedup_key', 'event_action', 'routing_key']);
  assert.equal(resolve.dedup_key, trigger.dedup_key);
  assert.equal(dedupKey('r', n.groupKey), trigger.dedup_key);
  assert.notEqual(dedupKey('other', n.groupKey), trigger.dedup_key);
});
