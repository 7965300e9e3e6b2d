// The columnar form of a batch's TCP records (an addition to wire v1): one array per field, the
// strings and the workload ends in per-batch dictionaries referred to by index. A hub decodes it
// without one object per record (JSON.parse makes a few long arrays of numbers) and reads the rows
// by index through one reused record (TcpRows.at). Frequent fields are dense columns; rare ones
// (failures, actual_peers, requests) are [row, value] pairs in the record form.
import { CONNECT_BUCKETS, DURATION_BUCKETS, RTT_BUCKETS } from '../distribution.js';
import type { Role } from '../edge.js';
import type { BatchV1, HistogramColumnsV1, HistogramV1, RequestsV1, TcpColumnsV1, TcpEdgeV1, WorkloadV1 } from './v1.js';

/** A batch as agents send it by default: its TCP records as columns (`tcp` absent or empty). */
export type ColumnarBatchV1 = Omit<BatchV1, 'tcp'> & { tcp?: TcpEdgeV1[]; tcp_columns: TcpColumnsV1 };

export const ROLES: readonly Role[] = ['client', 'server'];
export const DENSE_COUNTERS = ['opened', 'closed', 'active', 'bytes_sent', 'bytes_received', 'retransmits', 'resets_sent', 'resets_received'] as const;
export const HISTOGRAM_FIELDS = ['connect', 'rtt', 'duration'] as const;
export const SPARSE_FIELDS = ['failures', 'actual_peers', 'requests'] as const;
/** Buckets per row of each histogram field (the record form's layouts). */
export const HISTOGRAM_BUCKETS: Readonly<Record<(typeof HISTOGRAM_FIELDS)[number], number>> = { connect: CONNECT_BUCKETS.length, rtt: RTT_BUCKETS.length, duration: DURATION_BUCKETS.length };

/** The dense numeric columns, in frames' order (frames.ts) (each histogram field's four follow, see HISTOGRAM_PARTS). */
export const NUMERIC_COLUMNS = ['role', 'process', 'cgroup', 'peer', 'port', 'local', 'remote', 'local_addr_count', 'local_addrs', 'opened', 'closed', 'active', 'bytes_sent', 'bytes_received', 'retransmits', 'resets_sent', 'resets_received'] as const;
export const HISTOGRAM_PARTS = ['rows', 'counts', 'sum', 'count'] as const;

type NumericColumn = (typeof NUMERIC_COLUMNS)[number];

/** TCP columns as a frame decodes them: the numbers in Float64Arrays (TcpColumnRows reads them without a copy). */
export type TypedTcpColumns = Omit<TcpColumnsV1, NumericColumn | (typeof HISTOGRAM_FIELDS)[number]> &
  Record<NumericColumn, Float64Array> &
  Partial<Record<(typeof HISTOGRAM_FIELDS)[number], Record<(typeof HISTOGRAM_PARTS)[number], Float64Array>>>;

/** The columns of these records (an agent's encoder). */
export function tcpColumns(records: readonly TcpEdgeV1[]): TcpColumnsV1 {
  const strings: string[] = [];
  const stringIds = new Map<string, number>();
  const str = (s: string): number => {
    let id = stringIds.get(s);
    if (id === undefined) stringIds.set(s, (id = strings.push(s) - 1));
    return id;
  };
  const ends: WorkloadV1[] = [];
  // By pod (most ends have one), then compared field by field: cheaper than a key string per end.
  // The same end twice in the dictionary costs only room: past 32 ends under one name, no search.
  const endIds = new Map<string, number[]>();
  const end = (w: WorkloadV1): number => {
    const key = w.pod ?? w.workload ?? w.service ?? w.container ?? '';
    let ids = endIds.get(key);
    if (!ids) endIds.set(key, (ids = []));
    for (const id of ids) if (sameEnd(ends[id]!, w)) return id;
    const id = ends.push(w) - 1;
    if (ids.length < 32) ids.push(id);
    return id;
  };
  const n = records.length;
  const dense = (): number[] => new Array<number>(n);
  const c: TcpColumnsV1 = {
    strings,
    ends,
    role: dense(),
    process: dense(),
    cgroup: dense(),
    peer: dense(),
    port: dense(),
    local: dense(),
    remote: dense(),
    local_addr_count: dense(),
    local_addrs: [],
    opened: dense(),
    closed: dense(),
    active: dense(),
    bytes_sent: dense(),
    bytes_received: dense(),
    retransmits: dense(),
    resets_sent: dense(),
    resets_received: dense(),
  };
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    c.role[i] = r.role === 'server' ? 1 : 0;
    c.process[i] = str(r.process);
    c.cgroup[i] = r.cgroup === undefined ? -1 : str(r.cgroup);
    c.peer[i] = str(r.peer);
    c.port[i] = r.port;
    c.local[i] = end(r.local);
    c.remote[i] = end(r.remote);
    const addrs = r.local_addrs ?? [];
    c.local_addr_count[i] = addrs.length;
    for (const a of addrs) c.local_addrs.push(str(a));
    for (const k of DENSE_COUNTERS) c[k][i] = r[k];
    for (const k of HISTOGRAM_FIELDS) {
      const h = r[k];
      if (!h) continue;
      const hc = (c[k] ??= { rows: [], counts: [], sum: [], count: [] });
      hc.rows.push(i);
      for (const x of h.counts) hc.counts.push(x);
      hc.sum.push(h.sum);
      hc.count.push(h.count);
    }
    if (r.failures) (c.failures ??= []).push([i, r.failures]);
    if (r.actual_peers) (c.actual_peers ??= []).push([i, r.actual_peers.map((p) => ({ addr: str(p.addr), port: p.port, connections: p.connections }))]);
    if (r.requests) (c.requests ??= []).push([i, r.requests]);
  }
  return c;
}

const END_FIELDS = ['container', 'pod', 'namespace', 'workload', 'service', 'kind', 'workload_kind', 'image', 'version', 'node', 'zone'] as const;

function sameEnd(a: WorkloadV1, b: WorkloadV1): boolean {
  if (a === b) return true;
  for (const k of END_FIELDS) if (a[k] !== b[k]) return false;
  const la = a.labels;
  const lb = b.labels;
  if (!la || !lb) return la === lb;
  return sameLabels(la, lb);
}

/** Whether two label sets hold the same keys and values (no allocation: the ingest's hot path). */
export function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in a) n--;
  return n === 0;
}

/** The batch with its TCP records as columns. */
export function columnarBatch(batch: BatchV1): ColumnarBatchV1 {
  const { tcp, ...rest } = batch;
  return { ...rest, tcp_columns: tcpColumns(tcp) };
}

/** A record read from columns: its histograms can be added where wanted without a copy (ColumnRow). */
export interface HistogramAdder {
  addHistogram(k: number, dst: Float64Array, at: number, weight: number): void;
}

/** A batch's TCP records by index. The record `at` returns is valid until the next call (it is reused). */
export interface TcpRows {
  readonly length: number;
  /** Records share their ends (the same object for the same end): true for rows read from columns. */
  readonly sharedEnds?: boolean;
  /**
   * Rows read from columns: the size of the batch's string dictionary, and the dictionary indexes
   * of a row's peer and of its j-th local address (a reader may cache a look-up per string).
   */
  readonly strings?: number;
  peerIndex?(i: number): number;
  localAddrIndex?(i: number, j: number): number;
  at(i: number): TcpEdgeV1;
}

interface HistogramAt {
  /** Per row, its position in the columns (-1: none). */
  pos: Int32Array;
  buckets: number;
  /** The columns as typed arrays (JSON's arrays differ in element kind from batch to batch: reads of them deoptimize the readers). */
  counts: Float64Array;
  sum: Float64Array;
  count: Float64Array;
  /** The reused histogram the row's record carries. */
  out: HistogramV1;
}

/** The dense columns a row reads, as typed arrays (same values), with the batch's dictionaries. */
const TYPED_COLUMNS = ['role', 'process', 'cgroup', 'peer', 'port', 'local', 'remote', 'local_addrs', ...DENSE_COUNTERS] as const;
type TypedColumns = Record<(typeof TYPED_COLUMNS)[number], Float64Array> & Pick<TcpColumnsV1, 'strings' | 'ends'>;

/** What a row reads besides its columns: set up once per batch. */
interface RowIndex {
  c: TypedColumns;
  hist: Array<HistogramAt | undefined>;
  sparse: Array<Map<number, unknown> | undefined>;
}

/**
 * The reused record: the fields every reader wants are set by `at`; histograms and the rare
 * fields are read from the columns when asked for (the join's first pass does not).
 */
class ColumnRow implements TcpEdgeV1, HistogramAdder {
  role: Role = 'client';
  process = '';
  cgroup: string | undefined = undefined;
  peer = '';
  port = 0;
  local: WorkloadV1 = {};
  remote: WorkloadV1 = {};
  local_addrs: string[] = [];
  opened = 0;
  closed = 0;
  active = 0;
  bytes_sent = 0;
  bytes_received = 0;
  retransmits = 0;
  resets_sent = 0;
  resets_received = 0;
  /** The row this record is. */
  i = 0;

  constructor(private readonly x: RowIndex) {}

  get connect(): HistogramV1 | undefined {
    return this.histogram(0);
  }

  get rtt(): HistogramV1 | undefined {
    return this.histogram(1);
  }

  get duration(): HistogramV1 | undefined {
    return this.histogram(2);
  }

  get failures(): TcpEdgeV1['failures'] {
    return this.x.sparse[0]?.get(this.i) as TcpEdgeV1['failures'];
  }

  get actual_peers(): TcpEdgeV1['actual_peers'] {
    const peers = this.x.sparse[1]?.get(this.i) as Array<{ addr: number; port: number; connections: number }> | undefined;
    const s = this.x.c.strings;
    return peers?.map((p) => ({ addr: s[p.addr]!, port: p.port, connections: p.connections }));
  }

  get requests(): RequestsV1 | undefined {
    return this.x.sparse[2]?.get(this.i) as RequestsV1 | undefined;
  }

  /**
   * Adds histogram field k's (0 connect, 1 rtt, 2 duration) counts, then sum and count, times
   * `weight`, into dst from `at`, read from the columns (no copy into the record's histogram).
   */
  addHistogram(k: number, dst: Float64Array, at: number, weight: number): void {
    const h = this.x.hist[k];
    if (!h) return;
    const j = h.pos[this.i]!;
    if (j < 0) return;
    const counts = h.counts;
    const buckets = h.buckets;
    for (let b = 0, from = j * buckets; b < buckets; b++) dst[at + b]! += counts[from + b]! * weight;
    dst[at + buckets]! += h.sum[j]! * weight;
    dst[at + buckets + 1]! += h.count[j]! * weight;
  }

  private histogram(k: number): HistogramV1 | undefined {
    const h = this.x.hist[k];
    if (!h) return undefined;
    const j = h.pos[this.i]!;
    if (j < 0) return undefined;
    const { counts, sum, count } = h;
    const out = h.out;
    for (let b = 0, at = j * h.buckets; b < h.buckets; b++) out.counts[b] = counts[at + b]!;
    out.sum = sum[j]!;
    out.count = count[j]!;
    return out;
  }
}

/**
 * Reads columns (already checked: see the hub's checkTcpColumns) as records, one reused record.
 * It keeps typed copies of the numeric columns, not the parsed arrays: a hub holds a batch until
 * the other agents report, and the young generation's collections copy every parsed array still
 * held (a typed array's numbers are outside the heap); reads of typed arrays also stay of one kind.
 */
export class TcpColumnRows implements TcpRows {
  readonly length: number;
  readonly sharedEnds = true;
  private readonly addrStart: Int32Array;
  private readonly r: ColumnRow;
  private readonly c: TypedColumns;

  /** `columns`: as parsed from JSON, or with typed arrays as a frame decodes them (kept, not copied). */
  constructor(columns: TcpColumnsV1 | TypedTcpColumns) {
    const typed: Partial<TypedColumns> = { strings: columns.strings, ends: columns.ends };
    for (const k of TYPED_COLUMNS) typed[k] = floats(columns[k]);
    const c = (this.c = typed as TypedColumns);
    const n = (this.length = c.role.length);
    this.addrStart = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) this.addrStart[i + 1] = this.addrStart[i]! + columns.local_addr_count[i]!;
    const hist = HISTOGRAM_FIELDS.map((k) => {
      const h = columns[k];
      if (!h || h.rows.length === 0) return undefined;
      const pos = new Int32Array(n).fill(-1);
      for (let j = 0; j < h.rows.length; j++) pos[h.rows[j]!] = j;
      return { pos, buckets: HISTOGRAM_BUCKETS[k], counts: floats(h.counts), sum: floats(h.sum), count: floats(h.count), out: { counts: new Array<number>(HISTOGRAM_BUCKETS[k]).fill(0.5).fill(0), sum: 0, count: 0 } };
    });
    // (The reused histograms' counts hold doubles from the start: fill(0.5) makes the array's
    // element kind double, so that no batch's first fraction changes it under the readers.)
    const sparse = SPARSE_FIELDS.map((k) => {
      const pairs = columns[k] as Array<[number, unknown]> | undefined;
      return pairs?.length ? new Map(pairs) : undefined;
    });
    this.r = new ColumnRow({ c, hist, sparse });
  }

  get strings(): number {
    return this.c.strings.length;
  }

  peerIndex(i: number): number {
    return this.c.peer[i]!;
  }

  localAddrIndex(i: number, j: number): number {
    return this.c.local_addrs[this.addrStart[i]! + j]!;
  }

  at(i: number): TcpEdgeV1 {
    const c = this.c;
    const s = c.strings;
    const r = this.r;
    r.i = i;
    r.role = ROLES[c.role[i]!]!;
    r.process = s[c.process[i]!]!;
    const cg = c.cgroup[i]!;
    r.cgroup = cg < 0 ? undefined : s[cg];
    r.peer = s[c.peer[i]!]!;
    r.port = c.port[i]!;
    r.local = c.ends[c.local[i]!]!;
    r.remote = c.ends[c.remote[i]!]!;
    const from = this.addrStart[i]!;
    const to = this.addrStart[i + 1]!;
    const addrs = r.local_addrs;
    addrs.length = to - from;
    for (let j = from; j < to; j++) addrs[j - from] = s[c.local_addrs[j]!]!;
    r.opened = c.opened[i]!;
    r.closed = c.closed[i]!;
    r.active = c.active[i]!;
    r.bytes_sent = c.bytes_sent[i]!;
    r.bytes_received = c.bytes_received[i]!;
    r.retransmits = c.retransmits[i]!;
    r.resets_sent = c.resets_sent[i]!;
    r.resets_received = c.resets_received[i]!;
    return r;
  }
}

/** The numbers as a Float64Array: that one itself when it is one. */
function floats(v: ArrayLike<number>): Float64Array {
  return v instanceof Float64Array ? v : Float64Array.from(v);
}

/** The rows of `tcp`, then those of `columns`. */
export function tcpRows(tcp: readonly TcpEdgeV1[], columns: TcpRows | undefined): TcpRows {
  if (!columns || columns.length === 0) return { length: tcp.length, at: (i) => tcp[i]! };
  if (tcp.length === 0) return columns;
  return { length: tcp.length + columns.length, at: (i) => (i < tcp.length ? tcp[i]! : columns.at(i - tcp.length)) };
}

/** A batch's TCP records, whichever form they came in. */
export function batchTcpRows(batch: BatchV1): TcpRows {
  return tcpRows(batch.tcp ?? [], batch.tcp_columns && new TcpColumnRows(batch.tcp_columns));
}

/** A record's fields, in the record form's order. */
const RECORD_KEYS: ReadonlyArray<keyof TcpEdgeV1> = ['role', 'process', 'cgroup', 'peer', 'port', 'local', 'remote', 'local_addrs', 'actual_peers', 'opened', 'closed', 'active', 'failures', 'bytes_sent', 'bytes_received', 'retransmits', 'resets_sent', 'resets_received', 'connect', 'rtt', 'duration', 'requests'];

/** A record of its own (a copy of the reused one), with only the fields it has. */
export function copyRecord(r: TcpEdgeV1): TcpEdgeV1 {
  const out: Record<string, unknown> = {};
  for (const k of RECORD_KEYS) {
    const v = r[k];
    if (v !== undefined) out[k] = v;
  }
  if (r.local_addrs) out.local_addrs = [...r.local_addrs];
  for (const k of HISTOGRAM_FIELDS) {
    const h = r[k];
    if (h) out[k] = { counts: [...h.counts], sum: h.sum, count: h.count };
  }
  return out as unknown as TcpEdgeV1;
}

/** The batch in the record form (for a hub that does not know the columns). */
export function recordBatch(batch: ColumnarBatchV1): BatchV1 {
  const { tcp_columns, tcp, ...rest } = batch;
  const rows = new TcpColumnRows(tcp_columns);
  const out = [...(tcp ?? [])];
  for (let i = 0; i < rows.length; i++) out.push(copyRecord(rows.at(i)));
  return { ...rest, tcp: out };
}
