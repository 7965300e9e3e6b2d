// One sliding window of the live graph: per fine edge and side, the sum of every sample written
// with start < t (no end: the newest samples are in), the number of those samples, and the latest
// reading of the gauge. Samples are added as they are written and subtracted as the start moves
// past them (read back from the store), so that the window's totals are always at hand.
import { C, WIDTH, usedWidth } from '../graph/counters.js';

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

export class SlidingWindow {
  /** Samples with t > start are in (NaN until loaded). */
  start = NaN;
  /** Bumped on every change: a reader that saw it move while it awaited must read again. */
  version = 0;
  private values = new Float64Array(0);
  private counts = new Int32Array(0);
  private lastT = new Float64Array(0);
  readonly timeline = new Timeline();

  constructor(readonly lengthMs: number) {}

  get ready(): boolean {
    return !Number.isNaN(this.start);
  }

  /** Rows (edge * 2 + side) the window has room for. */
  get capacity(): number {
    return this.counts.length;
  }

  private ensure(row: number): void {
    if (row < this.counts.length) return;
    const rows = Math.max(row + 1, this.counts.length * 2, 4096);
    const values = new Float64Array(rows * WIDTH);
    values.set(this.values);
    const counts = new Int32Array(rows);
    counts.set(this.counts);
    const lastT = new Float64Array(rows);
    lastT.set(this.lastT);
    this.values = values;
    this.counts = counts;
    this.lastT = lastT;
  }

  /** Starts the window at `start` with what the store held after it. */
  load(start: number, states: Iterable<{ edge: number; side: number; values: Float64Array; rows: number; lastT: number }>, times: Iterable<[number, number]>): void {
    for (const s of states) {
      const row = s.edge * 2 + s.side;
      this.ensure(row);
      this.values.set(s.values.subarray(0, WIDTH), row * WIDTH);
      this.counts[row] = s.rows;
      this.lastT[row] = s.lastT;
    }
    for (const [t, n] of times) this.timeline.add(t, n);
    this.start = start;
    this.version++;
  }

  /** A sample written: in when after the start. */
  add(t: number, edge: number, side: number, v: ArrayLike<number>): void {
    if (!(t > this.start)) return;
    const row = edge * 2 + side;
    this.ensure(row);
    const at = row * WIDTH;
    const values = this.values;
    if (this.counts[row] === 0) {
      for (let i = 0; i < WIDTH; i++) values[at + i] = v[i]!;
      this.lastT[row] = t;
    } else {
      const active = values[at + C.active]!;
      for (let i = 0, n = usedWidth(v); i < n; i++) values[at + i]! += v[i]!;
      // The gauge is the latest reading, not a sum.
      if (t >= this.lastT[row]!) {
        values[at + C.active] = v[C.active]!;
        this.lastT[row] = t;
      } else values[at + C.active] = active;
    }
    this.counts[row]!++;
    this.timeline.add(t);
    this.version++;
  }

  /** A sample the start moved past (read back from the store). */
  remove(edge: number, side: number, v: ArrayLike<number>): void {
    const row = edge * 2 + side;
    if (row >= this.counts.length || this.counts[row]! <= 0) return;
    const at = row * WIDTH;
    if (--this.counts[row]! === 0) {
      // Nothing left: exactly zero (no rounding left over from sums and differences).
      this.values.fill(0, at, at + WIDTH);
      this.lastT[row] = 0;
    } else {
      const active = this.values[at + C.active]!;
      for (let i = 0, n = usedWidth(v); i < n; i++) this.values[at + i]! -= v[i]!;
      this.values[at + C.active] = active;
    }
  }

  /** A bucket's count of a sample the start moved past (before its row: see remove). */
  removeBucket(edge: number, side: number, column: number, n: number): void {
    const row = edge * 2 + side;
    if (row >= this.counts.length || this.counts[row]! <= 0) return;
    this.values[row * WIDTH + column]! -= n;
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

  /** Visits rows with samples: edge, side, the window's array and the row's offset. */
  forEach(visit: (edge: number, side: number, values: Float64Array, at: number, rows: number) => void): void {
    const counts = this.counts;
    for (let row = 0; row < counts.length; row++) if (counts[row]! > 0) visit(row >> 1, row & 1, this.values, row * WIDTH, counts[row]!);
  }

  /** One row: its offset in `array`, or -1 when it has no sample. */
  row(edge: number, side: number): { array: Float64Array; at: number; rows: number } | undefined {
    const row = edge * 2 + side;
    if (row >= this.counts.length || this.counts[row]! <= 0) return undefined;
    return { array: this.values, at: row * WIDTH, rows: this.counts[row]! };
  }

  /** Largest edge id with room (rows / 2). */
  get edges(): number {
    return this.counts.length >> 1;
  }

  rowCount(edge: number, side: number): number {
    const row = edge * 2 + side;
    return row < this.counts.length ? this.counts[row]! : 0;
  }

  array(): Float64Array {
    return this.values;
  }
}
