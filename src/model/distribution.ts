// Fixed-bucket distributions (latencies, durations): the bucket layouts every component shares, so
// that the agent's histograms, the wire and the hub's history agree on bounds.

/** A read-only view of a histogram: per-bucket (not cumulative) counts, the last bucket open above. */
export interface Distribution {
  readonly bounds: readonly number[];
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; observations above the last bound are only in `count`. */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

/** 1-2.5-5 series: 100 µs to 10 s. */
export const CONNECT_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** 50 µs to 2.5 s. */
export const RTT_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** 1 ms to 4 h. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400];
/** 100 µs to 5 s. */
export const DNS_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Estimates a quantile the way PromQL's histogram_quantile does (linear within the bucket). NaN when empty. */
export function quantile(q: number, d: Distribution): number {
  const { bounds, counts, count } = d;
  if (count === 0) return NaN;
  const rank = q * count;
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
