// The graph and its history computed with PromQL from a Prometheus-compatible store (Prometheus,
// VictoriaMetrics, Mimir, Thanos) that scrapes the agents: the hub keeps no state, so several
// replicas can serve behind a load balancer. Each query asks for the window's increase of every
// per-edge counter (and the histograms' buckets), makes one side record per series, and runs the
// same join as the embedded store over that window: the same edges, with counts as PromQL's
// increase() gives them (extrapolated to the window's bounds) for series that existed before the
// window. A series born inside it (a new edge) counts from zero: its last value (counterGrowth).
//
// Scrape configuration: each agent target carries a `node` label (and `zone`), e.g.
// static_configs: [{targets: ['10.0.0.5:9387'], labels: {node: node-a, zone: zone-1}}] or, on
// Kubernetes, relabelling __meta_kubernetes_pod_node_name to node. Without it, `instance` is the node.
import type { Logger } from 'pino';
import type { wire } from '../../model/index.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import { FAIL_REASONS, type FailReason } from '../../model/edge.js';
import { REQUEST_BUCKETS, grpcStatusKey, httpStatusClass, isRequestError } from '../../model/requests.js';
import { addInto, newSide, type Side } from '../graph/counters.js';
import { EdgeDictionary } from '../graph/edges.js';
import { EndpointDictionary, endpointKey } from '../graph/endpoint.js';
import { Joiner } from '../graph/join.js';
import { fineTotalsOf, type FineTotals } from '../graph/fine-totals.js';
import type { EdgeTotals, GraphStore, KnownEndpoint, ResolvedEdge, SeriesPoint, Window } from './store.js';

export interface PrometheusStoreOptions {
  url: string;
  retentionMs: number;
  /** The scrape interval (ms): the finest step, and how often the stream polls. */
  stepMs: number;
  log: Logger;
  timeoutMs?: number;
}

const EDGE_LABELS = ['node', 'zone', 'instance', 'role', 'process', 'cgroup', 'peer_addr', 'port', 'container', 'pod', 'namespace', 'workload', 'peer_container', 'peer_pod', 'peer_namespace', 'peer_workload', 'peer_service'] as const;
const BY = EDGE_LABELS.join(', ');

type Labels = Record<string, string>;
interface PromSample {
  metric: Labels;
  value?: [number, string];
  values?: Array<[number, string]>;
}

/** What one side record needs, filled from several queries. */
interface Acc {
  labels: Labels;
  record: wire.TcpEdgeV1;
  connectCum: Map<number, number>;
  rttCum: Map<number, number>;
  /** Requests of the side's request edges (HTTP and gRPC together), when the agent captures them. */
  requests: wire.RequestsV1 | undefined;
  requestCum: Map<number, number>;
}

/** A bucket's bound from its le label ("+Inf", which Number() does not read, is the count). */
const leOf = (m: Labels): number => (m.le === '+Inf' ? Infinity : Number(m.le));

/** Requests of one status key (an HTTP class, a gRPC code) added to a side record's. */
function addRequests(acc: Acc, status: string, n: number): void {
  const r = (acc.requests ??= { count: 0, errors: 0, by_status: {} });
  r.count += n;
  if (isRequestError(status)) r.errors += n;
  r.by_status[status] = (r.by_status[status] ?? 0) + n;
}

const COUNTERS: Array<[string, keyof wire.TcpEdgeV1]> = [
  ['flowscope_tcp_connections_opened_total', 'opened'],
  ['flowscope_tcp_connections_closed_total', 'closed'],
  ['flowscope_tcp_sent_bytes_total', 'bytes_sent'],
  ['flowscope_tcp_received_bytes_total', 'bytes_received'],
  ['flowscope_tcp_retransmits_total', 'retransmits'],
];

/**
 * How much a counter grew over the range `r`. A series that existed before the range: increase().
 * A series born inside it (an edge's first connections): its last value, since the agent's counters
 * start at zero with the edge. increase() alone sees only the growth between a new series' samples
 * and loses what the first scrape found (Prometheus; VictoriaMetrics counts it): up to a scrape
 * interval of each new edge's traffic.
 */
export function counterGrowth(selector: string, r: string): string {
  return `(increase(${selector}[${r}]) and (${selector} offset ${r})) or last_over_time(${selector}[${r}])`;
}

export class PrometheusError extends Error {
  override name = 'PrometheusError';
}

export class PrometheusStore implements GraphStore {
  readonly kind = 'prometheus' as const;
  readonly retentionMs: number;
  readonly stepMs: number;
  private readonly endpointsDict = new EndpointDictionary();
  private readonly edgesDict = new EdgeDictionary();
  private readonly base: string;

  constructor(private readonly o: PrometheusStoreOptions) {
    this.retentionMs = o.retentionMs;
    this.stepMs = o.stepMs;
    this.base = o.url.replace(/\/+$/, '');
  }

  private async api(path: string, params: Record<string, string>): Promise<PromSample[]> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new PrometheusError(`cannot reach ${this.base}: ${(err as Error).message}`);
    }
    const body = (await res.json().catch(() => undefined)) as { status?: string; error?: string; data?: { result: PromSample[] } } | undefined;
    if (!res.ok || body?.status !== 'success') throw new PrometheusError(`${this.base}${path} answered ${res.status}: ${body?.error ?? 'not a Prometheus API answer'}`);
    return body.data!.result;
  }

  /** Every query of one evaluation: at `time` over `rangeS` (instant), or per step (range). */
  private async fetchAll(rangeS: number, at: { time: number } | { start: number; end: number; step: number }): Promise<Map<number, Map<string, Acc>>> {
    const r = `${Math.max(1, Math.round(rangeS))}s`;
    const grown = (selector: string): string => counterGrowth(selector, r);
    const params = (query: string): [string, Record<string, string>] =>
      'time' in at ? ['/api/v1/query', { query, time: String(at.time / 1000) }] : ['/api/v1/query_range', { query, start: String(at.start / 1000), end: String(at.end / 1000), step: `${at.step / 1000}s` }];
    const queries: Array<[string, (acc: Acc, m: Labels, v: number) => void]> = [
      ...COUNTERS.map(([metric, field]): [string, (acc: Acc, m: Labels, v: number) => void] => [`sum by (${BY}) (${grown(metric)})`, (acc, _m, v) => ((acc.record[field] as number) += v)]),
      [`sum by (${BY}, reason) (${grown('flowscope_tcp_connect_failures_total')})`, (acc, m, v) => {
        const reason = (FAIL_REASONS as readonly string[]).includes(m.reason ?? '') ? (m.reason as FailReason) : 'other';
        (acc.record.failures ??= {})[reason] = (acc.record.failures[reason] ?? 0) + v;
      }],
      [`sum by (${BY}, direction) (${grown('flowscope_tcp_resets_total')})`, (acc, m, v) => (m.direction === 'sent' ? (acc.record.resets_sent += v) : (acc.record.resets_received += v))],
      [`sum by (${BY}) (last_over_time(flowscope_tcp_active_connections[${r}]))`, (acc, _m, v) => (acc.record.active += v)],
      [`sum by (${BY}, le) (${grown('flowscope_tcp_connect_duration_seconds_bucket')})`, (acc, m, v) => acc.connectCum.set(leOf(m), v)],
      [`sum by (${BY}, le) (${grown('flowscope_tcp_rtt_seconds_bucket')})`, (acc, m, v) => acc.rttCum.set(leOf(m), v)],
      // Requests (agents with --l7): their request edges carry the TCP edge's labels (and tls).
      [`sum by (${BY}, status) (${grown('flowscope_http_requests_total')})`, (acc, m, v) => addRequests(acc, httpStatusClass(m.status ?? ''), v)],
      [`sum by (${BY}, code) (${grown('flowscope_grpc_requests_total')})`, (acc, m, v) => addRequests(acc, grpcStatusKey(m.code ?? ''), v)],
      [`sum by (${BY}, le) (${grown('flowscope_http_request_duration_seconds_bucket')})`, (acc, m, v) => acc.requestCum.set(leOf(m), (acc.requestCum.get(leOf(m)) ?? 0) + v)],
      [`sum by (${BY}, le) (${grown('flowscope_grpc_request_duration_seconds_bucket')})`, (acc, m, v) => acc.requestCum.set(leOf(m), (acc.requestCum.get(leOf(m)) ?? 0) + v)],
      [`max by (${BY}, local_addr) (max_over_time(flowscope_tcp_local_address_info[${r}]))`, (acc, m) => {
        if (m.local_addr && !(acc.record.local_addrs ??= []).includes(m.local_addr)) acc.record.local_addrs.push(m.local_addr);
      }],
    ];
    const answers = await Promise.all(queries.map(([q]) => this.api(...params(q))));
    const byTime = new Map<number, Map<string, Acc>>();
    answers.forEach((samples, qi) => {
      const apply = queries[qi]![1];
      for (const s of samples) {
        const points = s.values ?? (s.value ? [s.value] : []);
        for (const [ts, text] of points) {
          const v = Number(text);
          if (!Number.isFinite(v)) continue;
          const t = Math.round(ts * 1000);
          let accs = byTime.get(t);
          if (!accs) byTime.set(t, (accs = new Map()));
          const key = EDGE_LABELS.map((l) => s.metric[l] ?? '').join('\u0000');
          let acc = accs.get(key);
          if (!acc) accs.set(key, (acc = newAcc(s.metric)));
          apply(acc, s.metric, v);
        }
      }
    });
    return byTime;
  }

  /** The join over one evaluation's side records: fine edges with their two sides. */
  private join(accs: Map<string, Acc>, w: Window): Map<number, [Side | undefined, Side | undefined]> {
    const byNode = new Map<string, { zone: string; tcp: wire.TcpEdgeV1[] }>();
    for (const acc of accs.values()) {
      const node = acc.labels.node || acc.labels.instance || 'unknown';
      let n = byNode.get(node);
      if (!n) byNode.set(node, (n = { zone: acc.labels.zone ?? '', tcp: [] }));
      const r = acc.record;
      const connect = histogram(acc.connectCum, CONNECT_BUCKETS);
      const rtt = histogram(acc.rttCum, RTT_BUCKETS);
      if (connect) r.connect = connect;
      if (rtt) r.rtt = rtt;
      if (acc.requests && acc.requests.count > 0) {
        r.requests = acc.requests;
        const duration = histogram(acc.requestCum, REQUEST_BUCKETS);
        if (duration) r.requests.duration = duration;
      }
      if (r.opened || r.closed || r.active || r.bytes_sent || r.bytes_received || r.failures || r.requests) n.tcp.push(r);
    }
    const joiner = new Joiner(this.endpointsDict, this.edgesDict);
    const batches = [...byNode].map(([node, n]) => ({ run: { node, zone: n.zone }, batch: batchOf(node, n.tcp, w) }));
    for (const b of batches) joiner.observe(b.run, b.batch, w);
    const out = new Map<number, [Side | undefined, Side | undefined]>();
    for (const b of batches) {
      for (const c of joiner.resolve(b.run, b.batch, w)) {
        let pair = out.get(c.edge);
        if (!pair) out.set(c.edge, (pair = [undefined, undefined]));
        addInto((pair[c.side] ??= newSide()), c.values);
      }
    }
    return out;
  }

  private resolved(id: number): ResolvedEdge {
    const e = this.edgesDict.get(id);
    const client = this.endpointsDict.get(e.client);
    const server = this.endpointsDict.get(e.server);
    return { key: `${endpointKey(client)}\u0002${endpointKey(server)}\u0002${e.port}`, id, client, server, port: e.port, protocol: e.protocol };
  }

  async edges(w: Window, select?: (e: ResolvedEdge) => boolean): Promise<EdgeTotals[]> {
    const byTime = await this.fetchAll((w.to - w.from) / 1000, { time: w.to });
    const accs = byTime.get(w.to) ?? [...byTime.values()][0] ?? new Map<string, Acc>();
    const out = [...this.join(accs, w)].map(([id, sides]) => ({ edge: this.resolved(id), sides }));
    return select ? out.filter((t) => select(t.edge)) : out;
  }

  async fine(w: Window, select?: (e: ResolvedEdge) => boolean): Promise<FineTotals> {
    return fineTotalsOf(await this.edges(w, select));
  }

  /** The join needs every series of the window: there is no cheaper way to a subset. */
  known(): undefined {
    return undefined;
  }

  async series(w: Window, stepMs: number, keys: ReadonlySet<string>): Promise<SeriesPoint[]> {
    const step = Math.max(stepMs, this.stepMs);
    const byTime = await this.fetchAll(step / 1000, { start: w.from + step, end: w.to, step });
    const out: SeriesPoint[] = [];
    for (const [t, accs] of [...byTime].sort((a, b) => a[0] - b[0])) {
      const point: SeriesPoint = { t, sides: [undefined, undefined] };
      for (const [id, sides] of this.join(accs, { from: t - step, to: t })) {
        if (!keys.has(this.resolved(id).key)) continue;
        for (const s of [0, 1] as const) if (sides[s]) addInto((point.sides[s] ??= newSide()), sides[s]!);
      }
      out.push(point);
    }
    return out;
  }

  async endpoints(): Promise<KnownEndpoint[]> {
    const now = Date.now();
    const totals = await this.edges({ from: now - 3_600_000, to: now });
    const seen = new Map<string, KnownEndpoint>();
    for (const t of totals) {
      for (const e of [t.edge.client, t.edge.server]) {
        const k = endpointKey(e);
        if (!seen.has(k)) seen.set(k, { endpoint: e, addrs: e.addr ? [e.addr] : [] });
      }
    }
    return [...seen.values()];
  }

  /** The last step's edges (what the stream sends). */
  async latest(): Promise<{ totals: EdgeTotals[]; from: number; to: number }> {
    const to = Date.now();
    const from = to - Math.max(this.stepMs, 5_000);
    return { totals: await this.edges({ from, to }), from, to };
  }

  async close(): Promise<void> {
    // Nothing kept.
  }
}

function newAcc(m: Labels): Acc {
  return {
    labels: m,
    record: {
      role: m.role === 'server' ? 'server' : 'client',
      process: m.process ?? '',
      cgroup: m.cgroup ?? '',
      peer: m.peer_addr ?? '',
      port: Number(m.port ?? 0),
      local: pick(m, ''),
      remote: { ...pick(m, 'peer_'), ...(m.peer_service ? { service: m.peer_service } : {}) },
      opened: 0,
      closed: 0,
      active: 0,
      bytes_sent: 0,
      bytes_received: 0,
      retransmits: 0,
      resets_sent: 0,
      resets_received: 0,
    },
    connectCum: new Map(),
    rttCum: new Map(),
    requests: undefined,
    requestCum: new Map(),
  };
}

function pick(m: Labels, prefix: string): wire.WorkloadV1 {
  const w: wire.WorkloadV1 = {};
  for (const f of ['container', 'pod', 'namespace', 'workload'] as const) if (m[`${prefix}${f}`]) w[f] = m[`${prefix}${f}`];
  return w;
}

/** Cumulative bucket increases (by le) as the model's per-bucket counts; +Inf is the count. */
function histogram(cum: Map<number, number>, bounds: readonly number[]): wire.HistogramV1 | undefined {
  const count = cum.get(Infinity) ?? 0;
  if (!(count > 0)) return undefined;
  let prev = 0;
  const counts = bounds.map((b) => {
    const c = cum.get(b) ?? prev;
    const n = Math.max(0, c - prev);
    prev = Math.max(prev, c);
    return n;
  });
  return { counts, sum: 0, count };
}

function batchOf(node: string, tcp: wire.TcpEdgeV1[], w: Window): wire.BatchV1 {
  return {
    v: 1,
    kind: 'batch',
    run: { agent: node, node, start: new Date(0).toISOString() },
    seq: 1,
    from: new Date(w.from).toISOString(),
    to: new Date(w.to).toISOString(),
    tcp,
    flows: [],
    drops: [],
    dns: [],
    losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 },
  };
}
