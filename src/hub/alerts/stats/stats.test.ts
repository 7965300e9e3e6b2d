import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Baselines } from './baselines.js';
import { MAD_SCALE, median, medianAndMad, upperBand } from './robust.js';
import { WindowSet } from './windows.js';

test('median and MAD of odd and even counts, robust to one wild point', () => {
  const scratch = new Float64Array(16);
  assert.equal(median([3, 1, 2], 3, scratch), 2);
  assert.equal(median([4, 1, 3, 2], 4, scratch), 2.5);
  const calm = medianAndMad([10, 11, 9, 10, 12, 10, 8], 7, scratch);
  assert.deepEqual(calm, { median: 10, mad: 1 });
  // One incident in the history moves neither much.
  const wild = medianAndMad([10, 11, 9, 10, 12, 10, 800], 7, scratch);
  assert.equal(wild.median, 10);
  assert.equal(wild.mad, 1);
});

test('the band is the widest of k MADs, the relative and the absolute floor', () => {
  assert.equal(upperBand(10, 1, { mads: 5, minIncrease: 0, minDelta: 0 }), 10 + 5 * MAD_SCALE);
  assert.equal(upperBand(10, 0, { mads: 5, minIncrease: 0.5, minDelta: 1 }), 15);
  assert.equal(upperBand(0, 0, { mads: 5, minIncrease: 1, minDelta: 0.05 }), 0.05);
});

test('windows sum the last k buckets, forget what falls out, and refuse data older than the ring', () => {
  const w = new WindowSet(1000, [2, 4], 2, 1);
  w.advanceTo(10, 1);
  assert.ok(w.add(0, 10, [1, 10]));
  w.advanceTo(11, 1);
  assert.ok(w.add(0, 11, [2, 20]));
  assert.equal(w.sum(0, 0, 0), 3);
  assert.equal(w.sum(0, 1, 1), 30);
  w.advanceTo(12, 1);
  assert.equal(w.sum(0, 0, 0), 2, 'bucket 10 left the 2-bucket window');
  assert.equal(w.sum(0, 1, 0), 3);
  // Late data for a bucket still in the ring counts in the windows that hold it.
  assert.ok(w.add(0, 10, [4, 0]));
  assert.equal(w.sum(0, 0, 0), 2);
  assert.equal(w.sum(0, 1, 0), 7);
  assert.equal(w.add(0, 7, [1, 1]), false, 'older than the ring (5 buckets)');
  w.advanceTo(20, 1);
  assert.equal(w.sum(0, 1, 0), 0, 'a jump beyond the ring clears it');
});

test('windows grow with slots and keep what they held; a snapshot restores the same sums', () => {
  const w = new WindowSet(1000, [3], 1, 1);
  w.advanceTo(5, 1);
  w.add(0, 5, [7]);
  w.ensure(5);
  w.add(4, 5, [2]);
  assert.equal(w.sum(0, 0, 0), 7);
  assert.equal(w.sum(4, 0, 0), 2);
  const snap = w.snapshot(5);
  const back = new WindowSet(1000, [3], 1, 1);
  assert.ok(back.restore(snap, 5));
  assert.equal(back.sum(0, 0, 0), 7);
  assert.equal(back.sum(4, 0, 0), 2);
  assert.equal(back.restore(snap, 4), false, 'a different number of slots does not fit');
});

test('baselines keep the last N points per metric with their median and MAD, and survive a snapshot', () => {
  const b = new Baselines(2, 4, 1);
  for (const v of [1, 2, 3, 4, 100]) b.add(0, 1, v);
  assert.deepEqual(b.history(0, 1), [2, 3, 4, 100]);
  assert.equal(b.count(0, 1), 4);
  assert.equal(b.median(0, 1), 3.5);
  assert.equal(b.count(0, 0), 0);
  assert.ok(Number.isNaN(b.median(0, 0)));
  b.ensure(3);
  b.add(2, 0, 5);
  const back = new Baselines(2, 4, 1);
  // As read back from a store: a Buffer on a pooled ArrayBuffer, at an offset.
  const pooled = Buffer.alloc(64 + b.snapshot(3).byteLength);
  pooled.set(b.snapshot(3), 64);
  assert.ok(back.restore(pooled.subarray(64), 3));
  assert.deepEqual(back.history(0, 1), [2, 3, 4, 100]);
  assert.equal(back.median(2, 0), 5);
  assert.equal(back.restore(b.snapshot(3), 2), false);
});
