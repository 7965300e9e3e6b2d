// How a side's counters are stored: the counters that are there in most rows as columns (counts,
// bytes, failures, resets, histogram sums and counts), and the histograms' buckets as sparse pairs
// in a table beside (only the buckets that were hit: two or three of 31 in a typical row). A window
// sums fewer values, and writing a row costs 17 columns instead of 48.
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import { C, COLUMNS, SCALAR_COLUMNS } from '../graph/counters.js';

/** Side layout indices of the columns kept in the row. */
export const DENSE: readonly number[] = [
  ...SCALAR_COLUMNS.map((_, i) => i),
  C.connect + CONNECT_BUCKETS.length,
  C.connect + CONNECT_BUCKETS.length + 1,
  C.rtt + RTT_BUCKETS.length,
  C.rtt + RTT_BUCKETS.length + 1,
];
export const DENSE_NAMES: readonly string[] = DENSE.map((i) => COLUMNS[i]!);

/** Bucket numbers in the pairs: connect's 0-15, then RTT's. */
export const HIST_BUCKETS = CONNECT_BUCKETS.length + RTT_BUCKETS.length;

/** The Side layout index of a stored bucket number. */
export function bucketColumn(b: number): number {
  return b < CONNECT_BUCKETS.length ? C.connect + b : C.rtt + (b - CONNECT_BUCKETS.length);
}

/** The stored bucket number of a Side layout index, or -1 when it is not a bucket. */
export function columnBucket(i: number): number {
  if (i >= C.connect && i < C.connect + CONNECT_BUCKETS.length) return i - C.connect;
  if (i >= C.rtt && i < C.rtt + RTT_BUCKETS.length) return CONNECT_BUCKETS.length + (i - C.rtt);
  return -1;
}

export const BUCKET_COLUMNS: readonly number[] = Array.from({ length: HIST_BUCKETS }, (_, b) => bucketColumn(b));

export const denseDefinition = DENSE_NAMES.map((c) => `${c} DOUBLE`).join(', ');
/** Sums of the row columns over a group; the gauge is its latest reading. */
export const denseSums = DENSE.map((i) => (i === C.active ? `arg_max(${COLUMNS[i]}, t) AS ${COLUMNS[i]}` : `sum(${COLUMNS[i]}) AS ${COLUMNS[i]}`)).join(', ');
export const densePlain = DENSE_NAMES.join(', ');
/** The buckets as the old per-bucket columns (connect_b0...), from the pairs of a group: what the Parquet files hold. */
export const bucketPivot = (alias: string): string => BUCKET_COLUMNS.map((col, b) => `coalesce(sum(${alias}.n) FILTER (WHERE ${alias}.b = ${b}), 0) AS ${COLUMNS[col]}`).join(', ');
