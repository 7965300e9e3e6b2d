// Fixed-bucket histograms for per-edge distributions (no labels, no registry: the edge owns them).
import type { Distribution } from '../model/distribution.js';
import { formatValue, sample } from './exposition.js';

export class Histogram implements Distribution {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]! += 1;
    this.sum += v;
    this.count++;
  }

  /** Adds another histogram of the same layout. */
  add(other: Distribution): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.sum += other.sum;
    this.count += other.count;
  }
}

/** The `le` label texts of a bucket layout (computed once per layout). */
export function leLabels(bounds: readonly number[]): string[] {
  return bounds.map(formatValue);
}

/** Appends _bucket (cumulative, with le), _sum and _count lines. `labels` must not be empty. */
export function renderHistogram(out: string[], name: string, labels: string, d: Distribution, le: readonly string[]): void {
  let cumulative = 0;
  for (let i = 0; i < d.bounds.length; i++) {
    cumulative += d.counts[i]!;
    out.push(`${name}_bucket{${labels},le="${le[i]}"} ${cumulative}`);
  }
  out.push(`${name}_bucket{${labels},le="+Inf"} ${d.count}`);
  sample(out, `${name}_sum`, labels, d.sum);
  sample(out, `${name}_count`, labels, d.count);
}
