// Wire format v1: what an agent sends the hub. JSON-shaped records (the hub's ingest decides the
// encoding and compression; see the hub's documentation). Field names are snake_case and stable:
// a change that is not an addition is v2.
//
// Idempotency: every batch names its agent run (agent id and start time) and its interval number
// (seq). The hub applies each (agent, start, seq) once, so that an agent may resend after a lost
// answer without double counting.
import type { AgentCapabilities } from '../capabilities.js';
import type { Distribution } from '../distribution.js';
import type { FailReason, FlowDirection, Role } from '../edge.js';
import { FAIL_REASONS } from '../edge.js';
import type { FlowRecord, LifecycleRecord } from '../records.js';
import type { Workload, WorkloadInfo } from '../workload.js';

export const WIRE_VERSION = 1 as const;

/** One run of one agent. */
export interface AgentRunV1 {
  /** Unique per agent: the node name, with the network namespace when an agent observes only one. */
  agent: string;
  /** The node the agent stands for. */
  node: string;
  /** When this run started (RFC 3339); a restarted agent is a new run. */
  start: string;
}

/** An end of an edge: only the fields that are known. */
export interface WorkloadV1 {
  container?: string;
  pod?: string;
  namespace?: string;
  workload?: string;
  service?: string;
  kind?: string;
  workload_kind?: string;
  image?: string;
  version?: string;
  node?: string;
  zone?: string;
  /** The workload's own labels (Kubernetes pod labels, container labels): what the hub's label:KEY views group by. */
  labels?: Record<string, string>;
}

/** Counts per bucket (not cumulative) in the model's layout for that field; observations above the last bound are only in `count`. */
export interface HistogramV1 {
  counts: number[];
  sum: number;
  count: number;
}

/** Sent when an agent run starts, and again whenever the hub asks for it (it does not know the run). */
export interface HelloV1 {
  v: 1;
  kind: 'hello';
  run: AgentRunV1;
  zone: string;
  /** The agent's version. */
  version: string;
  interval_ms: number;
  capabilities: AgentCapabilities;
}

/**
 * A TCP edge's change over one interval (counters are deltas, `active` is the gauge at the end).
 * Layouts: connect in CONNECT_BUCKETS, rtt in RTT_BUCKETS, duration in DURATION_BUCKETS.
 */
export interface TcpEdgeV1 {
  role: Role;
  process: string;
  cgroup?: string;
  peer: string;
  port: number;
  local: WorkloadV1;
  remote: WorkloadV1;
  /** The local addresses of this edge's connections (bounded): what joins it to the other side's view. */
  local_addrs?: string[];
  /** Where translated connections (service VIP, NAT) landed, with how many connections. */
  actual_peers?: Array<{ addr: string; port: number; connections: number }>;
  opened: number;
  closed: number;
  active: number;
  failures?: Partial<Record<FailReason, number>>;
  bytes_sent: number;
  bytes_received: number;
  retransmits: number;
  resets_sent: number;
  resets_received: number;
  connect?: HistogramV1;
  rtt?: HistogramV1;
  duration?: HistogramV1;
  /** Requests (HTTP, gRPC) this end saw on the edge's connections, when L7 capture found any. */
  requests?: RequestsV1;
}

/**
 * Requests on a TCP edge over one interval, as one end saw them (duration in REQUEST_BUCKETS).
 * `by_status`: HTTP status classes ("2xx".."5xx"), gRPC codes as "grpc:CODE", "none" for an
 * exchange cut short without a status. `errors`: HTTP 5xx and gRPC codes other than OK.
 */
export interface RequestsV1 {
  count: number;
  errors: number;
  by_status: Record<string, number>;
  duration?: HistogramV1;
}

/** A packet-level edge's change over one interval. */
export interface FlowEdgeV1 {
  direction: FlowDirection;
  protocol: string;
  interface: string;
  peer: string;
  port: number;
  peer_dns?: string;
  packets: number;
  bytes: number;
}

/** Drops over one interval. */
export interface DropV1 {
  reason: string;
  direction: 'received' | 'sent';
  protocol: string;
  peer: string;
  port: number;
  local: WorkloadV1;
  remote: WorkloadV1;
  packets: number;
}

/** DNS requests of a client workload to a server over one interval (duration in DNS_BUCKETS). */
export interface DnsV1 {
  qtype: string;
  server: string;
  client: WorkloadV1;
  rcodes: Record<string, number>;
  duration?: HistogramV1;
}

/** What the agent could not count or send, cumulative since the run started (by source). */
export interface LossesV1 {
  /** Lifecycle events lost (ring buffer full, recursion, map full...). */
  events: Record<string, number>;
  /** Connections and flows counted in roll-up edges (peer "other") because of the series cap. */
  rolled_up: number;
  /** Packet-level records lost (spill ring, DNS ring, handlers). */
  flows: Record<string, number>;
  /** Intervals (batches) the agent dropped because its send buffer was full while the hub was away. */
  batches_dropped: number;
}

// TCP records as columns (an addition; the encoder and the reader are columns.ts): one array per
// field, strings and ends in per-batch dictionaries referred to by index.

/** A histogram field over the rows that have it (rows ascending; counts: `rows.length` x buckets). */
export interface HistogramColumnsV1 {
  rows: number[];
  counts: number[];
  sum: number[];
  count: number[];
}

export interface TcpColumnsV1 {
  /** The strings the columns refer to (process, cgroup, peer, local_addrs, actual_peers' addr). */
  strings: string[];
  /** The ends `local` and `remote` refer to. */
  ends: WorkloadV1[];
  /** 0 client, 1 server; its length is the number of rows, every dense column has it too. */
  role: number[];
  process: number[];
  /** -1: none. */
  cgroup: number[];
  peer: number[];
  port: number[];
  local: number[];
  remote: number[];
  /** Per row, how many local addresses; their string indexes follow one another in `local_addrs`. */
  local_addr_count: number[];
  local_addrs: number[];
  opened: number[];
  closed: number[];
  active: number[];
  bytes_sent: number[];
  bytes_received: number[];
  retransmits: number[];
  resets_sent: number[];
  resets_received: number[];
  connect?: HistogramColumnsV1;
  rtt?: HistogramColumnsV1;
  duration?: HistogramColumnsV1;
  /** [row, value] pairs, rows ascending. */
  failures?: Array<[number, Partial<Record<FailReason, number>>]>;
  actual_peers?: Array<[number, Array<{ addr: number; port: number; connections: number }>]>;
  requests?: Array<[number, RequestsV1]>;
}

export interface BatchV1 {
  v: 1;
  kind: 'batch';
  run: AgentRunV1;
  /** The interval's number in this run, from 1. */
  seq: number;
  /** The interval's bounds (RFC 3339, milliseconds). */
  from: string;
  to: string;
  tcp: TcpEdgeV1[];
  /**
   * Addition: TCP records as columns (columns.ts), after those of `tcp`. Agents send this by
   * default with `tcp` left out (a hub that does not know it refuses the batch naming `tcp`, and
   * the agent then sends records).
   */
  tcp_columns?: TcpColumnsV1;
  flows: FlowEdgeV1[];
  drops: DropV1[];
  dns: DnsV1[];
  losses: LossesV1;
  /** Per-connection records: only when the agent is asked to send them. */
  connections?: LifecycleRecord[];
  /** Per-flow records: only when the agent is asked to send them. */
  flow_records?: FlowRecord[];
}

export type MessageV1 = HelloV1 | BatchV1;

const WORKLOAD_V1_INFO = ['kind', 'workload_kind', 'image', 'version', 'node', 'zone'] as const;

/** An end as sent: labels and facts that are known, nothing empty (facts and workload labels when the end has them). */
export function workloadV1(w: Workload & { readonly info?: WorkloadInfo; readonly labels?: Readonly<Record<string, string>> }): WorkloadV1 {
  const out: WorkloadV1 = {};
  if (w.container) out.container = w.container;
  if (w.pod) out.pod = w.pod;
  if (w.namespace) out.namespace = w.namespace;
  if (w.workload) out.workload = w.workload;
  if (w.service) out.service = w.service;
  for (const k of WORKLOAD_V1_INFO) {
    const v = w.info?.[k];
    if (v) out[k] = v;
  }
  if (w.labels && Object.keys(w.labels).length) out.labels = { ...w.labels };
  return out;
}

/** A histogram as sent (the bucket layout is implied by the field). */
export function histogramV1(d: Distribution): HistogramV1 {
  return { counts: Array.from(d.counts), sum: d.sum, count: d.count };
}

/** The change between two readings of a histogram with the same layout (undefined when nothing was observed). */
export function histogramDeltaV1(now: Distribution | undefined, before: HistogramV1 | undefined): HistogramV1 | undefined {
  if (!now || now.count === (before?.count ?? 0)) return undefined;
  const counts = Array.from(now.counts, (c, i) => c - (before?.counts[i] ?? 0));
  return { counts, sum: now.sum - (before?.sum ?? 0), count: now.count - (before?.count ?? 0) };
}

/** Failures by reason, only the reasons that happened. */
export function failuresV1(failures: ArrayLike<number>): Partial<Record<FailReason, number>> | undefined {
  let out: Partial<Record<FailReason, number>> | undefined;
  for (let i = 0; i < FAIL_REASONS.length; i++) {
    const n = failures[i] ?? 0;
    if (n > 0) (out ??= {})[FAIL_REASONS[i]!] = n;
  }
  return out;
}
