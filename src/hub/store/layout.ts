// How a side's counters are stored: the counters that are there in most rows as columns (counts,
// bytes, failures, resets, histogram sums and counts), and the histograms' buckets as sparse pairs
// in a table beside (only the buckets that were hit: two or three of 31 in a typical row). A window
// sums fewer values, and writing a row costs 17 columns instead of 48. Requests (when the agents
// capture them) add four columns (count, errors, the duration's sum and count) and their duration
// buckets and status keys as pairs too: most rows carry one or two statuses of 24.
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import { REQUEST_BUCKETS } from '../../model/requests.js';
import { C, COLUMNS, REQUEST_STATUSES, SCALAR_COLUMNS } from '../graph/counters.js';

/** Side layout indices of the columns kept in the row (new ones only ever appended: see addedDenseColumns). */
export const DENSE: readonly number[] = [
  ...SCALAR_COLUMNS.map((_, i) => i),
  C.connect + CONNECT_BUCKETS.length,
  C.connect + CONNECT_BUCKETS.length + 1,
  C.rtt + RTT_BUCKETS.length,
  C.rtt + RTT_BUCKETS.length + 1,
  C.requests,
  C.requestErrors,
  C.request + REQUEST_BUCKETS.length,
  C.request + REQUEST_BUCKETS.length + 1,
];
export const DENSE_NAMES: readonly string[] = DENSE.map((i) => COLUMNS[i]!);

/** Dense columns a store made before requests were stored may lack (added with ALTER TABLE). */
export const REQUEST_DENSE_NAMES: readonly string[] = DENSE_NAMES.slice(DENSE_NAMES.indexOf('requests'));

/**
 * Side layout indices of the sparse columns, by their number in the pairs (b): connect's buckets
 * 0-15, RTT's 16-30, then the request duration's and the request status keys'. Only appended to.
 */
export const BUCKET_COLUMNS: readonly number[] = [
  ...CONNECT_BUCKETS.map((_, i) => C.connect + i),
  ...RTT_BUCKETS.map((_, i) => C.rtt + i),
  ...REQUEST_BUCKETS.map((_, i) => C.request + i),
  ...REQUEST_STATUSES.map((_, i) => C.statuses + i),
];

/** Bucket numbers in the pairs. */
export const HIST_BUCKETS = BUCKET_COLUMNS.length;

const bucketOf = new Map(BUCKET_COLUMNS.map((col, b) => [col, b]));

/** The Side layout index of a stored bucket number. */
export function bucketColumn(b: number): number {
  return BUCKET_COLUMNS[b]!;
}

/** The stored bucket number of a Side layout index, or -1 when it is not stored as pairs. */
export function columnBucket(i: number): number {
  return bucketOf.get(i) ?? -1;
}

export const denseDefinition = DENSE_NAMES.map((c) => `${c} DOUBLE`).join(', ');
/** The sum of a row column (a Side layout index) over a group; the gauge's is its latest reading. */
/** A row column over a group: the gauge's latest reading, the others' sum. */
export const denseAggregate = (i: number): string => (i === C.active ? `arg_max(${COLUMNS[i]}, t)` : `sum(${COLUMNS[i]})`);
export const denseSum = (i: number): string => `${denseAggregate(i)} AS ${COLUMNS[i]}`;
/** Sums of the row columns over a group. */
export const denseSums = DENSE.map(denseSum).join(', ');
export const densePlain = DENSE_NAMES.join(', ');
/** The buckets as the old per-bucket columns (connect_b0...), from the pairs of a group: what the Parquet files hold. */
export const bucketPivot = (alias: string): string => BUCKET_COLUMNS.map((col, b) => `coalesce(sum(${alias}.n) FILTER (WHERE ${alias}.b = ${b}), 0) AS ${COLUMNS[col]}`).join(', ');
