// The store's write path takes joined samples as columns (SampleBlock, counters in segments of
// 2,048 rows): on real DuckDB, every counter of every row reads back exactly as it was given,
// dense columns and bucket pairs alike, for a block the join filled in place and for the same
// rows given as objects, across segment and chunk boundaries, with and without request columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckStore, MINUTE, type SampleRow } from '../../src/hub/store/duckdb.js';
import { C, WIDTH, newSide } from '../../src/hub/graph/counters.js';
import { SEGMENT_ROWS, SampleBlock } from '../../src/hub/graph/sample-block.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../src/model/distribution.js';
import { REQUEST_BUCKETS } from '../../src/model/requests.js';

const ROWS = 2 * SEGMENT_ROWS + 777;

function rows(t: number): SampleRow[] {
  let seed = 11;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: ROWS }, (_, i) => {
    const v = newSide();
    v[C.opened] = Math.floor(random() * 100);
    v[C.closed] = v[C.opened]! * 0.5;
    v[C.active] = Math.floor(random() * 7);
    v[C.bytesSent] = random() * 1e9;
    v[C.failures + (i % 4)] = random() < 0.2 ? 3 : 0;
    v[C.connect + (i % CONNECT_BUCKETS.length)] = 1 + (i % 5);
    v[C.connect + CONNECT_BUCKETS.length] = 0.001 * i;
    v[C.connect + CONNECT_BUCKETS.length + 1] = 1 + (i % 5);
    v[C.rtt + (i % RTT_BUCKETS.length)] = 2;
    v[C.rtt + ((i + 3) % RTT_BUCKETS.length)]! += 1 / 3;
    if (i % 9 === 0) {
      v[C.requests] = 5;
      v[C.requestErrors] = 1;
      v[C.statuses + 1] = 4;
      v[C.statuses + 4] = 1;
      v[C.request + (i % REQUEST_BUCKETS.length)] = 5;
      v[C.request + REQUEST_BUCKETS.length] = 0.02;
      v[C.request + REQUEST_BUCKETS.length + 1] = 5;
    }
    return { t, durMs: 10_000, edge: i >> 1, side: i & 1, values: v };
  });
}

/** What the store holds at t, per edge and side, every counter (pairs put back in their columns). */
async function readBack(duck: DuckStore, t: number): Promise<Map<number, Float64Array>> {
  const out = new Map<number, Float64Array>();
  const buckets = new Map<number, Array<[number, number]>>();
  await duck.scanSamples(t - 1, t, {
    bucket: (edge, side, column, n) => {
      const key = edge * 2 + side;
      if (!buckets.has(key)) buckets.set(key, []);
      buckets.get(key)!.push([column, n]);
    },
    row: (_t, edge, side, values) => {
      const v = Float64Array.from(values);
      for (const [column, n] of buckets.get(edge * 2 + side) ?? []) v[column] = n;
      out.set(edge * 2 + side, v);
    },
  });
  return out;
}

test('a block of joined samples is stored as given: every counter of every row, dense and pairs, as from rows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-block-'));
  const duck = await DuckStore.open({ dataDir: dir, retentionMs: 24 * 3_600_000 });
  try {
    const t1 = Math.floor(Date.now() / MINUTE) * MINUTE - 2 * MINUTE;
    const t2 = t1 + 10_000;
    const given = rows(t1);
    // The join's way: rows pushed, counters added in place.
    const block = new SampleBlock(16);
    for (const r of given) {
      const i = block.push(t2, r.durMs, r.edge, r.side);
      const at = block.offsetOf(i);
      for (let k = 0; k < WIDTH; k++) block.valuesOf(i)[at + k]! += r.values[k]!;
    }
    assert.equal(block.segments.length, 3, 'the rows span three segments');
    const written: number[] = [];
    duck.onWritten((b) => written.push(b.size));
    await duck.write(given, [], [], []);
    await duck.write(block, [], [], []);
    assert.deepEqual(written, [ROWS, ROWS], 'listeners see each write once, every row');
    for (const t of [t1, t2]) {
      const stored = await readBack(duck, t);
      assert.equal(stored.size, ROWS, `${t === t1 ? 'rows' : 'block'}: every row stored`);
      for (const r of given) {
        const v = stored.get(r.edge * 2 + r.side)!;
        for (let k = 0; k < WIDTH; k++) assert.equal(v[k], r.values[k], `${t === t1 ? 'rows' : 'block'}: edge ${r.edge} side ${r.side} column ${k}`);
      }
    }
    // The rows as objects are views of the block's counters.
    const views = block.rows();
    assert.equal(views.length, ROWS);
    assert.deepEqual(Array.from(views[ROWS - 1]!.values), Array.from(given[ROWS - 1]!.values));
    assert.equal(views[SEGMENT_ROWS]!.edge, given[SEGMENT_ROWS]!.edge);
  } finally {
    await duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
