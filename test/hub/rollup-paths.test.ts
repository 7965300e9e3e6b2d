// A store window answered from the roll-ups (five-minute sums and minutes for its whole minutes,
// interval rows only for the partial minutes at its edges) against the same window summed from
// the interval rows alone, on data the store itself wrote to DuckDB: every counter of every edge
// side equal (every column of the layout is non-zero somewhere in the data, so a roll-up that
// dropped a field fails), and the graph and diff answers the same bytes. Then the kept rows of the
// last windows read twice: asked again, the same bytes without reading; a write inside the window,
// or the roll-ups remade, and the next answer is a fresh read's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MINUTE, type DuckStore } from '../../src/hub/store/duckdb.js';
import { sources, type RowsTable } from '../../src/hub/store/samples.js';
import { Queries, RawJson } from '../../src/hub/api/queries.js';
import { C, COLUMNS, WIDTH, newSide, sideCopy } from '../../src/hub/graph/counters.js';
import type { Window } from '../../src/hub/store/store.js';
import { INTERVAL, filledStore } from './filled-store.js';

const SUMS = new Set([C.connect + 16, C.rtt + 15, C.request + 15]);

/**
 * A side's counters for (edge, side, interval k): each column non-zero in about a third of the
 * rows (every bucket and status too), sums in 1/1024ths (exact in any order of addition);
 * request columns in the first quarter of the intervals only (later windows have narrow rows).
 */
function values(e: number, side: number, k: number, intervals: number): Float64Array {
  const s = newSide();
  const requests = k <= intervals / 4;
  for (let i = 0; i < (requests ? WIDTH : C.requests); i++) {
    const v = (e * 31 + side * 17 + k * 13 + i * 7) % 9;
    if (v < 3) s[i] = SUMS.has(i) ? (v + 1) / 1024 : v + 1;
  }
  s[C.active] = (e + k) % 4;
  return s;
}

/** The answer from the roll-ups as the store reads it, and from the interval rows alone (no minutes, no fives). */
async function bothPaths<T>(duck: DuckStore, answer: () => Promise<T>): Promise<{ rollups: T; intervals: T }> {
  const rollups = await answer();
  const rolledTo = duck.rolledTo;
  const fives = new Set(duck.fives);
  duck.rolledTo = 0;
  duck.fives.clear();
  try {
    return { rollups, intervals: await answer() };
  } finally {
    duck.rolledTo = rolledTo;
    for (const t of fives) duck.fives.add(t);
  }
}

const text = (r: RawJson): string => Buffer.concat(r.parts).toString();
const iso = (t: number): string => new Date(t).toISOString();

function assertSameRows(name: string, rollups: RowsTable, intervals: RowsTable): void {
  assert.ok(intervals.size > 0, `${name}: the window has rows`);
  assert.equal(rollups.size, intervals.size, `${name}: as many edge sides`);
  for (let r = 0; r < intervals.size; r++) {
    const f = rollups.find(intervals.edges[r]!, intervals.sides[r]!);
    assert.ok(f !== undefined, `${name}: edge ${intervals.edges[r]} side ${intervals.sides[r]} is in both`);
    const want = sideCopy(intervals.values, r * intervals.stride);
    const got = sideCopy(rollups.values, f * rollups.stride);
    for (let i = 0; i < WIDTH; i++) assert.equal(got[i], want[i], `${name}: edge ${intervals.edges[r]} side ${intervals.sides[r]} column ${COLUMNS[i]}`);
  }
}

test('a window from the roll-ups equals the same window from the interval rows: every field of every edge side, graph and diff bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-rollup-paths-'));
  const end = Math.floor((Date.now() - 5 * MINUTE) / MINUTE) * MINUTE;
  const hub = await filledStore(dir, end, 30, values);
  try {
    const windows: Array<[string, Window, boolean]> = [
      ['five whole minutes, with requests', { from: end - 28 * MINUTE, to: end - 23 * MINUTE }, true],
      ['five whole minutes, no requests', { from: end - 20 * MINUTE, to: end - 15 * MINUTE }, false],
      ['five minutes and a few seconds on each side', { from: end - 20 * MINUTE - 17_000, to: end - 15 * MINUTE + 13_000 }, false],
      ['five minutes between minutes', { from: end - 20 * MINUTE - 30_000, to: end - 15 * MINUTE - 30_000 }, false],
      ['twelve minutes across the requests end, not on minutes', { from: end - 26 * MINUTE - 40_000, to: end - 14 * MINUTE + 20_000 }, true],
      ['all of it', { from: end - 30 * MINUTE, to: end }, true],
    ];
    const seen = new Uint8Array(WIDTH);
    for (const [name, w, requests] of windows) {
      const src = sources(w, hub.duck.rolledTo, hub.duck.samplesFloor, undefined, '', hub.duck.fives);
      assert.match(src.dense, /FROM (fives|minutes)/, `${name}: read from the roll-ups`);
      const { rollups, intervals } = await bothPaths(hub.duck, () => hub.duck.totalsTable(w));
      assert.doesNotMatch(sources(w, 0, hub.duck.samplesFloor).dense, /FROM (fives|minutes)/, 'the reference reads interval rows only');
      assert.equal(rollups.stride === WIDTH, requests, `${name}: ${requests ? 'wide' : 'narrow'} rows`);
      assertSameRows(name, rollups, intervals);
      for (let r = 0; r < intervals.size; r++) for (let i = 0; i < intervals.stride; i++) if (intervals.values[r * intervals.stride + i] !== 0) seen[i] = 1;
    }
    // Every field was there to drop: a roll-up missing one would have differed above.
    const never = COLUMNS.filter((_, i) => !seen[i]);
    assert.deepEqual(never, [], 'every column is non-zero in some row of the windows');

    const q = new Queries(hub.store, () => end);
    for (const [, w] of [windows[0]!, windows[2]!, windows[4]!]) {
      for (const view of ['workload', 'pod']) {
        const params = new URLSearchParams({ view, from: iso(w.from), to: iso(w.to), sides: 'true' });
        const { rollups, intervals } = await bothPaths(hub.duck, async () => text(await q.graph(params)));
        assert.ok(rollups.includes('"requests_by_status"') || w.from >= end - 22 * MINUTE, 'request members written where requests were counted');
        assert.equal(rollups, intervals, `graph view=${view} ${iso(w.from)}..${iso(w.to)}`);
      }
    }
    const diffParams = new URLSearchParams({ view: 'workload', from: iso(end - 12 * MINUTE - 5_000), to: iso(end - 7 * MINUTE), baseline_from: iso(end - 27 * MINUTE - 10_000), baseline_to: iso(end - 22 * MINUTE), limit: '1000' });
    const { rollups, intervals } = await bothPaths(hub.duck, async () => JSON.stringify(await q.diff(diffParams)));
    assert.equal(rollups, intervals, 'diff');
    assert.ok((JSON.parse(rollups) as { changed: unknown[] }).changed.length > 10, 'the diff has changed edges');
  } finally {
    await hub.duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the last windows read twice are kept: asked again, the same bytes without a read; a write inside one, or its roll-ups remade, and it is read again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-kept-'));
  const end = Math.floor((Date.now() - 5 * MINUTE) / MINUTE) * MINUTE;
  const hub = await filledStore(dir, end, 30, values);
  try {
    const { duck } = hub;
    let reads = 0;
    const read = duck.totalsTable.bind(duck);
    duck.totalsTable = (...a) => (reads++, read(...a));
    const q = new Queries(hub.store, () => end);
    const graph = async (w: Window): Promise<string> => text(await q.graph(new URLSearchParams({ view: 'workload', from: iso(w.from), to: iso(w.to), sides: 'true' })));
    /** What a read of the window gives now (nothing kept). */
    const fresh = async (w: Window): Promise<string> => {
      const kept = duck.keptWindows;
      duck.keptWindows = 0;
      try {
        return await graph(w);
      } finally {
        duck.keptWindows = kept;
      }
    };
    const a = { from: end - 20 * MINUTE - 17_000, to: end - 15 * MINUTE + 13_000 };
    const b = { from: end - 28 * MINUTE, to: end - 23 * MINUTE };
    const c = { from: end - 11 * MINUTE, to: end - 6 * MINUTE };
    const d = { from: end - 13 * MINUTE, to: end - 8 * MINUTE };
    const first = await graph(a);
    const baseline = await graph(b);
    assert.equal(await graph(a), first, 'a again: the same bytes');
    assert.equal(await graph(b), baseline, 'b again: the same bytes');
    assert.equal(reads, 4, 'the first two asks of a window read it');
    assert.equal(await graph(a), first);
    assert.equal(await graph(b), baseline);
    assert.equal(reads, 4, 'then a and b are answered from their kept rows');
    await graph(d);
    assert.equal(await graph(a), first);
    assert.equal(await graph(b), baseline);
    assert.equal(reads, 5, 'a window asked once pushes none out');
    assert.equal(await fresh(a), first, 'a read again gives what was kept');
    reads = 0;

    // A sample after a's end changes nothing a read: a stays kept.
    const extra = newSide();
    extra[C.opened] = 1000;
    extra[C.rtt + 3] = 1000;
    extra[C.rtt + 16] = 1000;
    await duck.write([{ t: a.to + INTERVAL, durMs: INTERVAL, edge: 1, side: 0, values: extra }], [], hub.ingest.endpoints.list(), hub.ingest.edges.values());
    assert.equal(await graph(a), first);
    assert.equal(reads, 0, 'a still kept after a write past its end');

    // A late sample inside a: read again, with it.
    await duck.write([{ t: a.from + 2 * MINUTE + 5_000, durMs: INTERVAL, edge: 1, side: 0, values: extra }], [], hub.ingest.endpoints.list(), hub.ingest.edges.values());
    const late = await graph(a);
    assert.equal(reads, 1, 'a read again after a write inside it');
    assert.notEqual(late, first, 'the late sample counts');
    assert.equal(late, await fresh(a));
    // Its five-minute sums were taken out; made again, the window reads them (new reads, the same bytes), then is kept.
    reads = 0;
    await duck.maintain(end, end);
    assert.equal(await graph(a), late);
    assert.equal(await graph(a), late);
    assert.equal(reads, 2, 'read again from the remade sums');
    assert.equal(await graph(a), late);
    assert.equal(reads, 2, 'then kept');

    // Two windows are kept: a third pushes the one asked least recently out.
    reads = 0;
    assert.equal(await graph(b), baseline);
    assert.equal(reads, 0, 'b still kept: the writes were after its end');
    await graph(c);
    await graph(c);
    assert.equal(reads, 2, 'c read twice, then kept (a, asked least recently, makes room)');
    await graph(a);
    await graph(a);
    assert.equal(reads, 4, 'a was pushed out; kept again (b makes room)');
    assert.equal(await graph(c), await fresh(c));
    assert.equal(reads, 5, 'c still kept (and one fresh read)');
    await graph(b);
    assert.equal(reads, 6, 'b was pushed out by a');
  } finally {
    await hub.duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
