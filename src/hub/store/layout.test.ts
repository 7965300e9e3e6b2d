import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COLUMNS, C, WIDTH } from '../graph/counters.js';
import { BUCKET_COLUMNS, DENSE, DENSE_NAMES, REQUEST_DENSE_NAMES, bucketColumn, columnBucket } from './layout.js';

test('every counter of a side is stored once: as a column of the row or as pairs', () => {
  const seen = new Array<number>(WIDTH).fill(0);
  for (const i of DENSE) seen[i]!++;
  for (const i of BUCKET_COLUMNS) seen[i]!++;
  assert.deepEqual(
    seen.flatMap((n, i) => (n === 1 ? [] : [`${COLUMNS[i]} stored ${n} times`])),
    [],
  );
  for (let b = 0; b < BUCKET_COLUMNS.length; b++) assert.equal(columnBucket(bucketColumn(b)), b);
  assert.equal(columnBucket(C.opened), -1);
  assert.ok(BUCKET_COLUMNS.length <= 256, 'pair numbers fit UTINYINT');
});

test('the layout only grew at the end: stored data of the previous layout keeps its meaning', () => {
  // The previous version's row columns and pair numbers (connect's buckets 0-15, RTT's 16-30).
  const before = ['opened', 'closed', 'active', 'failed_other', 'failed_refused', 'failed_timeout', 'failed_unreachable', 'failed_reset', 'bytes_sent', 'bytes_received', 'retransmits', 'resets_sent', 'resets_received', 'connect_sum', 'connect_count', 'rtt_sum', 'rtt_count'];
  assert.deepEqual(DENSE_NAMES.slice(0, before.length), before);
  assert.deepEqual(DENSE_NAMES.slice(before.length), REQUEST_DENSE_NAMES);
  assert.deepEqual(REQUEST_DENSE_NAMES, ['requests', 'request_errors', 'request_sum', 'request_count']);
  assert.deepEqual(
    BUCKET_COLUMNS.slice(0, 31).map((c) => COLUMNS[c]),
    [...Array.from({ length: 16 }, (_, i) => `connect_b${i}`), ...Array.from({ length: 15 }, (_, i) => `rtt_b${i}`)],
  );
  assert.equal(COLUMNS[BUCKET_COLUMNS[31]!], 'request_b0');
  assert.ok(BUCKET_COLUMNS.slice(31).map((c) => COLUMNS[c]).includes('requests_grpc_unavailable'));
});
