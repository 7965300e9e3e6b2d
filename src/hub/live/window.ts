// One sliding window of the live graph: per fine edge and side, the sum of every sample written
// with start < t (no end: the newest samples are in), the number of those samples, and the latest
// reading of the gauge. Samples are added as they are written and subtracted as the start moves
// past them (read back from the store), so that the window's totals are always at hand.
//
// A row (edge * 2 + side) is narrow (the NARROW connection columns, see counters.ts) until a
// sample with request columns comes; then it moves to a slot of WIDTH columns in a second array,
// until its last sample leaves the window. Most edges carry no requests: at 100,000 edges this
// halves the window's memory, and the sums are the same operations on the same columns as a
// window of wide rows (every request column of a narrow row is exactly 0 there).
import { C, NARROW, WIDTH, narrowRows, usedWidth } from '../graph/counters.js';
import { SampleBlock } from '../graph/sample-block.js';

/** Sample times in the window and how many rows each holds (to size a query's adjustment). */
class Timeline {
  private readonly times: number[] = [];
  private readonly rows: number[] = [];
  private head = 0;

  add(t: number, n = 1): void {
    let i = this.times.length;
    // Mostly in order: walk back over the few later ones.
    while (i > this.head && this.times[i - 1]! > t) i--;
    if (i > this.head && this.times[i - 1] === t) this.rows[i - 1]! += n;
    else {
      this.times.splice(i, 0, t);
      this.rows.splice(i, 0, n);
    }
  }

  /** Rows with from < t <= to. */
  rowsBetween(from: number, to: number): number {
    let n = 0;
    for (let i = this.head; i < this.times.length; i++) {
      const t = this.times[i]!;
      if (t > to) break;
      if (t > from) n += this.rows[i]!;
    }
    return n;
  }

  /** The latest sample time (-Infinity when empty). */
  get last(): number {
    return this.times.length > this.head ? this.times[this.times.length - 1]! : -Infinity;
  }

  /** Forgets times <= t. */
  dropUpTo(t: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= t) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.rows.splice(0, this.head);
      this.head = 0;
    }
  }

  get total(): number {
    let n = 0;
    for (let i = this.head; i < this.rows.length; i++) n += this.rows[i]!;
    return n;
  }
}

/** True when a sample has a non-zero request column (it needs a wide row). */
function hasRequestColumns(v: ArrayLike<number>, at = 0): boolean {
  for (let i = NARROW; i < WIDTH; i++) if (v[at + i] !== 0) return true;
  return false;
}

export class SlidingWindow {
  /** Samples with t > start are in (NaN until loaded). */
  start = NaN;
  /** Bumped on every change: a reader that saw it move while it awaited must read again. */
  version = 0;
  /** The rows without request columns, NARROW columns each (at row * NARROW). */
  private narrow = narrowRows(0);
  private counts = new Int32Array(0);
  private lastT = new Float64Array(0);
  /** Per row: 1 + its slot in `wide` when it has request columns, 0 when it is narrow. */
  private slotOf = new Int32Array(0);
  /** The rows with request columns, WIDTH columns each (at slot * WIDTH). */
  private wide = new Float64Array(0);
  private slotsUsed = 0;
  private readonly freeSlots: number[] = [];
  readonly timeline = new Timeline();

  constructor(readonly lengthMs: number) {}

  get ready(): boolean {
    return !Number.isNaN(this.start);
  }

  /** Rows (edge * 2 + side) the window has room for. */
  get capacity(): number {
    return this.counts.length;
  }

  /** Rows held wide (with request columns). */
  get wideRows(): number {
    return this.slotsUsed - this.freeSlots.length;
  }

  /** Bytes of the typed arrays the window holds (for the hub's metrics and the benchmarks). */
  get bytes(): number {
    return this.narrow.byteLength + this.counts.byteLength + this.lastT.byteLength + this.slotOf.byteLength + this.wide.byteLength;
  }

  /** Room for rows up to `row` (by half again as many when it must grow: edge ids are dense). */
  private ensure(row: number): void {
    if (row < this.counts.length) return;
    const rows = Math.max(row + 1, Math.ceil(this.counts.length * 1.5), 4096);
    const narrow = narrowRows(rows);
    narrow.set(this.narrow);
    const counts = new Int32Array(rows);
    counts.set(this.counts);
    const lastT = new Float64Array(rows);
    lastT.set(this.lastT);
    const slotOf = new Int32Array(rows);
    slotOf.set(this.slotOf);
    this.narrow = narrow;
    this.counts = counts;
    this.lastT = lastT;
    this.slotOf = slotOf;
  }

  /** The array that holds a row (narrow or wide: see rowAt). */
  rowArray(row: number): Float64Array {
    return this.slotOf[row]! > 0 ? this.wide : this.narrow;
  }

  /** Where a row starts in its rowArray. */
  rowAt(row: number): number {
    const slot = this.slotOf[row]!;
    return slot > 0 ? (slot - 1) * WIDTH : row * NARROW;
  }

  /** The row's offset in `wide`, moving it there (request columns 0) when it is narrow. */
  private widen(row: number): number {
    const slot = this.slotOf[row]!;
    if (slot > 0) return (slot - 1) * WIDTH;
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.slotsUsed++;
      if (this.slotsUsed * WIDTH > this.wide.length) {
        const wide = new Float64Array(Math.max(256, Math.ceil(this.slotsUsed * 1.5)) * WIDTH);
        wide.set(this.wide);
        this.wide = wide;
      }
    }
    const at = s * WIDTH;
    const from = row * NARROW;
    this.wide.set(this.narrow.subarray(from, from + NARROW), at);
    this.narrow.fill(0, from, from + NARROW);
    this.slotOf[row] = s + 1;
    return at;
  }

  /** Zeroes a row with no sample left (a wide one gives its slot back). */
  private clear(row: number): void {
    const slot = this.slotOf[row]!;
    if (slot > 0) {
      const at = (slot - 1) * WIDTH;
      this.wide.fill(0, at, at + WIDTH);
      this.freeSlots.push(slot - 1);
      this.slotOf[row] = 0;
    } else this.narrow.fill(0, row * NARROW, (row + 1) * NARROW);
    this.lastT[row] = 0;
  }

  /** Starts the window at `start` with what the store held after it. */
  load(start: number, states: Iterable<{ edge: number; side: number; values: Float64Array; rows: number; lastT: number }>, times: Iterable<[number, number]>): void {
    const list = [...states];
    let last = -1;
    for (const s of list) last = Math.max(last, s.edge * 2 + s.side);
    // Sized once to the rows there are (growing row by row would leave up to a third unused).
    if (last >= 0) this.ensure(last);
    for (const s of list) {
      const row = s.edge * 2 + s.side;
      this.ensure(row);
      if (this.slotOf[row]! > 0 || hasRequestColumns(s.values)) {
        const at = this.widen(row); // before reading this.wide: widening may replace it
        this.wide.set(s.values.subarray(0, WIDTH), at);
      } else this.narrow.set(s.values.subarray(0, NARROW), row * NARROW);
      this.counts[row] = s.rows;
      this.lastT[row] = s.lastT;
    }
    for (const [t, n] of times) this.timeline.add(t, n);
    this.start = start;
    this.version++;
  }

  /** A sample written: in when after the start. */
  add(t: number, edge: number, side: number, v: ArrayLike<number>): void {
    if (!this.sum(t, edge, side, v)) return;
    this.timeline.add(t);
    this.version++;
  }

  /** Samples written (one write's rows): as add, with the timeline counted once per time. */
  addRows(rows: readonly { t: number; edge: number; side: number; values: ArrayLike<number> }[]): void {
    this.addBlock(SampleBlock.from(rows.map((r) => ({ ...r, durMs: 0 }))));
  }

  /** A write's samples as columns: as addRows, without an object per row. */
  addBlock(b: SampleBlock): void {
    let t = NaN;
    let n = 0;
    let last = -1;
    for (let i = 0; i < b.size; i++) last = Math.max(last, b.edge[i]! * 2 + b.side[i]!);
    if (last >= 0) this.ensure(last);
    for (let i = 0; i < b.size; i++) {
      const rt = b.t[i]!;
      // A block's rows are wide rows (usedWidth without its look-up of narrow arrays).
      if (!this.sum(rt, b.edge[i]!, b.side[i]!, b.valuesOf(i), b.offsetOf(i), b.hasRequests(i) ? WIDTH : NARROW)) continue;
      if (rt !== t) {
        if (n) this.timeline.add(t, n);
        t = rt;
        n = 0;
      }
      n++;
    }
    if (n) this.timeline.add(t, n);
    this.version++;
  }

  /** Adds a sample's counters (the row of `v` at `at`) into its row; false when it is not after the start. */
  private sum(t: number, edge: number, side: number, v: ArrayLike<number>, at = 0, used = usedWidth(v, at)): boolean {
    if (!(t > this.start)) return false;
    const row = edge * 2 + side;
    this.ensure(row);
    if (this.counts[row] === 0) {
      if (hasRequestColumns(v, at)) {
        const to = this.widen(row);
        for (let i = 0; i < WIDTH; i++) this.wide[to + i] = v[at + i]!;
      } else {
        const to = row * NARROW;
        for (let i = 0; i < NARROW; i++) this.narrow[to + i] = v[at + i]!;
      }
      this.lastT[row] = t;
    } else {
      const n = used;
      const to = n > NARROW ? this.widen(row) : this.rowAt(row);
      const values = this.rowArray(row);
      const active = values[to + C.active]!;
      for (let i = 0; i < n; i++) values[to + i]! += v[at + i]!;
      // The gauge is the latest reading, not a sum.
      if (t >= this.lastT[row]!) {
        values[to + C.active] = v[at + C.active]!;
        this.lastT[row] = t;
      } else values[to + C.active] = active;
    }
    this.counts[row]!++;
    return true;
  }

  /** A sample the start moved past (read back from the store). */
  remove(edge: number, side: number, v: ArrayLike<number>): void {
    const row = edge * 2 + side;
    if (row >= this.counts.length || this.counts[row]! <= 0) return;
    // Nothing left: exactly zero (no rounding left over from sums and differences).
    if (--this.counts[row]! === 0) return this.clear(row);
    const n = usedWidth(v);
    const at = n > NARROW ? this.widen(row) : this.rowAt(row);
    const values = this.rowArray(row);
    const active = values[at + C.active]!;
    for (let i = 0; i < n; i++) values[at + i]! -= v[i]!;
    values[at + C.active] = active;
  }

  /** A bucket's count of a sample the start moved past (before its row: see remove). */
  removeBucket(edge: number, side: number, column: number, n: number): void {
    const row = edge * 2 + side;
    if (row >= this.counts.length || this.counts[row]! <= 0) return;
    const at = column >= NARROW ? this.widen(row) : this.rowAt(row);
    this.rowArray(row)[at + column]! -= n;
  }

  /** Moves the start (after the samples up to it were removed). */
  advance(start: number): void {
    this.start = start;
    this.timeline.dropUpTo(start);
    this.version++;
  }

  /** Samples held. */
  get rows(): number {
    return this.timeline.total;
  }

  /** One row: its array (narrow or wide: read it with counters.ts's helpers), offset and sample count; undefined when it has no sample. */
  row(edge: number, side: number): { array: Float64Array; at: number; rows: number } | undefined {
    const row = edge * 2 + side;
    if (row >= this.counts.length || this.counts[row]! <= 0) return undefined;
    return { array: this.rowArray(row), at: this.rowAt(row), rows: this.counts[row]! };
  }

  /** Largest edge id with room (rows / 2). */
  get edges(): number {
    return this.counts.length >> 1;
  }

  rowCount(edge: number, side: number): number {
    const row = edge * 2 + side;
    return row < this.counts.length ? this.counts[row]! : 0;
  }
}
