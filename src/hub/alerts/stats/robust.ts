// The robust band of an edge's own history. Each point of history is the metric over one window
// (5 minutes by default), kept every so often (15 minutes); the band is
//
//   upper = median + max(k x 1.4826 x MAD, minIncrease x median, minDelta)
//
// MAD is the median of the points' absolute deviations from their median; times 1.4826 it estimates
// a standard deviation for normal data, but unlike one, a few wild points (an earlier incident, a
// deploy) barely move it. A metric as steady as its MAD is zero (a quiet edge with no resets)
// still needs minIncrease and minDelta above its median before it counts as anomalous: steady is
// not fragile. Only the upper side is judged: lower latency or fewer resets is nobody's problem.

/** MAD to a standard deviation's scale, for normally distributed data. */
export const MAD_SCALE = 1.4826;

export interface BandRule {
  mads: number;
  minIncrease: number;
  minDelta: number;
}

/** The median of the first n values of `values` (reorders `scratch`, which must hold n). */
export function median(values: ArrayLike<number>, n: number, scratch: Float64Array): number {
  if (n <= 0) return NaN;
  for (let i = 0; i < n; i++) scratch[i] = values[i]!;
  const s = scratch.subarray(0, n).sort();
  return n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Median and MAD of the first n values. */
export function medianAndMad(values: ArrayLike<number>, n: number, scratch: Float64Array): { median: number; mad: number } {
  const m = median(values, n, scratch);
  for (let i = 0; i < n; i++) scratch[i] = Math.abs(values[i]! - m);
  const s = scratch.subarray(0, n).sort();
  const mad = n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median: m, mad };
}

export function upperBand(median: number, mad: number, rule: BandRule): number {
  return median + Math.max(rule.mads * MAD_SCALE * mad, rule.minIncrease * median, rule.minDelta);
}
