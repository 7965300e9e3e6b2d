// Each slot's history of a few metrics: a ring of points per metric, with the median and MAD of
// the points cached (recomputed only when a point is added, so judging a value costs a compare).
import { medianAndMad } from './robust.js';

export class Baselines {
  private points: Float32Array;
  /** Per slot and metric: points held (up to `size`), and where the next one goes. */
  private counts: Uint16Array;
  private next: Uint16Array;
  /** Per slot and metric: median, MAD. */
  private stats: Float32Array;
  private capacity: number;
  private readonly scratch: Float64Array;

  constructor(
    readonly metrics: number,
    /** Points kept per metric. */
    readonly size: number,
    initialSlots = 1024,
  ) {
    this.capacity = Math.max(1, initialSlots);
    this.points = new Float32Array(this.capacity * metrics * size);
    this.counts = new Uint16Array(this.capacity * metrics);
    this.next = new Uint16Array(this.capacity * metrics);
    this.stats = new Float32Array(this.capacity * metrics * 2).fill(NaN);
    this.scratch = new Float64Array(size);
  }

  get bytesPerSlot(): number {
    return this.metrics * (this.size * 4 + 2 + 2 + 8);
  }

  ensure(n: number): void {
    if (n <= this.capacity) return;
    let cap = this.capacity;
    while (cap < n) cap *= 2;
    const grow = <T extends Float32Array | Uint16Array>(a: T, per: number, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(cap * per);
      if (fill !== undefined) b.fill(fill);
      b.set(a);
      return b;
    };
    this.points = grow(this.points, this.metrics * this.size);
    this.counts = grow(this.counts, this.metrics);
    this.next = grow(this.next, this.metrics);
    this.stats = grow(this.stats, this.metrics * 2, NaN);
    this.capacity = cap;
  }

  add(slot: number, metric: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const m = slot * this.metrics + metric;
    const base = m * this.size;
    this.points[base + this.next[m]!] = value;
    this.next[m] = (this.next[m]! + 1) % this.size;
    if (this.counts[m]! < this.size) this.counts[m]!++;
    const n = this.counts[m]!;
    const { median, mad } = medianAndMad(this.points.subarray(base, base + n), n, this.scratch);
    this.stats[m * 2] = median;
    this.stats[m * 2 + 1] = mad;
  }

  count(slot: number, metric: number): number {
    return this.counts[slot * this.metrics + metric]!;
  }

  median(slot: number, metric: number): number {
    return this.stats[(slot * this.metrics + metric) * 2]!;
  }

  mad(slot: number, metric: number): number {
    return this.stats[(slot * this.metrics + metric) * 2 + 1]!;
  }

  /** The points of a slot's metric, oldest first. */
  history(slot: number, metric: number): number[] {
    const m = slot * this.metrics + metric;
    const n = this.counts[m]!;
    const base = m * this.size;
    const out: number[] = [];
    const start = n < this.size ? 0 : this.next[m]!;
    for (let i = 0; i < n; i++) out.push(this.points[base + ((start + i) % this.size)]!);
    return out;
  }

  clear(slot: number): void {
    const m = slot * this.metrics;
    this.points.fill(0, m * this.size, (m + this.metrics) * this.size);
    this.counts.fill(0, m, m + this.metrics);
    this.next.fill(0, m, m + this.metrics);
    this.stats.fill(NaN, m * 2, (m + this.metrics) * 2);
  }

  /** Slots [0, n) as bytes, and back (a different shape is refused: the history starts again). */
  snapshot(n: number): Uint8Array {
    // Float32 parts first: each typed array then starts aligned to its element size.
    const parts = [this.points.subarray(0, n * this.metrics * this.size), this.stats.subarray(0, n * this.metrics * 2), this.counts.subarray(0, n * this.metrics), this.next.subarray(0, n * this.metrics)];
    const bytes = parts.reduce((s, p) => s + p.byteLength, 0);
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const p of parts) {
      out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
      at += p.byteLength;
    }
    return out;
  }

  restore(bytes: Uint8Array, n: number): boolean {
    const sizes = [n * this.metrics * this.size * 4, n * this.metrics * 2 * 4, n * this.metrics * 2, n * this.metrics * 2];
    if (bytes.byteLength !== sizes.reduce((a, b) => a + b, 0)) return false;
    this.ensure(n);
    // A copy at offset 0 of its own buffer (Buffer#slice would share a pooled one).
    const copy = new Uint8Array(bytes);
    let at = 0;
    this.points.set(new Float32Array(copy.buffer, at, sizes[0]! / 4));
    at += sizes[0]!;
    this.stats.set(new Float32Array(copy.buffer, at, sizes[1]! / 4));
    at += sizes[1]!;
    this.counts.set(new Uint16Array(copy.buffer, at, sizes[2]! / 2));
    at += sizes[2]!;
    this.next.set(new Uint16Array(copy.buffer, at, sizes[3]! / 2));
    return true;
  }
}
