// The sliding window's narrow rows and wide slots against a window of wide rows (the layout before
// it, written out here): the same samples added, read back and loaded give bit-identical rows,
// and the graph written from them is the same JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUEST_BUCKETS } from '../../model/requests.js';
import { C, NARROW, REQUEST_STATUSES, WIDTH, isNarrow, newSide, quantileOfRows, requestSide, requestsAt, requestsByStatus, sideCopy, usedWidth, type Side } from '../graph/counters.js';
import { processEndpoint } from '../graph/endpoint.js';
import { edgeTotalsOf, fineTotalsOf } from '../graph/fine-totals.js';
import { graphJson } from '../graph/graph-json.js';
import { diffTotals } from '../graph/diff.js';
import { ViewIndex } from '../graph/view-index.js';
import { groupTotals } from '../graph/view-totals.js';
import { parseView } from '../graph/views.js';
import { BUCKET_COLUMNS } from '../store/layout.js';
import type { FineTotals, ResolvedEdge } from '../store/store.js';
import { SlidingWindow } from './window.js';

/** The window as it was: every row WIDTH columns. */
class WideWindow {
  start = 0;
  values = new Float64Array(0);
  counts = new Int32Array(0);
  lastT = new Float64Array(0);
  constructor(rows: number) {
    this.values = new Float64Array(rows * WIDTH);
    this.counts = new Int32Array(rows);
    this.lastT = new Float64Array(rows);
  }
  add(t: number, edge: number, side: number, v: Side): void {
    if (!(t > this.start)) return;
    const row = edge * 2 + side;
    const at = row * WIDTH;
    if (this.counts[row] === 0) {
      for (let i = 0; i < WIDTH; i++) this.values[at + i] = v[i]!;
      this.lastT[row] = t;
    } else {
      const active = this.values[at + C.active]!;
      for (let i = 0, n = usedWidth(v); i < n; i++) this.values[at + i]! += v[i]!;
      if (t >= this.lastT[row]!) {
        this.values[at + C.active] = v[C.active]!;
        this.lastT[row] = t;
      } else this.values[at + C.active] = active;
    }
    this.counts[row]!++;
  }
  remove(edge: number, side: number, v: Side): void {
    const row = edge * 2 + side;
    if (this.counts[row]! <= 0) return;
    const at = row * WIDTH;
    if (--this.counts[row]! === 0) {
      this.values.fill(0, at, at + WIDTH);
      this.lastT[row] = 0;
    } else {
      const active = this.values[at + C.active]!;
      for (let i = 0, n = usedWidth(v); i < n; i++) this.values[at + i]! -= v[i]!;
      this.values[at + C.active] = active;
    }
  }
  removeBucket(edge: number, side: number, column: number, n: number): void {
    const row = edge * 2 + side;
    if (this.counts[row]! > 0) this.values[row * WIDTH + column]! -= n;
  }
}

const EDGES = 40;

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sample {
  t: number;
  edge: number;
  side: number;
  values: Side;
}

/** Samples with fractions (sums depend on their order), requests on some edges only and now and then. */
function samples(r: () => number, n: number): Sample[] {
  const out: Sample[] = [];
  for (let k = 0; k < n; k++) {
    const edge = Math.floor(r() * EDGES);
    const v = newSide();
    const opened = 1 + Math.floor(r() * 4);
    v[C.opened] = opened;
    v[C.closed] = opened / 3;
    v[C.active] = Math.floor(r() * 7);
    v[C.bytesSent] = r() * 10_000;
    v[C.connect + 2] = opened / 3;
    v[C.rtt + 5] = opened / 7;
    v[C.rtt + 15] = r() * 0.001;
    v[C.rtt + 16] = opened;
    // Edges 0-9 carry requests in most samples, 10-19 in a few, the rest never.
    if ((edge < 10 && r() < 0.8) || (edge < 20 && r() < 0.1)) {
      const q = 1 + Math.floor(r() * 9);
      v[C.requests] = q / 3;
      v[C.requestErrors] = q / 9;
      v[C.request + 3] = q / 3;
      v[C.request + REQUEST_BUCKETS.length] = q * r() * 0.01;
      v[C.request + REQUEST_BUCKETS.length + 1] = q / 3;
      v[C.statuses + 1] = q / 3;
    }
    out.push({ t: 1 + Math.floor(k / 10) + (r() < 0.05 ? -3 : 0), edge, side: r() < 0.5 ? 0 : 1, values: v });
  }
  return out;
}

/** What the store hands back for samples the start passes: their buckets as pairs first, then each row with its buckets 0. */
function readBack(from: number, to: number, all: readonly Sample[], w: { removeBucket: WideWindow['removeBucket']; remove: WideWindow['remove'] }): void {
  const passed = all.filter((s) => s.t > from && s.t <= to);
  for (const s of passed) for (const col of BUCKET_COLUMNS) if (s.values[col] !== 0) w.removeBucket(s.edge, s.side, col, s.values[col]!);
  for (const s of passed) {
    const row = s.values.slice();
    for (const col of BUCKET_COLUMNS) row[col] = 0;
    w.remove(s.edge, s.side, row);
  }
}

function sameRows(narrow: SlidingWindow, wide: WideWindow, what: string): void {
  for (let edge = 0; edge < EDGES; edge++) {
    for (let side = 0; side < 2; side++) {
      const row = edge * 2 + side;
      assert.equal(narrow.rowCount(edge, side), wide.counts[row], `${what}: samples of row ${row}`);
      const expected = Array.from(wide.values.subarray(row * WIDTH, (row + 1) * WIDTH));
      const r = narrow.row(edge, side);
      const got = r ? Array.from(sideCopy(r.array, r.at)) : new Array<number>(WIDTH).fill(0);
      assert.deepEqual(got, expected, `${what}: row ${row}`);
    }
  }
}

const endpoint = (i: number) => processEndpoint(`node-${i % 3}`, 'z1', `p${i}`, '', { namespace: 'shop', workload: `w${i % 7}`, pod: `w${i % 7}-${i}` });
const edges: ResolvedEdge[] = Array.from({ length: EDGES }, (_, id) => ({ key: String(id), id, client: endpoint(id), server: endpoint(id + 100), port: 80, protocol: 'tcp' }));

/** The window's rows as the live view hands them (see live.ts). */
function fineOf(w: SlidingWindow): FineTotals {
  const each = (visit: Parameters<FineTotals['forEach']>[0]): number => {
    let n = 0;
    for (let edge = 0; edge < EDGES; edge++) {
      const [c, s] = [0, 1].map((side) => w.row(edge, side));
      if (!c && !s) continue;
      n++;
      visit(edges[edge]!, c?.array ?? newSide(), c ? c.at : -1, s?.array ?? newSide(), s ? s.at : -1);
    }
    return n;
  };
  return { size: each(() => undefined), forEach: (v) => void each(v) };
}

function fineOfWide(w: WideWindow): FineTotals {
  const totals = [];
  for (let edge = 0; edge < EDGES; edge++) {
    const side = (s: number) => (w.counts[edge * 2 + s]! > 0 ? w.values.slice((edge * 2 + s) * WIDTH, (edge * 2 + s + 1) * WIDTH) : undefined);
    if (side(0) || side(1)) totals.push({ edge: edges[edge]!, sides: [side(0), side(1)] as [Side | undefined, Side | undefined] });
  }
  return fineTotalsOf(totals);
}

test('a window of narrow rows and wide slots sums exactly as a window of wide rows, as samples come, leave, and load', () => {
  const r = rng(11);
  const all = samples(r, 3000);
  const narrow = new SlidingWindow(60_000);
  const wide = new WideWindow(EDGES * 2);
  narrow.load(0, [], []);
  for (let k = 0; k < all.length; k += 37) {
    const batch = all.slice(k, k + 37);
    narrow.addRows(batch);
    for (const s of batch) wide.add(s.t, s.edge, s.side, s.values);
  }
  sameRows(narrow, wide, 'after adding');
  assert.ok(narrow.wideRows > 0 && narrow.wideRows <= 40, `rows with requests are wide (${narrow.wideRows}), the rest narrow`);

  // The start moves on in steps: rows lose samples (some all of them, their slots freed).
  let wideBefore = narrow.wideRows;
  for (let to = 20; to <= 300; to += 40) {
    readBack(narrow.start, to, all, narrow);
    readBack(wide.start, to, all, wide);
    narrow.advance(to);
    wide.start = to;
    sameRows(narrow, wide, `after moving to ${to}`);
    // More samples come (rows that were narrow get requests, freed rows come back).
    const more = samples(r, 200).map((s) => ({ ...s, t: to + 1 + (s.t % 20) }));
    all.push(...more);
    narrow.addRows(more);
    for (const s of more) wide.add(s.t, s.edge, s.side, s.values);
    sameRows(narrow, wide, `after adding at ${to}`);
    wideBefore = Math.max(wideBefore, narrow.wideRows);
  }
  // Every sample leaves: every row exactly zero, every slot free.
  readBack(narrow.start, 1e9, all, narrow);
  readBack(wide.start, 1e9, all, wide);
  sameRows(narrow, wide, 'after every sample left');
  assert.equal(narrow.wideRows, 0);

  // Loading (a hub restarting) from the wide rows' sums.
  const again = samples(r, 500);
  const reference = new WideWindow(EDGES * 2);
  for (const s of again) reference.add(s.t, s.edge, s.side, s.values);
  const states = [];
  for (let row = 0; row < EDGES * 2; row++) if (reference.counts[row]! > 0) states.push({ edge: row >> 1, side: row & 1, values: reference.values.subarray(row * WIDTH, (row + 1) * WIDTH), rows: reference.counts[row]!, lastT: reference.lastT[row]! });
  const loaded = new SlidingWindow(60_000);
  loaded.load(0, states, []);
  sameRows(loaded, reference, 'loaded');
  // Wide rows took WIDTH doubles, a count and a time per row of its capacity.
  assert.ok(loaded.bytes < loaded.capacity * (WIDTH * 8 + 12) * 0.7, `${loaded.bytes} bytes for ${loaded.capacity} rows: well under wide rows'`);

  // The graph, its sides, and the diff read from narrow rows are the wide rows' to the byte.
  for (const view of ['workload', 'pod']) {
    const index = new ViewIndex(parseView(view));
    const json = (fine: FineTotals) => Buffer.concat(graphJson(groupTotals(index, fine), { from: 0, to: 60_000, sides: true })).toString('utf8');
    const got = json(fineOf(loaded));
    assert.equal(got, json(fineOfWide(reference)), `graph view=${view}`);
    assert.match(got, /"requests_by_status"/, 'some edges carry requests');
    const d = (fine: FineTotals) => JSON.stringify(diffTotals(groupTotals(index, fine), groupTotals(index, fineOf(narrow)), 60, 60, 1000));
    assert.equal(d(fineOf(loaded)), d(fineOfWide(reference)), `diff view=${view}`);
  }
  assert.deepEqual(edgeTotalsOf(fineOf(loaded)), edgeTotalsOf(fineOfWide(reference)), 'edge totals (breakdown, history)');
});

test('a narrow row reads as a row whose request columns are 0', () => {
  const w = new SlidingWindow(1000);
  w.load(0, [], []);
  const plain = newSide();
  plain[C.opened] = 2;
  const next = newSide();
  // The row after it, where a narrow row's request columns would be read from by mistake.
  for (let i = 0; i < WIDTH; i++) next[i] = i + 1;
  w.add(1, 0, 0, plain);
  w.add(1, 0, 1, next);
  const r = w.row(0, 0)!;
  assert.ok(isNarrow(r.array));
  assert.equal(usedWidth(r.array, r.at), NARROW);
  assert.equal(requestsAt(r.array, r.at), 0);
  assert.deepEqual(requestsByStatus(r.array, r.at), {});
  assert.equal(quantileOfRows(0.5, 'request', r.array, r.at, r.array, r.at), null);
  assert.equal(requestSide(r.array, r.at, r.array, r.at), -1);
  const side = sideCopy(r.array, r.at);
  assert.equal(side[C.opened], 2);
  assert.deepEqual(Array.from(side.subarray(NARROW)), new Array<number>(WIDTH - NARROW).fill(0));
  const s = w.row(0, 1)!;
  assert.equal(isNarrow(s.array), false, 'a row with requests is wide');
  assert.equal(requestsAt(s.array, s.at), C.requests + 1);
  assert.equal(Object.keys(requestsByStatus(s.array, s.at)).length, REQUEST_STATUSES.length);
});
