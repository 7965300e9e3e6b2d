// A window's rows read narrow (no request columns) where nothing counted requests, wide where
// something did, the same counters either way as the wide read; a row buffer given back is
// reused zeroed. On an in-memory DuckDB with the store's own tables and appender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { C, NARROW, WIDTH, isNarrow, newSide, sideCopy } from '../graph/counters.js';
import { SampleBlock } from '../graph/sample-block.js';
import { RowsTable, SAMPLE_TABLES, appendSamples, sources, sumWindow, type SampleRow } from './samples.js';

const MINUTE = 60_000;

async function db(): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  for (const sql of SAMPLE_TABLES) await c.run(sql);
  return c;
}

/** Samples of `edges` edges (both sides) at t = 1..3 minutes; `tweak` changes a side's values. */
function samples(edges: number, tweak: (s: Float64Array, edge: number, side: number) => void = () => undefined): SampleRow[] {
  const rows: SampleRow[] = [];
  for (let k = 1; k <= 3; k++)
    for (let e = 0; e < edges; e++)
      for (const side of [0, 1]) {
        const s = newSide();
        s[C.opened] = 1 + ((e + k) % 3);
        s[C.active] = k;
        s[C.bytesSent] = 100 * e + k;
        s[C.rtt + ((e + side) % 15)] = 2;
        s[C.rtt + 16] = 2;
        tweak(s, e, side);
        rows.push({ t: k * MINUTE, durMs: MINUTE, edge: e, side, values: s });
      }
  return rows;
}

const window = { from: 0, to: 3 * MINUTE };

async function read(c: DuckDBConnection, narrowOk: boolean): Promise<RowsTable> {
  const out = new RowsTable();
  await sumWindow(c, sources(window, 0, 0), out, false, narrowOk);
  return out;
}

/** Each (edge, side) row as a full Side. */
function sides(t: RowsTable): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let r = 0; r < t.size; r++) out.set(`${t.edges[r]}:${t.sides[r]}`, [...sideCopy(t.values, r * t.stride)]);
  return out;
}

test('a window without requests is read in narrow rows, the same counters as wide ones', async () => {
  const c = await db();
  await appendSamples(c, 'samples', SampleBlock.from(samples(50)));
  const narrow = await read(c, true);
  const wide = await read(c, false);
  assert.equal(narrow.stride, NARROW);
  assert.ok(isNarrow(narrow.values));
  assert.equal(wide.stride, WIDTH);
  assert.equal(narrow.size, 100);
  assert.deepEqual(sides(narrow), sides(wide));
  // Edge 7's client: opened 2 + 3 + 1, active the last reading, bytes summed, its RTT bucket 3 x 2.
  const row = sideCopy(narrow.values, narrow.find(7, 0)! * narrow.stride);
  assert.equal(row[C.opened], 6);
  assert.equal(row[C.active], 3);
  assert.equal(row[C.bytesSent], 2106);
  assert.equal(row[C.rtt + 7], 6);
});

test('a window with requests on one side is read in wide rows', async () => {
  const c = await db();
  await appendSamples(
    c,
    'samples',
    SampleBlock.from(
    samples(20, (s, e, side) => {
      if (e === 3 && side === 1) {
        s[C.requests] = 5;
        s[C.statuses + 1] = 5;
        s[C.request + 2] = 5;
        s[C.request + 16] = 5;
      }
    })),
  );
  const t = await read(c, true);
  assert.equal(t.stride, WIDTH);
  assert.deepEqual(sides(t), sides(await read(c, false)));
  assert.equal(t.values[t.find(3, 1)! * WIDTH + C.requests], 15);
});

test('request buckets without request columns (not written so) are read again in wide rows, not lost', async () => {
  const c = await db();
  await appendSamples(c, 'samples', SampleBlock.from(samples(10, (s, e) => void (e === 4 && (s[C.request + 3] = 1)))));
  const t = await read(c, true);
  assert.equal(t.stride, WIDTH);
  assert.equal(t.values[t.find(4, 0)! * WIDTH + C.request + 3], 3);
  assert.deepEqual(sides(t), sides(await read(c, false)));
});

test('a large row buffer given back is reused by the next read, zeroed', async () => {
  const c = await db();
  // 24,000 edges: 48,000 narrow rows; half of them still above the size worth keeping.
  await appendSamples(c, 'samples', SampleBlock.from(samples(24_000, (s, e) => void (e % 2 && (s[C.retransmits] = 1)))));
  const first = await read(c, true);
  const expected = sides(first);
  const buffer = first.values;
  first.recycle();
  assert.equal(first.size, 0);
  // Dirty what a zeroed buffer must not show: a window with fewer columns used reads it next.
  await c.run(`DELETE FROM samples WHERE edge % 2 = 1`);
  const second = await read(c, true);
  assert.equal(second.values, buffer, 'the buffer given back is reused');
  for (let r = 0; r < second.size; r++) assert.equal(second.values[r * NARROW + C.retransmits], 0);
  const now = sides(second);
  for (const [key, row] of now) assert.deepEqual(row, expected.get(key));
  assert.equal(now.size, 24_000);
});
