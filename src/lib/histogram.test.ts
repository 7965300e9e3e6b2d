import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, leLabels, renderHistogram } from './histogram.js';
import { quantile } from '../model/distribution.js';

test('observations land in the first bucket whose bound they do not exceed', () => {
  const h = new Histogram([0.01, 0.1, 1]);
  for (const v of [0.005, 0.01, 0.05, 0.5, 5]) h.observe(v);
  assert.deepEqual([...h.counts], [2, 1, 1]);
  assert.equal(h.count, 5);
  const out: string[] = [];
  renderHistogram(out, 'x_seconds', 'a="b"', h, leLabels(h.bounds));
  assert.deepEqual(out, [
    'x_seconds_bucket{a="b",le="0.01"} 2',
    'x_seconds_bucket{a="b",le="0.1"} 3',
    'x_seconds_bucket{a="b",le="1"} 4',
    'x_seconds_bucket{a="b",le="+Inf"} 5',
    `x_seconds_sum{a="b"} ${0.005 + 0.01 + 0.05 + 0.5 + 5}`,
    'x_seconds_count{a="b"} 5',
  ]);
});

test('quantile estimate interpolates inside the bucket like histogram_quantile', () => {
  const bounds = [0.01, 0.025, 0.05];
  assert.equal(quantile(0.5, { bounds, counts: [0, 10, 0], sum: 0, count: 10 }), 0.0175);
  assert.ok(Number.isNaN(quantile(0.5, { bounds, counts: [0, 0, 0], sum: 0, count: 0 })));
});

test('adding a histogram of the same layout sums buckets, sum and count', () => {
  const a = new Histogram([1, 2]);
  const b = new Histogram([1, 2]);
  a.observe(0.5);
  b.observe(1.5);
  b.observe(3);
  a.add(b);
  assert.deepEqual([...a.counts], [1, 1]);
  assert.equal(a.count, 3);
  assert.equal(a.sum, 5);
});
