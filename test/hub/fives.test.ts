// The store's five-minute sums (fives) against the plain sums of minutes and samples, on data
// written to DuckDB by the store itself: every window, aligned or not to minutes and to five
// minutes, gives the same rows, and the graph and diff answers are the same text; a late sample
// takes the rows it touches out until maintenance makes them again; they go with the samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckStore, HOUR, MINUTE } from '../../src/hub/store/duckdb.js';
import { sources } from '../../src/hub/store/samples.js';
import { Queries, RawJson } from '../../src/hub/api/queries.js';
import { C, WIDTH, newSide } from '../../src/hub/graph/counters.js';
import type { Window } from '../../src/hub/store/store.js';
import { INTERVAL, filledStore } from './filled-store.js';

/** A side's counters for (edge, side, interval k): varied, with buckets, failures, requests, and sums in 1/1024ths (exact in any order). */
function values(e: number, side: number, k: number): Float64Array {
  const s = newSide();
  const n = 1 + ((e * 7 + k * 3 + side) % 5);
  s[C.opened] = n;
  s[C.closed] = n - (k % 2);
  s[C.active] = (e + k) % 4;
  s[C.bytesSent] = 1000 * n + e;
  s[C.bytesReceived] = 3000 * n + k;
  if ((e + k) % 11 === 0) s[C.failures + ((e + k) % 5)] = 1;
  if ((e * k) % 13 === 0) s[C.retransmits] = 2;
  s[C.connect + ((e + k) % 16)] = n;
  s[C.connect + 16] = n / 1024;
  s[C.connect + 17] = n;
  s[C.rtt + ((e * 3 + k) % 15)] = n;
  s[C.rtt + 15] = (n * 3) / 1024;
  s[C.rtt + 16] = n;
  if (e % 3 === 0 && k % 4 !== 1) {
    s[C.requests] = 4 * n;
    s[C.requestErrors] = k % 2;
    s[C.statuses + 1] = 4 * n - (k % 2);
    s[C.statuses + 4] = k % 2;
    s[C.request + ((e + k) % 15)] = 4 * n;
    s[C.request + 15] = (5 * n) / 1024;
    s[C.request + 16] = 4 * n;
  }
  return s;
}

const text = (r: RawJson): string => Buffer.concat(r.parts).toString();
const iso = (t: number): string => new Date(t).toISOString();

/** What the answers are with the five-minute sums, and without them (the plain sums). */
async function bothWays<T>(duck: DuckStore, answer: () => Promise<T>): Promise<{ fast: T; plain: T }> {
  const kept = new Set(duck.fives);
  const fast = await answer();
  duck.fives.clear();
  try {
    return { fast, plain: await answer() };
  } finally {
    for (const t of kept) duck.fives.add(t);
  }
}

test('five-minute sums answer every window as the minutes and samples do: rows, graphs and diffs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-fives-'));
  const end = Math.floor((Date.now() - 5 * MINUTE) / MINUTE) * MINUTE;
  const hub = await filledStore(dir, end, 45, values);
  try {
    assert.ok(hub.duck.fives.size >= 40, `fives made for the 45 minutes (${hub.duck.fives.size})`);
    const windows: Array<[string, Window]> = [
      ['five whole minutes', { from: end - 20 * MINUTE, to: end - 15 * MINUTE }],
      ['five minutes and a few seconds on each side', { from: end - 20 * MINUTE - 17_000, to: end - 15 * MINUTE + 13_000 }],
      ['five minutes between minutes', { from: end - 20 * MINUTE - 30_000, to: end - 15 * MINUTE - 30_000 }],
      ['twelve minutes', { from: end - 31 * MINUTE, to: end - 19 * MINUTE }],
      ['most of the history, not on minutes', { from: end - 44 * MINUTE - 45_000, to: end - 2 * MINUTE + 15_000 }],
      ['four minutes (no five in it)', { from: end - 9 * MINUTE, to: end - 5 * MINUTE }],
      ['up to the end', { from: end - 10 * MINUTE, to: end }],
    ];
    let usedFives = 0;
    for (const [name, w] of windows) {
      const src = sources(w, hub.duck.rolledTo, hub.duck.samplesFloor, undefined, '', hub.duck.fives);
      if (src.dense.includes('FROM fives')) usedFives++;
      const { fast, plain } = await bothWays(hub.duck, () => hub.duck.totalsTable(w));
      assert.ok(plain.size > 0, `${name}: the window has rows`);
      assert.equal(fast.size, plain.size, `${name}: as many edge sides`);
      for (let r = 0; r < plain.size; r++) {
        const f = fast.find(plain.edges[r]!, plain.sides[r]!);
        assert.ok(f !== undefined, `${name}: edge ${plain.edges[r]} side ${plain.sides[r]} is in both`);
        assert.deepEqual(fast.values.subarray(f * WIDTH, (f + 1) * WIDTH), plain.values.subarray(r * WIDTH, (r + 1) * WIDTH), `${name}: edge ${plain.edges[r]} side ${plain.sides[r]}`);
      }
    }
    assert.ok(usedFives >= 5, `most windows read five-minute sums (${usedFives})`);
    // The same answers through the query API, as text.
    const q = new Queries(hub.store, () => end);
    const graphWindows = [windows[0]![1], windows[1]![1], windows[4]![1]];
    for (const w of graphWindows) {
      for (const view of ['workload', 'pod']) {
        const params = new URLSearchParams({ view, from: iso(w.from), to: iso(w.to) });
        const { fast, plain } = await bothWays(hub.duck, async () => text(await q.graph(params)));
        assert.ok(fast.length > 1000, 'the graph has edges');
        assert.equal(fast, plain, `graph view=${view} ${iso(w.from)}..${iso(w.to)}`);
      }
    }
    const diffParams = new URLSearchParams({ view: 'workload', from: iso(end - 7 * MINUTE), to: iso(end - 2 * MINUTE), baseline_from: iso(end - 35 * MINUTE - 10_000), baseline_to: iso(end - 30 * MINUTE - 10_000), limit: '1000' });
    const { fast, plain } = await bothWays(hub.duck, async () => JSON.stringify(await q.diff(diffParams)));
    assert.equal(fast, plain, 'diff');
    assert.ok((JSON.parse(fast) as { changed: unknown[] }).changed.length > 10, 'the diff has changed edges');
  } finally {
    await hub.duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a late sample takes the five-minute sums it falls in out until maintenance makes them again; they go with the samples', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-fives-late-'));
  const end = Math.floor((Date.now() - 5 * MINUTE) / MINUTE) * MINUTE;
  const hub = await filledStore(dir, end, 20, values);
  let closed = false;
  try {
    const w = { from: end - 12 * MINUTE, to: end - 7 * MINUTE };
    const before = await hub.duck.totalsTable(w);
    const late = end - 9 * MINUTE - 20_000;
    const extra = newSide();
    extra[C.opened] = 1000;
    await hub.duck.write([{ t: late, durMs: INTERVAL, edge: 1, side: 0, values: extra }], [], hub.ingest.endpoints.list(), hub.ingest.edges.values());
    const minute = Math.ceil(late / MINUTE) * MINUTE;
    for (let t = minute; t < minute + 5 * MINUTE; t += MINUTE) assert.equal(hub.duck.fives.has(t), false, `the sum at ${iso(t)} is out`);
    assert.equal(hub.duck.fives.has(minute - MINUTE), true, 'the sum before the late minute stays');
    const opened = (t: typeof before): number => t.values[t.find(1, 0)! * WIDTH + C.opened]!;
    // Read from minutes meanwhile: the late sample counts.
    assert.equal(opened(await hub.duck.totalsTable(w)), opened(before) + 1000);
    const result = await hub.duck.maintain(end, end);
    assert.equal(result.fives, 5, 'the five sums made again');
    assert.ok(sources(w, hub.duck.rolledTo, hub.duck.samplesFloor, undefined, '', hub.duck.fives).unique, 'the window is one five-minute sum again');
    const { fast, plain } = await bothWays(hub.duck, () => hub.duck.totalsTable(w));
    assert.equal(opened(fast), opened(before) + 1000);
    assert.equal(fast.size, plain.size);
    for (let r = 0; r < plain.size; r++) {
      const f = fast.find(plain.edges[r]!, plain.sides[r]!)!;
      assert.deepEqual(fast.values.subarray(f * WIDTH, (f + 1) * WIDTH), plain.values.subarray(r * WIDTH, (r + 1) * WIDTH));
    }
    // A restart finds the sums in the table.
    const count = hub.duck.fives.size;
    closed = true;
    await hub.duck.close();
    const reopened = await DuckStore.open({ dataDir: dir, retentionMs: 24 * HOUR });
    try {
      assert.equal(reopened.fives.size, count, 'the sums are found again on open');
      // An hour later the samples' span has passed them: they are deleted, and windows read minutes.
      await reopened.maintain(end + HOUR + 10 * MINUTE, end);
      assert.equal(reopened.fives.size, 0);
      const rows = await reopened.connect().then(async (c) => {
        const r = await c.runAndReadAll('SELECT (SELECT count(*) FROM fives), (SELECT count(*) FROM fives_hist)');
        c.closeSync();
        return r.getRows()[0]!.map(Number);
      });
      assert.deepEqual(rows, [0, 0]);
      assert.equal(opened(await reopened.totalsTable(w)), opened(before) + 1000, 'the window from minutes');
    } finally {
      await reopened.close();
    }
  } finally {
    if (!closed) await hub.duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
