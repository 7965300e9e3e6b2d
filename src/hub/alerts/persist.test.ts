import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { RTT_BUCKETS } from '../../model/distribution.js';
import { addTcpRecord, newSide } from '../graph/counters.js';
import type { ResolvedEdge } from '../store/store.js';
import { parseAlertsConfig } from './config/load.js';
import { AlertEngine } from './engine/engine.js';
import { applyState, captureState, DuckAlertState } from './persist.js';

const CONFIG = `resolution: { short: 1s, long: 5s }
baseline: { window: 5s, every: 5s, points: 8, min_points: 2 }
rules: { failures: { windows: [{ long: 60s, short: 10s, burn_rate: 14.4, severity: critical }] } }
`;
const config = () => parseAlertsConfig(CONFIG, 'a.yaml', { externalUrl: 'http://hub' });
const ref = (id: string) => ({ id, kind: 'workload', name: id });

test('the state saved in DuckDB comes back whole: windows, baselines, incidents, silences, learned edges', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const store = await DuckAlertState.open(() => db.connect());
  const e = new AlertEngine(config());
  e.learningStartMs = 1000;
  for (let i = 0; i < 5; i++) {
    e.edges.addSlot({ id: `w|a|b${i}|80`, source: ref('a'), target: ref(`b${i}`), port: 80, scope: { client: { namespace: 'n', workload: 'a' }, server: { namespace: 'n', workload: `b${i}` }, port: 80 }, external: 'no', firstSeenMs: 5, members: [String(i)] });
  }
  const t = 1_000_000;
  e.edges.advance(t);
  const values = newSide();
  addTcpRecord(values, { role: 'client', process: 'a', peer: '', port: 80, local: {}, remote: {}, opened: 8, closed: 8, active: 0, failures: { refused: 2 }, bytes_sent: 1e4, bytes_received: 0, retransmits: 1, resets_sent: 0, resets_received: 0, rtt: { counts: RTT_BUCKETS.map(() => 0), sum: 0.01, count: 10 } });
  // Found by its key: the slot restored with that member.
  e.edges.add(3, () => ({ key: '3' }) as ResolvedEdge, 0, values, t, t);
  e.edges.flush();
  for (let i = 0; i < 6; i++) e.edges.baselines.add(3, 0, 0.001 * (i + 1));
  e.incidents.open({ family: 'edge', subject: 'w|a|b3|80', name: 'FlowscopeRttAnomaly', severity: 'warning', labels: { alertname: 'FlowscopeRttAnomaly', edge: 'w|a|b3|80' }, startsAt: t, signals: [{ signal: 'rtt', since: t, goodSince: 0, unknownSince: 0, cleared: 0 }], url: 'u' });
  e.silences.create({ matchers: ['target=b1'], duration: '1h' }, Date.now());
  await store.save(captureState(e, {}, t, store.saved), []);
  // A later save writes the slots made since (and replaces the windows and baselines).
  e.edges.addSlot({ id: 'w|a|b5|80', source: ref('a'), target: ref('b5'), port: 80, scope: { client: { namespace: 'n', workload: 'a' }, server: { namespace: 'n', workload: 'b5' }, port: 80 }, external: 'no', firstSeenMs: 6, members: ['5'] });
  const second = captureState(e, { webhook: { groups: [] } }, t, store.saved);
  assert.deepEqual(second.edgeSlots.map((s) => s.id), ['w|a|b5|80']);
  await store.save(second, [['w|a|b3|80', 5]]);

  const loaded = await store.load();
  assert.deepEqual(loaded.known, [['w|a|b3|80', 5]]);
  const back = new AlertEngine(config());
  assert.deepEqual(applyState(back, loaded.state!), []);
  assert.equal(back.learningStartMs, 1000);
  assert.equal(back.edges.slots.length, 6);
  assert.equal(back.edges.slotById('w|a|b5|80'), 5);
  assert.deepEqual(back.edges.slot(3).members, ['3']);
  assert.deepEqual(back.edges.baselines.history(3, 0), e.edges.baselines.history(3, 0));
  assert.equal(back.edges.baselines.median(3, 0), e.edges.baselines.median(3, 0));
  assert.equal(back.edges.shortBurn.sum(3, 0, 1), 2, 'failures in the short window');
  assert.equal(back.edges.anomaly.sum(3, 0, 1), 10, 'RTT samples in the anomaly window');
  assert.deepEqual([...back.incidents.active.keys()], ['edge|w|a|b3|80']);
  assert.equal(back.silences.list().length, 1);
  assert.deepEqual(loaded.state!.receivers, { webhook: { groups: [] } });

  // Another configuration of the windows: incidents and silences stay, windows and baselines start over.
  const other = new AlertEngine(parseAlertsConfig(CONFIG.replace('short: 1s, long: 5s', 'short: 1s, long: 10s'), 'b.yaml', { externalUrl: '' }));
  const notes = applyState(other, loaded.state!);
  assert.match(notes[0]!, /windows and baselines start over/);
  assert.equal(other.edges.baselines.count(3, 0), 0);
  assert.equal(other.incidents.active.size, 1);
  store.close();
});
