import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failuresByReason, latencyBaselines, mergeInterval, prepare } from './model.js';
import { parseMuteRule } from './mute.js';
import { edge, node } from './test-graphs.js';
import type { Graph } from './api-types.js';

const a = node('workload:s/a');
const b = node('workload:s/b');
const c = node('workload:s/c');
const g: Graph = { view: 'workload', from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:05:00Z', nodes: [a, b], edges: [edge(a.id, b.id, 80, { failures: { refused: 1 } })] };

test('a stream interval adds its counts to known edges and brings new nodes and edges', () => {
  const m = mergeInterval(g, { ...g, sequence: 1, to: '2026-01-01T00:05:01Z', nodes: [b, c], edges: [edge(a.id, b.id, 80, { connections: 5, failures: { refused: 2, timeout: 1 } }), edge(b.id, c.id)] });
  assert.equal(m.nodes.length, 3);
  assert.equal(m.edges.length, 2);
  const ab = m.edges.find((e) => e.source === a.id)!;
  assert.equal(ab.connections, 15);
  assert.deepEqual(ab.failures, { refused: 3, timeout: 1 });
  assert.equal(m.to, '2026-01-01T00:05:01Z');
  assert.equal(g.edges[0]!.connections, 10, 'the old graph is not changed');
});

test('prepare: mute rules and the failures-only switch hide edges and the nodes left alone, and count them', () => {
  const g2: Graph = { ...g, nodes: [a, b, c], edges: [...g.edges, edge(b.id, c.id, 9090)] };
  const muted = prepare(g2, [parseMuteRule('port=9090')], false);
  assert.deepEqual(muted.nodes.map((n) => n.id), [a.id, b.id]);
  assert.equal(muted.muted, 1);
  const failing = prepare(g2, [], true);
  assert.deepEqual(failing.edges.map((e) => e.port), [80]);
  assert.equal(failing.healthyHidden, 1);
  assert.equal(failing.health.get(g.edges[0]!.id)!.health, 'failing');
});

test('prepare judges latency against the earlier window', () => {
  const earlier = latencyBaselines({ ...g, edges: [edge(a.id, b.id, 80, { rtt_p99_seconds: 0.001 })] });
  const slow: Graph = { ...g, edges: [edge(a.id, b.id, 80, { rtt_p99_seconds: 0.05 })] };
  assert.equal(prepare(slow, [], false, earlier).health.get(slow.edges[0]!.id)!.health, 'degraded');
  assert.equal(prepare(slow, [], false).health.get(slow.edges[0]!.id)!.health, 'ok');
});

test('failures by reason over several edges, largest first', () => {
  assert.deepEqual(failuresByReason([edge(a.id, b.id, 1, { failures: { refused: 1, timeout: 4 } }), edge(a.id, c.id, 1, { failures: { refused: 2 } })]), [
    ['timeout', 4],
    ['refused', 3],
  ]);
});

test('a stream interval (which carries no alert marks) keeps the marks of the last full read', () => {
  const alerts = [{ id: 'a1', name: 'FlowscopeNewDependency', severity: 'warning' as const, state: 'firing' as const, since: '2026-01-01T00:04:00Z' }];
  const marked: Graph = { ...g, edges: [{ ...g.edges[0]!, alerts }] };
  const m = mergeInterval(marked, { ...g, sequence: 2, to: '2026-01-01T00:05:02Z', edges: [edge(a.id, b.id, 80, { connections: 1 })] });
  assert.deepEqual(m.edges[0]!.alerts, alerts);
  assert.equal(prepare(m, [], false).health.get(m.edges[0]!.id)!.health, 'failing', 'refused 1 of 11 is failing anyway');
  assert.match(prepare(m, [], false).health.get(m.edges[0]!.id)!.reasons[0]!, /^alert: FlowscopeNewDependency since 2026-01-01 00:04:00Z$/);
});
