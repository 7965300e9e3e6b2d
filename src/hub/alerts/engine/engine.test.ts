import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { wire } from '../../../model/index.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../../model/distribution.js';
import { addTcpRecord, newSide, type Side } from '../../graph/counters.js';
import { processEndpoint, type Endpoint } from '../../graph/endpoint.js';
import type { ResolvedEdge } from '../../store/store.js';
import { parseAlertsConfig } from '../config/load.js';
import { AlertEngine, type TickResult } from './engine.js';

// Short windows through configuration, as the integration tests do: 1 s buckets, a 5 s window
// for anomalies and the short burn window, history points every 5 s, 10 s of learning.
const CONFIG = `
evaluation_interval: 1s
resolution: { short: 1s, long: 5s }
baseline: { window: 5s, every: 5s, points: 12, min_points: 3 }
learning_window: 10s
rules:
  failures:
    min_attempts: 10
    min_failures: 3
    resolve_after: 5s
    windows:
      - { long: 30s, short: 5s, burn_rate: 14.4, severity: critical }
  rtt: { for: 2s, resolve_after: 5s }
  connect: { for: 2s, resolve_after: 5s }
  retransmits: { for: 2s, resolve_after: 5s }
  resets: { for: 2s, resolve_after: 5s }
  dns: { for: 2s, resolve_after: 5s, min_requests: 10 }
  new_dependency: { hold: 20s, settle: 2s }
`;

const config = () => parseAlertsConfig(CONFIG, 'test.yaml', { externalUrl: 'http://hub' });

const wl = (pod: string, workload: string, node: string, version = 'v1'): { node: string; w: wire.WorkloadV1 } => ({ node, w: { pod, namespace: 'shop', workload, version } });

function endpoint(e: { node: string; w: wire.WorkloadV1 }, process: string): Endpoint {
  return processEndpoint(e.node, 'zone-1', process, '', e.w);
}

/** Fine edges as the store numbers them: the engine resolves a number into its ends once. */
const registry: ResolvedEdge[] = [];
const resolve = (id: number): ResolvedEdge => registry[id]!;
function fine(client: Endpoint, server: Endpoint, port = 8080): ResolvedEdge {
  const e: ResolvedEdge = { key: String(registry.length), client, server, port, protocol: 'tcp' };
  registry.push(e);
  return e;
}

const input = (edge: ResolvedEdge, side: 0 | 1, values: Side, t: number) => ({ edge: Number(edge.key), side, values, t });

function hist(layout: readonly number[], value: number, n: number): wire.HistogramV1 {
  const i = layout.findIndex((b) => value <= b);
  return { counts: layout.map((_, j) => (j === i ? n : 0)), sum: n * value, count: n };
}

function side(r: Partial<wire.TcpEdgeV1>): Side {
  const s = newSide();
  addTcpRecord(s, { role: 'client', process: 'p', peer: '', port: 0, local: {}, remote: {}, opened: 0, closed: 0, active: 0, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets_sent: 0, resets_received: 0, ...r });
  return s;
}

const checkout = endpoint(wl('checkout-1', 'checkout', 'node-a', 'v2'), 'checkout');
const payments1 = endpoint(wl('payments-1', 'payments', 'node-b'), 'payments');
const payments2 = endpoint(wl('payments-2', 'payments', 'node-c'), 'payments');
const toP1 = fine(checkout, payments1);
const toP2 = fine(checkout, payments2);

interface Interval {
  p2?: Partial<wire.TcpEdgeV1>;
}

/** One second of checkout calling both payments pods, 10 connections each (both sides reported). */
function feed(engine: AlertEngine, t: number, o: Interval = {}): void {
  const healthy: Partial<wire.TcpEdgeV1> = { opened: 10, closed: 10, bytes_sent: 10_000, bytes_received: 50_000, connect: hist(CONNECT_BUCKETS, 0.0004, 10), rtt: hist(RTT_BUCKETS, 0.0002, 10) };
  const p2 = { ...healthy, ...o.p2 };
  engine.addTcp(
    [
      input(toP1, 0, side(healthy), t),
      input(toP1, 1, side({ opened: 10, closed: 10, rtt: hist(RTT_BUCKETS, 0.0002, 10) }), t),
      input(toP2, 0, side(p2), t),
      input(toP2, 1, side({ opened: p2.opened, closed: p2.closed, rtt: p2.rtt }), t),
    ],
    resolve,
  );
}

interface Run {
  engine: AlertEngine;
  results: TickResult[];
  t: number;
}

function run(r: Run, seconds: number, o: Interval = {}): void {
  for (let i = 0; i < seconds; i++) {
    r.t += 1000;
    feed(r.engine, r.t, o);
    r.results.push(r.engine.tick(r.t + 300));
  }
}

const opened = (r: Run) => r.results.flatMap((x) => x.opened);
const resolved = (r: Run) => r.results.flatMap((x) => x.resolved);
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

test('a pod that refuses half of its connections raises one failure alert on the workload edge, which resolves once it recovers', () => {
  const r: Run = { engine: new AlertEngine(config()), results: [], t: T0 };
  run(r, 40);
  assert.equal(opened(r).length, 0, 'healthy traffic raises nothing');
  run(r, 20, { p2: { opened: 5, closed: 5, failures: { refused: 5 }, connect: hist(CONNECT_BUCKETS, 0.0004, 5) } });
  const alerts = opened(r);
  assert.equal(alerts.length, 1, `one alert, not a storm: ${alerts.map((a) => a.name).join(', ')}`);
  const a = alerts[0]!;
  assert.equal(a.name, 'FlowscopeConnectionFailures');
  assert.equal(a.severity, 'critical');
  assert.equal(a.subject, 'workload|workload:shop/checkout|workload:shop/payments|8080');
  assert.equal(a.labels.source, 'checkout');
  assert.equal(a.labels.target, 'payments');
  assert.equal(a.labels.namespace, 'shop');
  run(r, 30);
  assert.equal(opened(r).length, 1, 'recovery raises nothing new');
  assert.deepEqual(
    resolved(r).map((x) => x.key),
    [a.key],
  );
  // Resolved after the short window emptied (5 s) and it stayed healthy for resolve_after (5 s).
  assert.ok(a.endsAt - (T0 + 60_000) <= 13_000, `resolved ${(a.endsAt - T0 - 60_000) / 1000}s after the fault ended`);
});

test('round trips to one pod slowed a hundredfold are one RTT anomaly against the edge\'s own band; the baseline does not learn the incident', () => {
  const r: Run = { engine: new AlertEngine(config()), results: [], t: T0 };
  run(r, 30);
  const slot = r.engine.edges.slotById('workload|workload:shop/checkout|workload:shop/payments|8080')!;
  const before = r.engine.edges.baselines.count(slot, 0);
  assert.ok(before >= 3, `history points: ${before}`);
  const medianBefore = r.engine.edges.baselines.median(slot, 0);
  assert.ok(Math.abs(medianBefore - 0.0002) < 1e-5, `median ${medianBefore}`);
  run(r, 20, { p2: { rtt: hist(RTT_BUCKETS, 0.02, 10), connect: hist(CONNECT_BUCKETS, 0.04, 10) } });
  const alerts = opened(r);
  assert.equal(alerts.length, 1, alerts.map((a) => a.name).join(', '));
  assert.equal(alerts[0]!.family, 'edge');
  assert.ok(['FlowscopeRttAnomaly', 'FlowscopeConnectTimeAnomaly'].includes(alerts[0]!.name));
  assert.deepEqual(alerts[0]!.signals.map((s) => s.signal).sort(), ['connect', 'rtt'], 'both signals are one incident');
  assert.equal(r.engine.edges.baselines.count(slot, 0), before, 'no history points while the edge is unhealthy');
  run(r, 30);
  assert.equal(resolved(r).length, 1);
  assert.ok(Math.abs(r.engine.edges.baselines.median(slot, 0) - medianBefore) < 1e-5);
});

test('retransmits and resets beyond the band, with enough traffic; a quiet edge cannot page anyone', () => {
  const r: Run = { engine: new AlertEngine(config()), results: [], t: T0 };
  // A quiet edge, learned with the others: one connection a second, failing, retransmitting, reset.
  const quiet = fine(endpoint(wl('batch-1', 'batch', 'node-d'), 'batch'), payments1);
  const quietTraffic = (bad: boolean) => r.engine.addTcp([input(quiet, 0, side(bad ? { opened: 0, closed: 1, failures: { refused: 1 }, bytes_sent: 100, retransmits: 5, resets_received: 1 } : { opened: 1, closed: 1, bytes_sent: 100 }), r.t)], resolve);
  for (let i = 0; i < 45; i++) {
    r.t += 1000;
    feed(r.engine, r.t);
    quietTraffic(i >= 30);
    r.results.push(r.engine.tick(r.t + 300));
  }
  assert.equal(opened(r).length, 0, 'under the traffic floors nothing is judged');
  run(r, 20, { p2: { retransmits: 20, resets_received: 6 } });
  const alerts = opened(r);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.subject, 'workload|workload:shop/checkout|workload:shop/payments|8080');
  assert.deepEqual(alerts[0]!.signals.map((s) => s.signal).sort(), ['resets', 'retransmits']);
});

test('a new client after the learning window raises one new-dependency alert; edges seen while learning do not', () => {
  const r: Run = { engine: new AlertEngine(config()), results: [], t: T0 };
  run(r, 20);
  assert.equal(r.engine.known.size, 1);
  const newcomer = fine(endpoint(wl('fraud-1', 'fraud', 'node-d'), 'fraud'), payments1);
  for (let i = 0; i < 5; i++) {
    r.t += 1000;
    feed(r.engine, r.t);
    r.engine.addTcp([input(newcomer, 0, side({ opened: 1, closed: 1 }), r.t)], resolve);
    r.results.push(r.engine.tick(r.t + 300));
  }
  const alerts = opened(r);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.name, 'FlowscopeNewDependency');
  assert.equal(alerts[0]!.subject, 'workload|workload:shop/fraud|workload:shop/payments|8080');
  assert.equal(alerts[0]!.severity, 'info');
  run(r, 25);
  assert.equal(resolved(r).length, 1, 'it resolves after its hold');
  assert.equal(opened(r).length, 1);
  // An edge that lasts one interval (an end named late, then properly) does not count.
  const passing = fine(endpoint({ node: 'node-d', w: { container: 'c0ffee' } }, 'fraud'), payments1);
  r.t += 1000;
  r.engine.addTcp([input(passing, 0, side({ opened: 1, closed: 1 }), r.t)], resolve);
  run(r, 8);
  assert.equal(opened(r).length, 1, 'a passing name raised nothing');
  assert.ok(r.engine.known.has(r.engine.edges.slot(r.engine.edges.slotOfMember(passing.key)!).id), 'but it is known now');
});

test('a mute keeps matching alerts from being raised at all; a silence does not', () => {
  const r: Run = { engine: new AlertEngine(config()), results: [], t: T0 };
  run(r, 30);
  r.engine.silences.create({ kind: 'mute', matchers: ['target=payments', { name: 'alertname', op: '=~', value: 'Flowscope.*Failures' }], duration: '1h' }, r.t);
  const mute = r.engine.silences.list()[0]!;
  run(r, 10, { p2: { opened: 0, closed: 0, failures: { refused: 10 } } });
  assert.equal(opened(r).length, 0);
  assert.ok(r.engine.counters.muted > 0);
  // Once the mute expires, the same fault is raised; a silence only keeps it from receivers.
  r.engine.silences.expire(mute.id, r.t);
  const silence = r.engine.silences.create({ matchers: [{ name: 'target', value: 'payments' }], duration: '1h' }, r.t);
  run(r, 3, { p2: { opened: 0, closed: 0, failures: { refused: 10 } } });
  const alerts = opened(r);
  assert.equal(alerts.length, 1);
  assert.deepEqual(r.engine.silences.matching(alerts[0]!.labels, 'silence', r.t), [silence.id]);
});

test('DNS: SERVFAIL from one server for one client is one alert naming both', () => {
  const r: Run = { engine: new AlertEngine(config()), results: [], t: T0 };
  const dns = (servfail: number) => ({ node: 'node-a', zone: 'z', t: r.t, records: [{ qtype: 'A', server: '10.96.0.10', client: { pod: 'checkout-1', namespace: 'shop', workload: 'checkout' }, rcodes: { NOERROR: 20 - servfail, SERVFAIL: servfail } }] });
  for (let i = 0; i < 30; i++) {
    r.t += 1000;
    r.engine.addDns(dns(0));
    r.results.push(r.engine.tick(r.t + 300));
  }
  assert.equal(opened(r).length, 0);
  for (let i = 0; i < 10; i++) {
    r.t += 1000;
    r.engine.addDns(dns(5));
    r.results.push(r.engine.tick(r.t + 300));
  }
  const alerts = opened(r);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.name, 'FlowscopeDnsErrors');
  assert.equal(alerts[0]!.labels.server, '10.96.0.10');
  assert.equal(alerts[0]!.labels.workload, 'checkout');
  assert.deepEqual(alerts[0]!.signals.map((s) => s.signal), ['servfail']);
});
