import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeHealth, edgeWidth, firingAlerts, worse } from './health.js';
import type { AlertMark, EdgeCounters } from './api-types.js';

const base: EdgeCounters = { connections: 100, active: 0, failures: {}, bytes_sent: 1e6, bytes_received: 1e6, retransmits: 0, resets: 0, rtt_p50_seconds: 0.0002, rtt_p99_seconds: 0.0005, connect_p50_seconds: 0.0003, connect_p99_seconds: 0.0006 };

test('health: failed connects at 5% or more are failing, fewer degraded, none ok; idle without traffic', () => {
  assert.equal(edgeHealth(base).health, 'ok');
  const failing = edgeHealth({ ...base, failures: { refused: 6 } });
  assert.equal(failing.health, 'failing');
  assert.match(failing.reasons[0]!, /refused 6/);
  assert.equal(edgeHealth({ ...base, failures: { timeout: 1 } }).health, 'degraded');
  assert.equal(edgeHealth({ ...base, connections: 0, bytes_sent: 0, bytes_received: 0 }).health, 'idle');
});

test('health: failed requests (5xx, gRPC not OK) at 5% or more are failing, fewer degraded; 4xx are the client\'s and do not count', () => {
  const requests = (errors: number, byStatus: Record<string, number>) => ({ ...base, requests: 200, request_errors: errors, requests_by_status: byStatus });
  assert.equal(edgeHealth(requests(0, { '2xx': 150, '4xx': 50 })).health, 'ok');
  const failing = edgeHealth(requests(12, { '2xx': 188, '5xx': 10, 'grpc:UNAVAILABLE': 2 }));
  assert.equal(failing.health, 'failing');
  assert.deepEqual(failing.reasons, ['6% of requests failed (5xx 10, grpc:UNAVAILABLE 2)']);
  assert.equal(edgeHealth(requests(2, { '2xx': 198, '5xx': 2 })).health, 'degraded');
  // Requests on long-lived connections (none opened in the window) are traffic.
  assert.equal(edgeHealth({ ...base, connections: 0, bytes_sent: 0, bytes_received: 0, requests: 5, request_errors: 0 }).health, 'ok');
});

test('health: resets and retransmissions above 1% of segments degrade an edge', () => {
  assert.equal(edgeHealth({ ...base, resets: 1 }).health, 'degraded');
  assert.equal(edgeHealth({ ...base, resets: 10 }).health, 'failing');
  // 2e6 bytes is ~1381 segments: 10 retransmits is 0.7%, 30 is 2.2%.
  assert.equal(edgeHealth({ ...base, retransmits: 10 }).health, 'ok');
  assert.equal(edgeHealth({ ...base, retransmits: 30 }).health, 'degraded');
});

test('health: latency is judged against the edge\'s own earlier latency, not a fixed threshold', () => {
  const slowNow = { ...base, connect_p99_seconds: 0.04 };
  assert.equal(edgeHealth(slowNow).health, 'ok', 'without history a slow edge is just slow');
  assert.equal(edgeHealth(slowNow, { rtt_p99_seconds: 0.0005, connect_p99_seconds: 0.035 }).health, 'ok', 'as slow as it always was');
  const v = edgeHealth(slowNow, { rtt_p99_seconds: 0.0005, connect_p99_seconds: 0.0006 });
  assert.equal(v.health, 'degraded');
  assert.match(v.reasons.join(' '), /connect p99 40 ms, 66.7x its earlier 0.6 ms/);
  // Doubling from 0.1 ms to 0.3 ms is below the 1 ms floor: noise.
  assert.equal(edgeHealth({ ...base, rtt_p99_seconds: 0.0003 }, { rtt_p99_seconds: 0.0001, connect_p99_seconds: null }).health, 'ok');
});

test('widths grow with traffic on a log scale, from 1 to 9 px', () => {
  assert.equal(edgeWidth(0, 100), 1);
  assert.equal(edgeWidth(100, 100), 9);
  assert.ok(edgeWidth(10, 100) > 1 && edgeWidth(10, 100) < edgeWidth(50, 100));
  assert.equal(worse('ok', 'failing'), 'failing');
  assert.equal(worse('degraded', 'idle'), 'degraded');
});

const mark = (over: Partial<AlertMark> = {}): AlertMark => ({ id: 'f00d', name: 'FlowscopeNewDependency', severity: 'warning', state: 'firing', since: '2026-12-07T10:51:02.250Z', ...over });

test('health: a firing alert makes its edge at least what its severity says, and is named first among the reasons', () => {
  const warned = edgeHealth({ ...base, alerts: [mark()] });
  assert.equal(warned.health, 'degraded', 'warning: at least degraded');
  assert.deepEqual(warned.reasons, ['alert: FlowscopeNewDependency since 2026-12-07 10:51:02Z']);
  assert.equal(edgeHealth({ ...base, alerts: [mark({ severity: 'critical', name: 'FlowscopeEdgeFailures' })] }).health, 'failing');
  assert.equal(edgeHealth({ ...base, alerts: [mark({ severity: 'error' })] }).health, 'failing');
  const info = edgeHealth({ ...base, alerts: [mark({ severity: 'info' })] });
  assert.equal(info.health, 'ok', 'info alerts are named, not coloured');
  assert.match(info.reasons[0]!, /^alert: FlowscopeNewDependency since /);
  // An idle edge with an alert on it is drawn as the alert says.
  assert.equal(edgeHealth({ ...base, connections: 0, bytes_sent: 0, bytes_received: 0, alerts: [mark()] }).health, 'degraded');
});

test('health: an alert never makes an edge look better than its counters; the worst alert wins', () => {
  const v = edgeHealth({ ...base, failures: { refused: 20 }, alerts: [mark()] });
  assert.equal(v.health, 'failing', 'the counters say failing; a warning alert does not soften that');
  assert.equal(v.reasons.length, 2);
  assert.match(v.reasons[0]!, /^alert: /);
  assert.match(v.reasons[1]!, /refused 20/);
  const both = edgeHealth({ ...base, alerts: [mark(), mark({ id: 'beef', name: 'FlowscopeEdgeFailures', severity: 'critical' })] });
  assert.equal(both.health, 'failing');
  assert.equal(both.reasons.length, 2);
});

test('health: resolved and pending alerts do not colour an edge nor count as a reason', () => {
  for (const state of ['resolved', 'pending'] as const) {
    const v = edgeHealth({ ...base, alerts: [mark({ state, severity: 'critical' })] });
    assert.equal(v.health, 'ok', state);
    assert.deepEqual(v.reasons, [], state);
  }
  assert.deepEqual(firingAlerts({ alerts: [mark({ state: 'resolved' }), mark({ id: 'x' })] }).map((m) => m.id), ['x']);
});
