// The agent's Prometheus exposition: per-edge TCP, flow, drop and DNS series rendered from the edge
// tables (label strings made once per edge and kept beside it), the packet part's self-metrics, BPF
// run times, the agent's own metrics, and whatever extra sources the command composed in (custom
// programs).
import { header, labelString, sample, type MetricDef } from '../../lib/exposition.js';
import { leLabels, renderHistogram } from '../../lib/histogram.js';
import { renderBpfRuns, type BpfRunRow } from '../../lib/metrics.js';
import { CONNECT_BUCKETS, DNS_BUCKETS, DURATION_BUCKETS, RTT_BUCKETS, type Distribution } from '../../model/distribution.js';
import { REQUEST_BUCKETS, type RequestEdgeIdentity } from '../../model/requests.js';
import { FAIL_REASONS, type DnsIdentity, type DropIdentity, type FlowEdgeIdentity, type TcpEdgeIdentity } from '../../model/edge.js';
import type { Workload } from '../../model/workload.js';
import type { DnsEdge } from '../dns/edge.js';
import type { DnsTracker } from '../dns/tracker.js';
import type { DropEdge } from '../drops/edge.js';
import type { FlowEdge } from '../flows/edge.js';
import type { FlowTracer, FlowTracerStats } from '../flows/tracer.js';
import type { IpfixExporter } from './ipfix.js';
import type { NdjsonWriter } from './ndjson.js';
import { PACKET_METRICS, REQUEST_METRICS, SELF_METRICS, TCP_METRICS } from '../metrics.js';
import type { RequestEdge } from '../l7/edge.js';
import type { TcpEdge } from '../tcp/edge.js';

const CONNECT_LE = leLabels(CONNECT_BUCKETS);
const RTT_LE = leLabels(RTT_BUCKETS);
const DURATION_LE = leLabels(DURATION_BUCKETS);
const DNS_LE = leLabels(DNS_BUCKETS);
const REQUEST_LE = leLabels(REQUEST_BUCKETS);

/** Label strings of objects made once (a series' own), forgotten with them. */
class SeriesLabels {
  private readonly cache = new WeakMap<object, string>();
  of(o: object, make: () => string): string {
    let s = this.cache.get(o);
    if (s === undefined) this.cache.set(o, (s = make()));
    return s;
  }
}

/** Label strings, made once per edge object and forgotten with it. */
class LabelCache<E extends object> {
  private readonly cache = new WeakMap<E, string>();
  constructor(private readonly make: (e: E) => string) {}
  of(e: E): string {
    let s = this.cache.get(e);
    if (s === undefined) this.cache.set(e, (s = this.make(e)));
    return s;
  }
}

function workloadPairs(w: Workload, prefix: string, fields: ReadonlyArray<keyof Workload>): Array<[string, string]> {
  return fields.map((f) => [`${prefix}${f}`, w[f]]);
}

const LOCAL_FIELDS = ['container', 'pod', 'namespace', 'workload'] as const;
const REMOTE_FIELDS = ['container', 'pod', 'namespace', 'workload', 'service'] as const;
const POD_FIELDS = ['namespace', 'pod', 'workload'] as const;

/** The labels of an edge between two workloads (TCP, requests), `extra` after the port. */
function endToEndPairs(i: TcpEdgeIdentity | RequestEdgeIdentity, extra: Array<[string, string]> = []): Array<[string, string]> {
  return [
    ['role', i.role],
    ['process', i.process],
    ['cgroup', i.cgroup],
    ['peer_addr', i.peer],
    ['port', String(i.port)],
    ...extra,
    ...workloadPairs(i.local, '', LOCAL_FIELDS),
    ...workloadPairs(i.remote, 'peer_', REMOTE_FIELDS),
  ];
}

export function tcpLabels(i: TcpEdgeIdentity): string {
  return labelString(endToEndPairs(i));
}

export function flowLabels(i: FlowEdgeIdentity): string {
  return labelString([
    ['direction', i.direction],
    ['protocol', i.protocol],
    ['interface', i.interface],
    ['peer_addr', i.peer],
    ['peer_dns', i.peerDns],
    ['port', String(i.port)],
  ]);
}

export function dropLabels(i: DropIdentity): string {
  return labelString([
    ['reason', i.reason],
    ['direction', i.direction],
    ['protocol', i.protocol],
    ['peer_addr', i.peer],
    ['port', String(i.port)],
    ...workloadPairs(i.local, '', POD_FIELDS),
    ...workloadPairs(i.remote, 'peer_', POD_FIELDS),
  ]);
}

export function dnsLabels(i: DnsIdentity): string {
  return labelString([['qtype', i.qtype], ['server', i.server], ...workloadPairs(i.client, '', POD_FIELDS)]);
}

export function requestLabels(i: RequestEdgeIdentity): string {
  return labelString(endToEndPairs(i, [['tls', String(i.tls)]]));
}

/** The packet part's pieces that have metrics. */
export interface PacketSources {
  tracer: FlowTracer;
  dns: DnsTracker | undefined;
  ndjson: NdjsonWriter | undefined;
  ipfix: IpfixExporter | undefined;
}

export class PrometheusExporter {
  private readonly tcp = new LabelCache<TcpEdge>((e) => tcpLabels(e.identity));
  private readonly flow = new LabelCache<FlowEdge>((e) => flowLabels(e.identity));
  private readonly drop = new LabelCache<DropEdge>((e) => dropLabels(e.identity));
  private readonly dns = new LabelCache<DnsEdge>((e) => dnsLabels(e.identity));
  private readonly request = new LabelCache<RequestEdge>((e) => requestLabels(e.identity));
  private readonly series = new SeriesLabels();

  renderTcp(out: string[], edges: Iterable<TcpEdge>): void {
    const list = [...edges];
    const M = TCP_METRICS;
    const labels = list.map((e) => this.tcp.of(e));
    const simple: Array<[MetricDef, (e: TcpEdge) => number]> = [
      [M.opened, (e) => e.opened],
      [M.adopted, (e) => e.adopted],
      [M.closed, (e) => e.closed],
      [M.active, (e) => e.active],
      [M.untracked, (e) => e.untracked],
      [M.sent, (e) => e.sentBytes],
      [M.received, (e) => e.receivedBytes],
      [M.retransmits, (e) => e.retransmits],
    ];
    for (const [def, get] of simple) {
      header(out, def);
      for (let i = 0; i < list.length; i++) sample(out, def.name, labels[i]!, get(list[i]!));
    }
    header(out, M.failures);
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!.failures;
      for (let r = 0; r < FAIL_REASONS.length; r++) if (f[r]! > 0) sample(out, M.failures.name, `${labels[i]},reason="${FAIL_REASONS[r]}"`, f[r]!);
    }
    header(out, M.resets);
    for (let i = 0; i < list.length; i++) {
      sample(out, M.resets.name, `${labels[i]},direction="sent"`, list[i]!.resetsSent);
      sample(out, M.resets.name, `${labels[i]},direction="received"`, list[i]!.resetsReceived);
    }
    header(out, M.localAddress);
    for (let i = 0; i < list.length; i++) for (const a of list[i]!.localAddrs) sample(out, M.localAddress.name, `${labels[i]},local_addr="${a}"`, 1);
    const histograms: Array<[MetricDef, (e: TcpEdge) => TcpEdge['rtt'], readonly string[]]> = [
      [M.connectDuration, (e) => e.connectDuration, CONNECT_LE],
      [M.rtt, (e) => e.rtt, RTT_LE],
      [M.duration, (e) => e.duration, DURATION_LE],
    ];
    for (const [def, get, le] of histograms) {
      header(out, def);
      for (let i = 0; i < list.length; i++) {
        const h = get(list[i]!);
        if (h) renderHistogram(out, def.name, labels[i]!, h, le);
      }
    }
  }

  /** HTTP and gRPC requests per edge (series label strings made once and kept with the series). */
  renderRequests(out: string[], edges: Iterable<RequestEdge>): void {
    const M = REQUEST_METRICS;
    const http: Array<[string, { count: number; duration: Distribution }]> = [];
    const grpc: Array<[string, { count: number; duration: Distribution }]> = [];
    for (const e of edges) {
      const base = this.request.of(e);
      for (const s of e.http.values()) http.push([this.series.of(s, () => `${base},${labelString([['method', s.method], ['status', s.status], ['route', s.route]])}`), s]);
      for (const s of e.grpc.values()) grpc.push([this.series.of(s, () => `${base},${labelString([['service', s.service], ['method', s.method], ['code', s.code]])}`), s]);
    }
    const families: Array<[MetricDef, MetricDef, typeof http]> = [
      [M.httpRequests, M.httpDuration, http],
      [M.grpcRequests, M.grpcDuration, grpc],
    ];
    for (const [counter, histogram, rows] of families) {
      header(out, counter);
      for (const [labels, s] of rows) sample(out, counter.name, labels, s.count);
      header(out, histogram);
      for (const [labels, s] of rows) renderHistogram(out, histogram.name, labels, s.duration, REQUEST_LE);
    }
  }

  renderPackets(out: string[], p: PacketSources): void {
    const t = p.tracer;
    header(out, PACKET_METRICS.packets);
    for (const e of t.edges.values()) sample(out, PACKET_METRICS.packets.name, this.flow.of(e), e.packets);
    header(out, PACKET_METRICS.bytes);
    for (const e of t.edges.values()) sample(out, PACKET_METRICS.bytes.name, this.flow.of(e), e.bytes);
    header(out, PACKET_METRICS.drops);
    for (const e of t.drops.values()) sample(out, PACKET_METRICS.drops.name, this.drop.of(e), e.packets);
    if (p.dns) this.renderDns(out, p.dns);
    this.renderFlowStats(out, t.stats());
    const S = SELF_METRICS;
    if (p.ndjson) {
      header(out, S.flowRecordsDropped);
      sample(out, S.flowRecordsDropped.name, 'sink="ndjson"', p.ndjson.dropped);
    }
    if (p.ipfix) {
      header(out, S.ipfixRecords);
      sample(out, S.ipfixRecords.name, '', p.ipfix.sentRecords);
      header(out, S.ipfixMessages);
      sample(out, S.ipfixMessages.name, '', p.ipfix.sentMessages);
      header(out, S.ipfixErrors);
      sample(out, S.ipfixErrors.name, '', p.ipfix.errors);
    }
  }

  private renderDns(out: string[], dns: DnsTracker): void {
    const M = PACKET_METRICS;
    header(out, M.dnsRequests);
    for (const e of dns.edges.values()) {
      const labels = this.dns.of(e);
      for (const [rcode, n] of e.byRcode) sample(out, M.dnsRequests.name, `rcode="${rcode}",${labels}`, n);
    }
    header(out, M.dnsDuration);
    for (const e of dns.edges.values()) if (e.duration) renderHistogram(out, M.dnsDuration.name, this.dns.of(e), e.duration, DNS_LE);
    header(out, SELF_METRICS.dnsParseErrors);
    sample(out, SELF_METRICS.dnsParseErrors.name, '', dns.parseErrors);
    header(out, SELF_METRICS.dnsNames);
    sample(out, SELF_METRICS.dnsNames.name, '', dns.namesKnown);
  }

  private renderFlowStats(out: string[], s: FlowTracerStats): void {
    const S = SELF_METRICS;
    const one = (def: MetricDef, v: number): void => {
      header(out, def);
      sample(out, def.name, '', v);
    };
    one(S.flowSpilled, s.spilled);
    header(out, S.flowLost);
    for (const [source, n] of Object.entries(s.lost)) sample(out, S.flowLost.name, labelString([['source', source]]), n);
    one(S.dropsWithoutAddresses, s.dropsWithoutAddresses);
    if (s.dropEntries) {
      one(S.dropEntries, s.dropEntries.live);
      one(S.dropEntriesEvicted, s.dropEntries.evicted);
    }
    one(S.nonIp, s.nonIp);
    one(S.flows, s.flows);
    one(S.edgeEntries, s.edgeEntries);
    one(S.evicted, s.evicted);
    one(S.pressure, s.pressureIntervals);
    if (s.cache) {
      one(S.cacheRetries, s.cache.retries);
      one(S.cacheDeferred, s.cache.deferred);
      one(S.cachePending, s.cache.pending);
      one(S.cacheFlushErrors, s.cache.errors);
    }
    one(S.interfaces, s.interfaces);
    one(S.linkOverruns, s.linkOverruns);
    one(S.flowRolledUp, s.rolledUp);
  }

  renderBpfRuns(out: string[], rows: readonly BpfRunRow[], withStats: boolean): void {
    renderBpfRuns(out, rows, withStats);
  }
}
