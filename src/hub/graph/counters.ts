// One side's counters of an edge (the client's or the server's view) as a fixed Float64Array
// layout: the same columns in memory, in the store's tables and in the Parquet files.
import { CONNECT_BUCKETS, RTT_BUCKETS, quantile, type Distribution } from '../../model/distribution.js';
import { FAIL_REASONS, type FailReason } from '../../model/edge.js';
import type { wire } from '../../model/index.js';
import { REQUEST_BUCKETS } from '../../model/requests.js';

export const SCALAR_COLUMNS = [
  'opened',
  'closed',
  'active',
  ...FAIL_REASONS.map((r) => `failed_${r}`),
  'bytes_sent',
  'bytes_received',
  'retransmits',
  'resets_sent',
  'resets_received',
] as const;

const CONNECT_COLUMNS = [...CONNECT_BUCKETS.map((_, i) => `connect_b${i}`), 'connect_sum', 'connect_count'];
const RTT_COLUMNS = [...RTT_BUCKETS.map((_, i) => `rtt_b${i}`), 'rtt_sum', 'rtt_count'];

/** gRPC status codes (grpc/doc/statuscodes.md), each counted in its own column. */
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/**
 * The request status keys a side counts (the wire's by_status keys): HTTP classes, 'none' (cut
 * short without a status), the gRPC codes, and 'other' for any key not in this list (codes such as
 * grpc:UNKNOWN_20).
 */
export const REQUEST_STATUSES: readonly string[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none', ...GRPC_CODES.map((c) => `grpc:${c}`), 'other'];
const statusIndex = new Map(REQUEST_STATUSES.map((k, i) => [k, i]));
const OTHER_STATUS = REQUEST_STATUSES.length - 1;

/** The column name of a status key: requests_2xx, requests_grpc_unavailable. */
const statusColumn = (k: string): string => `requests_${k.replace('grpc:', 'grpc_').toLowerCase()}`;

// Appended after the TCP columns: the columns before them keep their places (stored layouts too).
const REQUEST_COLUMNS = [
  'requests',
  'request_errors',
  ...REQUEST_BUCKETS.map((_, i) => `request_b${i}`),
  'request_sum',
  'request_count',
  ...REQUEST_STATUSES.map(statusColumn),
];

/** Every column of a side, in layout order. */
export const COLUMNS: readonly string[] = [...SCALAR_COLUMNS, ...CONNECT_COLUMNS, ...RTT_COLUMNS, ...REQUEST_COLUMNS];
export const WIDTH = COLUMNS.length;

export const C = {
  opened: 0,
  closed: 1,
  active: 2,
  failures: 3,
  bytesSent: 3 + FAIL_REASONS.length,
  bytesReceived: 4 + FAIL_REASONS.length,
  retransmits: 5 + FAIL_REASONS.length,
  resetsSent: 6 + FAIL_REASONS.length,
  resetsReceived: 7 + FAIL_REASONS.length,
  connect: SCALAR_COLUMNS.length,
  rtt: SCALAR_COLUMNS.length + CONNECT_COLUMNS.length,
  requests: SCALAR_COLUMNS.length + CONNECT_COLUMNS.length + RTT_COLUMNS.length,
  requestErrors: SCALAR_COLUMNS.length + CONNECT_COLUMNS.length + RTT_COLUMNS.length + 1,
  /** The request duration histogram (REQUEST_BUCKETS, then sum and count). */
  request: SCALAR_COLUMNS.length + CONNECT_COLUMNS.length + RTT_COLUMNS.length + 2,
  /** Requests per status key, in REQUEST_STATUSES order. */
  statuses: SCALAR_COLUMNS.length + CONNECT_COLUMNS.length + RTT_COLUMNS.length + 2 + REQUEST_BUCKETS.length + 2,
} as const;

/** Gauges are not summed over time: the latest reading counts. */
export const GAUGE_COLUMNS: ReadonlySet<number> = new Set([C.active]);

export type Side = Float64Array;

export function newSide(): Side {
  return new Float64Array(WIDTH);
}

const REQUEST_COUNT_AT = C.request + REQUEST_BUCKETS.length + 1;

/** The columns before the request ones: all a narrow row holds. */
export const NARROW = C.requests;

const narrowArrays = new WeakSet<object>();

/**
 * An array of narrow rows (NARROW columns each, at row * NARROW): rows of an edge side without
 * requests, as the live windows keep them (most edges carry none). A row of such an array reads
 * as a row of WIDTH whose request columns are 0 only through the helpers here (usedWidth,
 * requestsAt, requestSide, quantileOfRows, sideCopy): its request columns are the next row's.
 */
export function narrowRows(rows: number): Float64Array {
  const a = new Float64Array(rows * NARROW);
  narrowArrays.add(a);
  return a;
}

/** True when `a` holds narrow rows (see narrowRows). */
export function isNarrow(a: ArrayLike<number>): boolean {
  return narrowArrays.has(a as object);
}

/**
 * How many of a row's columns can be non-zero: all of them when it counted requests, else only
 * the TCP columns before the request ones (most edges carry no requests: sums skip 43 zeros).
 */
export function usedWidth(row: ArrayLike<number>, at = 0): number {
  if (isNarrow(row)) return NARROW;
  return row[at + C.requests] === 0 && row[at + REQUEST_COUNT_AT] === 0 ? C.requests : WIDTH;
}

/** True when a wide row (not of a narrow array) at `at` counted requests: its request columns may be non-zero. */
export function wideRowHasRequests(row: ArrayLike<number>, at: number): boolean {
  return row[at + C.requests] !== 0 || row[at + REQUEST_COUNT_AT] !== 0;
}

/** A row's request count (0 for a narrow row). */
export function requestsAt(row: ArrayLike<number>, at: number): number {
  return isNarrow(row) ? 0 : row[at + C.requests]!;
}

/** A row as a Side of its own (a narrow row's request columns 0). */
export function sideCopy(row: Float64Array, at: number): Side {
  if (!isNarrow(row)) return row.slice(at, at + WIDTH);
  const out = newSide();
  out.set(row.subarray(at, at + NARROW));
  return out;
}

/** Adds `src` (times `weight`) into `dst`; gauges add too (several records of one interval make one edge). */
export function addInto(dst: Side, src: ArrayLike<number>, weight = 1): void {
  for (let i = 0, n = usedWidth(src); i < n; i++) dst[i]! += src[i]! * weight;
}

function putHistogram(dst: Side, at: number, buckets: number, h: wire.HistogramV1 | undefined, weight: number): void {
  if (!h) return;
  for (let i = 0; i < buckets; i++) dst[at + i]! += (h.counts[i] ?? 0) * weight;
  dst[at + buckets]! += h.sum * weight;
  dst[at + buckets + 1]! += h.count * weight;
}

function isHistogramAdder(r: object): r is wire.HistogramAdder {
  return typeof (r as Partial<wire.HistogramAdder>).addHistogram === 'function';
}

/** A TCP edge record's counters, times `weight` (its share when one record feeds several edges), added into `dst` (the row at `at`). */
export function addTcpRecord(dst: Float64Array, r: wire.TcpEdgeV1, weight = 1, at = 0): void {
  dst[at + C.opened]! += r.opened * weight;
  dst[at + C.closed]! += r.closed * weight;
  dst[at + C.active]! += r.active * weight;
  if (r.failures) for (let i = 0; i < FAIL_REASONS.length; i++) dst[at + C.failures + i]! += (r.failures[FAIL_REASONS[i]!] ?? 0) * weight;
  dst[at + C.bytesSent]! += r.bytes_sent * weight;
  dst[at + C.bytesReceived]! += r.bytes_received * weight;
  dst[at + C.retransmits]! += r.retransmits * weight;
  dst[at + C.resetsSent]! += r.resets_sent * weight;
  dst[at + C.resetsReceived]! += r.resets_received * weight;
  if (isHistogramAdder(r)) {
    // A row of columns: its histograms added from the columns (the field layouts are the same).
    r.addHistogram(0, dst, at + C.connect, weight);
    r.addHistogram(1, dst, at + C.rtt, weight);
  } else {
    putHistogram(dst, at + C.connect, CONNECT_BUCKETS.length, r.connect, weight);
    putHistogram(dst, at + C.rtt, RTT_BUCKETS.length, r.rtt, weight);
  }
  const q = r.requests;
  if (q) {
    dst[at + C.requests]! += q.count * weight;
    dst[at + C.requestErrors]! += q.errors * weight;
    for (const [status, n] of Object.entries(q.by_status)) dst[at + C.statuses + (statusIndex.get(status) ?? OTHER_STATUS)]! += n * weight;
    putHistogram(dst, at + C.request, REQUEST_BUCKETS.length, q.duration, weight);
  }
}

/** Requests by status key (only keys with requests), from a side's row at `at`. */
export function requestsByStatus(v: ArrayLike<number>, at: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (isNarrow(v)) return out;
  for (let i = 0; i < REQUEST_STATUSES.length; i++) {
    const n = v[at + C.statuses + i]!;
    if (n > 0) out[REQUEST_STATUSES[i]!] = round(n);
  }
  return out;
}

/**
 * Of an edge's two sides (rows at `ca` and `sa`, -1: absent), the offset of the one whose requests
 * stand for the edge: both ends see the same requests when both capture them, so the one that saw
 * more (the other may not capture, or only some of its members do); -1 when neither saw any.
 */
export function requestSide(c: ArrayLike<number>, ca: number, s: ArrayLike<number>, sa: number): 0 | 1 | -1 {
  const rc = ca >= 0 ? requestsAt(c, ca) : 0;
  const rs = sa >= 0 ? requestsAt(s, sa) : 0;
  if (!(rc > 0) && !(rs > 0)) return -1;
  return rc >= rs ? 0 : 1;
}

export function failuresOf(s: Side): Partial<Record<FailReason, number>> {
  const out: Partial<Record<FailReason, number>> = {};
  for (let i = 0; i < FAIL_REASONS.length; i++) {
    const n = s[C.failures + i]!;
    if (n > 0) out[FAIL_REASONS[i]!] = round(n);
  }
  return out;
}

export function failureCount(s: Side): number {
  let n = 0;
  for (let i = 0; i < FAIL_REASONS.length; i++) n += s[C.failures + i]!;
  return n;
}

/** A histogram of a side as a Distribution (a view, no copy). */
export type HistogramName = 'connect' | 'rtt' | 'request';

const HISTOGRAMS: Record<HistogramName, { bounds: readonly number[]; at: number }> = {
  connect: { bounds: CONNECT_BUCKETS, at: C.connect },
  rtt: { bounds: RTT_BUCKETS, at: C.rtt },
  request: { bounds: REQUEST_BUCKETS, at: C.request },
};

export function distribution(s: Side, which: HistogramName): Distribution {
  const { bounds, at } = HISTOGRAMS[which];
  return { bounds, counts: s.subarray(at, at + bounds.length), sum: s[at + bounds.length]!, count: s[at + bounds.length + 1]! };
}

/** Merges two histograms of the same layout (either may be absent). */
export function mergedDistribution(a: Side | undefined, b: Side | undefined, which: HistogramName): Distribution | undefined {
  if (!a && !b) return undefined;
  if (!a || !b) return distribution((a ?? b)!, which);
  const da = distribution(a, which);
  const db = distribution(b, which);
  const counts = Float64Array.from(da.counts, (c, i) => c + db.counts[i]!);
  return { bounds: da.bounds, counts, sum: da.sum + db.sum, count: da.count + db.count };
}

/** Quantiles are estimates within a bucket: nanoseconds are plenty (and keep answers short). */
const seconds = (v: number): number => Math.round(v * 1e9) / 1e9;

/** A quantile in seconds, or null when nothing was observed. */
export function quantileOrNull(q: number, d: Distribution | undefined): number | null {
  if (!d || d.count <= 0) return null;
  const v = quantile(q, d);
  return Number.isFinite(v) ? seconds(v) : null;
}

/**
 * The same quantile of a histogram held in rows (a side's row at `at`, and optionally a second
 * one at `bt` merged with it; -1: absent), without building a Distribution.
 */
export function quantileOfRows(q: number, which: HistogramName, a: Float64Array, at: number, b: Float64Array, bt: number): number | null {
  const { bounds, at: col } = HISTOGRAMS[which];
  const n = bounds.length;
  if (col >= NARROW) {
    // A narrow row's request histogram is empty.
    if (at >= 0 && isNarrow(a)) at = -1;
    if (bt >= 0 && isNarrow(b)) bt = -1;
  }
  const count = (at >= 0 ? a[at + col + n + 1]! : 0) + (bt >= 0 ? b[bt + col + n + 1]! : 0);
  if (!(count > 0)) return null;
  const rank = q * count;
  let cumulative = 0;
  for (let i = 0; i < n; i++) {
    const c = (at >= 0 ? a[at + col + i]! : 0) + (bt >= 0 ? b[bt + col + i]! : 0);
    if (cumulative + c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return seconds(lower + ((bounds[i]! - lower) * (rank - cumulative)) / (c || 1));
    }
    cumulative += c;
  }
  return seconds(bounds[n - 1]!);
}

/** Counts that went through weights come out whole where they should be. */
export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
