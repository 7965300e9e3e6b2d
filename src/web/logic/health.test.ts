import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeHealth, edgeWidth, worse } from './health.js';
import type { EdgeCounters } from './api-types.js';

const base: EdgeCounters = { connections: 100, active: 0, failures: {}, bytes_sent: 1e6, bytes_received: 1e6, retransmits: 0, resets: 0, rtt_p50_seconds: 0.0002, rtt_p99_seconds: 0.0005, connect_p50_seconds: 0.0003, connect_p99_seconds: 0.0006 };

test('health: failed connects at 5% or more are failing, fewer degraded, none ok; idle without traffic', () => {
  assert.equal(edgeHealth(base).health, 'ok');
  const failing = edgeHealth({ ...base, failures: { refused: 6 } });
  assert.equal(failing.health, 'failing');
  assert.match(failing.reasons[0]!, /refused 6/);
  assert.equal(edgeHealth({ ...base, failures: { timeout: 1 } }).health, 'degraded');
  assert.equal(edgeHealth({ ...base, connections: 0, bytes_sent: 0, bytes_received: 0 }).health, 'idle');
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
