// The agent's edge tables as wire v1 batches: each interval, what every edge did since the
// previous one (counters that only grow become deltas; gauges are sent as they are). Edges that
// did nothing are left out; edges the table forgot are forgotten here too.
import type { Distribution } from '../../model/distribution.js';
import { Histogram } from '../../lib/histogram.js';
import { grpcStatusKey, httpStatusClass, isRequestError, REQUEST_BUCKETS, type RequestCounters, type RequestEdgeIdentity } from '../../model/requests.js';
import type { DnsCounters, DnsIdentity, DropCounters, DropIdentity, FlowCounters, FlowEdgeIdentity, TcpCounters, TcpEdgeIdentity } from '../../model/edge.js';
import type { Workload, WorkloadInfo } from '../../model/workload.js';
import { failuresV1, histogramDeltaV1, histogramV1, workloadV1, type AgentRunV1, type BatchV1, type HistogramV1, type LossesV1, type RequestsV1, type TcpEdgeV1, type WorkloadV1 } from '../../model/wire/v1.js';

/** An end as the edge tables hold it: labels, and facts when the enricher found them. */
type End = Workload & { readonly info?: WorkloadInfo; readonly labels?: Readonly<Record<string, string>> };

/** A TCP edge as read from the table, with what the join needs when the tracer tracks it. */
export type TcpEdgeReading = TcpCounters & {
  readonly identity: TcpEdgeIdentity & { readonly local: End; readonly remote: End };
  /** Local addresses of the edge's connections (the other side's agent sees them as its peer). */
  readonly localAddrs?: Iterable<string>;
  /** Where translated connections landed (service VIP, NAT). */
  readonly actualPeers?: Iterable<{ addr: string; port: number; connections: number }>;
};
export type FlowEdgeReading = FlowCounters & { readonly identity: FlowEdgeIdentity };
export type DropReading = DropCounters & { readonly identity: DropIdentity & { readonly local: End; readonly remote: End } };
export type DnsReading = DnsCounters & { readonly identity: DnsIdentity & { readonly client: End } };
/** A request edge as the L7 monitor holds it: its TCP edge's identity plus TLS. */
export type RequestEdgeReading = RequestCounters & { readonly identity: RequestEdgeIdentity };

const MAX_LOCAL_ADDRS = 64;
const endV1 = workloadV1;

interface TcpBefore {
  opened: number;
  closed: number;
  active: number;
  failures: Float64Array;
  sent: number;
  received: number;
  retransmits: number;
  resetsSent: number;
  resetsReceived: number;
  connect?: HistogramV1;
  rtt?: HistogramV1;
  duration?: HistogramV1;
  requests?: RequestTotalsV1;
}

/** Cumulative requests of one TCP edge (its request edges with and without TLS together). */
interface RequestTotals {
  count: number;
  byStatus: Map<string, number>;
  duration: Histogram;
}
interface RequestTotalsV1 {
  count: number;
  byStatus: Record<string, number>;
  duration: HistogramV1;
}

/** Request edges summed per TCP edge, by status class (HTTP) or code (gRPC). */
function requestTotals(edges: Iterable<RequestEdgeReading>): Map<string, RequestTotals> {
  const out = new Map<string, RequestTotals>();
  for (const e of edges) {
    const key = tcpKey(e.identity);
    let t = out.get(key);
    if (!t) out.set(key, (t = { count: 0, byStatus: new Map(), duration: new Histogram(REQUEST_BUCKETS) }));
    for (const s of e.http.values()) addRequests(t, httpStatusClass(s.status), s.count, s.duration);
    for (const s of e.grpc.values()) addRequests(t, grpcStatusKey(s.code), s.count, s.duration);
  }
  return out;
}

function addRequests(t: RequestTotals, status: string, count: number, duration: Distribution): void {
  t.count += count;
  t.byStatus.set(status, (t.byStatus.get(status) ?? 0) + count);
  t.duration.add(duration);
}

/** What an edge's requests did since `before` (all of it when the totals went down: a request edge was forgotten). */
function requestsDelta(now: RequestTotals | undefined, before: RequestTotalsV1 | undefined): RequestsV1 | undefined {
  if (!now || now.count === (before?.count ?? 0)) return undefined;
  const b = before && now.count >= before.count ? before : undefined;
  const byStatus: Record<string, number> = {};
  let errors = 0;
  for (const [status, n] of now.byStatus) {
    const d = n - (b?.byStatus[status] ?? 0);
    if (d <= 0) continue;
    byStatus[status] = d;
    if (isRequestError(status)) errors += d;
  }
  const out: RequestsV1 = { count: now.count - (b?.count ?? 0), errors, by_status: byStatus };
  const duration = histogramDeltaV1(now.duration, b?.duration);
  if (duration) out.duration = duration;
  return out;
}

const snap = (d: Distribution | undefined): HistogramV1 | undefined => (d ? histogramV1(d) : undefined);

function tcpKey(i: TcpEdgeIdentity): string {
  return `${i.role}\u0000${i.process}\u0000${i.cgroup}\u0000${i.peer}\u0000${i.port}\u0000${i.local.key}\u0000${i.remote.key}`;
}

/** Builds one batch per interval from the tables' cumulative counters. */
export class HubBatchBuilder {
  private seq = 0;
  private readonly tcpBefore = new Map<string, TcpBefore>();
  private readonly countsBefore = new Map<string, number>();
  private lastTo: number;

  constructor(
    readonly run: AgentRunV1,
    startMs = Date.parse(run.start),
  ) {
    this.lastTo = startMs;
  }

  /** The TCP edges' changes since the previous call. */
  tcp(edges: Iterable<TcpEdgeReading>, requestEdges: Iterable<RequestEdgeReading> = []): TcpEdgeV1[] {
    const out: TcpEdgeV1[] = [];
    const requests = requestTotals(requestEdges);
    const seen = new Set<string>();
    for (const e of edges) {
      const key = tcpKey(e.identity);
      seen.add(key);
      const b = this.tcpBefore.get(key);
      const failures = Float64Array.from(e.failures, (n, i) => n - (b?.failures[i] ?? 0));
      const record: TcpEdgeV1 = {
        role: e.identity.role,
        process: e.identity.process,
        peer: e.identity.peer,
        port: e.identity.port,
        local: endV1(e.identity.local),
        remote: endV1(e.identity.remote),
        opened: e.opened - (b?.opened ?? 0),
        closed: e.closed - (b?.closed ?? 0),
        active: e.active,
        bytes_sent: e.sentBytes - (b?.sent ?? 0),
        bytes_received: e.receivedBytes - (b?.received ?? 0),
        retransmits: e.retransmits - (b?.retransmits ?? 0),
        resets_sent: e.resetsSent - (b?.resetsSent ?? 0),
        resets_received: e.resetsReceived - (b?.resetsReceived ?? 0),
      };
      const f = failuresV1(failures);
      if (f) record.failures = f;
      const connect = histogramDeltaV1(e.connectDuration, b?.connect);
      const rtt = histogramDeltaV1(e.rtt, b?.rtt);
      const duration = histogramDeltaV1(e.duration, b?.duration);
      if (connect) record.connect = connect;
      if (rtt) record.rtt = rtt;
      if (duration) record.duration = duration;
      const r = requests.get(key);
      const req = requestsDelta(r, b?.requests);
      if (req) record.requests = req;
      const changed =
        record.opened || record.closed || f || record.bytes_sent || record.bytes_received || record.retransmits || record.resets_sent || record.resets_received || connect || rtt || req || record.active !== (b?.active ?? 0);
      this.tcpBefore.set(key, {
        opened: e.opened,
        closed: e.closed,
        active: e.active,
        failures: Float64Array.from(e.failures),
        sent: e.sentBytes,
        received: e.receivedBytes,
        retransmits: e.retransmits,
        resetsSent: e.resetsSent,
        resetsReceived: e.resetsReceived,
        connect: snap(e.connectDuration),
        rtt: snap(e.rtt),
        duration: snap(e.duration),
        ...(r ? { requests: { count: r.count, byStatus: Object.fromEntries(r.byStatus), duration: histogramV1(r.duration) } } : {}),
      });
      if (!changed) continue;
      if (e.identity.cgroup) record.cgroup = e.identity.cgroup;
      if (e.localAddrs) {
        const addrs = [...e.localAddrs].slice(0, MAX_LOCAL_ADDRS);
        if (addrs.length) record.local_addrs = addrs;
      }
      if (e.actualPeers) {
        const peers = [...e.actualPeers].slice(0, MAX_LOCAL_ADDRS);
        if (peers.length) record.actual_peers = peers;
      }
      out.push(record);
    }
    for (const key of this.tcpBefore.keys()) if (!seen.has(key)) this.tcpBefore.delete(key);
    return out;
  }

  /** A counter's change since the previous reading under `key` (kept in `seen`). */
  private delta(key: string, now: number, seen: Set<string>): number {
    seen.add(key);
    const d = now - (this.countsBefore.get(key) ?? 0);
    this.countsBefore.set(key, now);
    return d;
  }

  /**
   * The batch for the interval ending at `toMs`, with every kind's changes. Losses are cumulative
   * for the run (the sender's dropped batches among them).
   */
  build(toMs: number, tables: { tcp?: Iterable<TcpEdgeReading>; requests?: Iterable<RequestEdgeReading>; flows?: Iterable<FlowEdgeReading>; drops?: Iterable<DropReading>; dns?: Iterable<DnsReading> }, losses: LossesV1): BatchV1 {
    const seen = new Set<string>();
    const flows = [];
    for (const f of tables.flows ?? []) {
      const i = f.identity;
      const base = `f\u0000${i.direction}\u0000${i.protocol}\u0000${i.interface}\u0000${i.peer}\u0000${i.port}\u0000${i.peerDns}`;
      const packets = this.delta(`${base}\u0000p`, f.packets, seen);
      const bytes = this.delta(`${base}\u0000b`, f.bytes, seen);
      if (!packets && !bytes) continue;
      flows.push({ direction: i.direction, protocol: i.protocol, interface: i.interface, peer: i.peer, port: i.port, ...(i.peerDns ? { peer_dns: i.peerDns } : {}), packets, bytes });
    }
    const drops = [];
    for (const d of tables.drops ?? []) {
      const i = d.identity;
      const packets = this.delta(`d\u0000${i.reason}\u0000${i.direction}\u0000${i.protocol}\u0000${i.peer}\u0000${i.port}\u0000${i.local.key}\u0000${i.remote.key}`, d.packets, seen);
      if (packets) drops.push({ reason: i.reason, direction: i.direction, protocol: i.protocol, peer: i.peer, port: i.port, local: endV1(i.local), remote: endV1(i.remote), packets });
    }
    const dns = [];
    for (const q of tables.dns ?? []) {
      const i = q.identity;
      const base = `q\u0000${i.qtype}\u0000${i.server}\u0000${i.client.key}`;
      const rcodes: Record<string, number> = {};
      for (const [rcode, n] of q.byRcode) {
        const d = this.delta(`${base}\u0000${rcode}`, n, seen);
        if (d) rcodes[rcode] = d;
      }
      if (Object.keys(rcodes).length) dns.push({ qtype: i.qtype, server: i.server, client: endV1(i.client), rcodes });
    }
    for (const key of this.countsBefore.keys()) if (!seen.has(key)) this.countsBefore.delete(key);
    const batch: BatchV1 = {
      v: 1,
      kind: 'batch',
      run: this.run,
      seq: ++this.seq,
      from: new Date(this.lastTo).toISOString(),
      to: new Date(toMs).toISOString(),
      tcp: this.tcp(tables.tcp ?? [], tables.requests),
      flows,
      drops,
      dns,
      losses,
    };
    this.lastTo = toMs;
    return batch;
  }
}
