// Joined samples as columns: per row (one fine edge side over one interval) its interval end and
// length, edge and side, and its WIDTH counters. The join adds into it by row index, the store
// appends it a chunk at a time and the live windows sum it, with no object per row (a
// contribution object and a Float64Array view per row cost ~2 µs of allocation and garbage
// collection per record at 200,000 records an interval).
//
// The counters are kept in segments of SEGMENT_ROWS rows (1.5 MB each), not in one array: one
// array for a whole interval (150 MB at 200,000 rows) is fresh memory at every step, and touching
// its pages the first time costs more than the counting (~3 µs per 4 KiB page fault on a VM);
// segments of this size come back from the allocator already mapped.
import { WIDTH, wideRowHasRequests } from './counters.js';
import type { SideIndex } from './edges.js';

/** One row as an object (what listeners of a finalized interval read: see SampleBlock.rows). */
export interface SampleRowView {
  t: number;
  durMs: number;
  edge: number;
  side: SideIndex;
  values: Float64Array;
}

const SEGMENT_SHIFT = 11;
/** Rows per segment of counters (a power of two). */
export const SEGMENT_ROWS = 1 << SEGMENT_SHIFT;
const SEGMENT_MASK = SEGMENT_ROWS - 1;

export class SampleBlock {
  t: Float64Array;
  dur: Int32Array;
  edge: Int32Array;
  side: Int8Array;
  /** WIDTH counters per row: row r in segments[r >> 11] at (r & 2047) * WIDTH (see valuesOf, offsetOf). */
  readonly segments: Float64Array[] = [];
  size = 0;
  private views: SampleRowView[] | undefined;

  constructor(capacity = 1024) {
    const n = Math.max(1, capacity);
    this.t = new Float64Array(n);
    this.dur = new Int32Array(n);
    this.edge = new Int32Array(n);
    this.side = new Int8Array(n);
  }

  /** A block holding these rows (their counters copied). */
  static from(rows: readonly { t: number; durMs: number; edge: number; side: number; values: ArrayLike<number> }[]): SampleBlock {
    const b = new SampleBlock(rows.length);
    for (const r of rows) {
      const i = b.push(r.t, r.durMs, r.edge, r.side);
      const values = b.valuesOf(i);
      const at = b.offsetOf(i);
      const v = r.values;
      for (let k = 0; k < WIDTH; k++) values[at + k] = v[k] ?? 0;
    }
    return b;
  }

  /** The array that holds row i's counters. */
  valuesOf(i: number): Float64Array {
    return this.segments[i >> SEGMENT_SHIFT]!;
  }

  /** Where row i's counters start in valuesOf(i). */
  offsetOf(i: number): number {
    return (i & SEGMENT_MASK) * WIDTH;
  }

  /** Adds a row of zero counters; returns its index. */
  push(t: number, durMs: number, edge: number, side: number): number {
    const i = this.size;
    if (i === this.edge.length) this.grow(i * 2);
    if ((i & SEGMENT_MASK) === 0) this.segments.push(new Float64Array(SEGMENT_ROWS * WIDTH));
    this.t[i] = t;
    this.dur[i] = durMs;
    this.edge[i] = edge;
    this.side[i] = side;
    this.size = i + 1;
    this.views = undefined;
    return i;
  }

  private grow(n: number): void {
    const t = new Float64Array(n);
    t.set(this.t);
    const dur = new Int32Array(n);
    dur.set(this.dur);
    const edge = new Int32Array(n);
    edge.set(this.edge);
    const side = new Int8Array(n);
    side.set(this.side);
    this.t = t;
    this.dur = dur;
    this.edge = edge;
    this.side = side;
  }

  /** True when row i counted requests (its request columns may be non-zero; see counters.ts usedWidth). */
  hasRequests(i: number): boolean {
    return wideRowHasRequests(this.valuesOf(i), this.offsetOf(i));
  }

  /** The rows as objects whose values are views into this block (made once, when asked). */
  rows(): readonly SampleRowView[] {
    if (this.views) return this.views;
    const out: SampleRowView[] = new Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const at = this.offsetOf(i);
      out[i] = { t: this.t[i]!, durMs: this.dur[i]!, edge: this.edge[i]!, side: this.side[i]! as SideIndex, values: this.valuesOf(i).subarray(at, at + WIDTH) };
    }
    return (this.views = out);
  }

  /** The rows for which `keep` holds, with their times mapped by `t` (counters copied). */
  select(keep: (t: number) => boolean, t: (t: number) => number = (x) => x): SampleBlock {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (keep(this.t[i]!)) n++;
    const out = new SampleBlock(n);
    for (let i = 0; i < this.size; i++) {
      if (!keep(this.t[i]!)) continue;
      const j = out.push(t(this.t[i]!), this.dur[i]!, this.edge[i]!, this.side[i]!);
      const at = this.offsetOf(i);
      out.valuesOf(j).set(this.valuesOf(i).subarray(at, at + WIDTH), out.offsetOf(j));
    }
    return out;
  }
}
