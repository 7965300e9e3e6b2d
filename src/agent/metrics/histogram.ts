// Fixed-bucket histograms for per-edge distributions (no labels, no registry: the edge owns them).
import { formatValue, sample } from './exposition.js';

export class Histogram {
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

  /** Appends _bucket (cumulative, with le), _sum and _count lines. `labels` must not be empty. */
  render(out: string[], name: string, labels: string, leLabels: readonly string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out.push(`${name}_bucket{${labels},le="${leLabels[i]}"} ${cumulative}`);
    }
    out.push(`${name}_bucket{${labels},le="+Inf"} ${this.count}`);
    sample(out, `${name}_sum`, labels, this.sum);
    sample(out, `${name}_count`, labels, this.count);
  }
}

/** The `le` label texts of a bucket layout (computed once per layout). */
export function leLabels(bounds: readonly number[]): string[] {
  return bounds.map(formatValue);
}

/** Estimates a quantile the way PromQL's histogram_quantile does (linear within the bucket). */
export function histogramQuantile(q: number, bounds: readonly number[], counts: ArrayLike<number>, total: number): number {
  if (total === 0) return NaN;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i]!;
    if (cumulative + c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + ((bounds[i]! - lower) * (rank - cumulative)) / (c || 1);
    }
    cumulative += c;
  }
  return bounds[bounds.length - 1]!;
}
