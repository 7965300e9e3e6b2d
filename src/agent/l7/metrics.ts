// Requests per edge: counts and durations by method, status and route (HTTP), by service, method
// and code (gRPC). An edge is (role, process, cgroup, peer address, service port), as for TCP.
// Routes are bounded per edge; edges past the series cap roll up into peer_addr="other".
import { Histogram } from '../metrics/histogram.js';
import { formatValue, header, labelString, sample, type MetricDef } from '../metrics/exposition.js';
import { routeOf, RouteSet } from './route.js';
import type { Exchange } from './types.js';

export const HTTP_REQUESTS: MetricDef = { name: 'flowscope_http_requests_total', type: 'counter', help: 'HTTP requests answered (or reset), per edge, by method, status and route (the path with identifiers collapsed)' };
export const HTTP_DURATION: MetricDef = { name: 'flowscope_http_request_duration_seconds', type: 'histogram', help: 'HTTP request duration: from the request head to the end of the response body, per edge, by method, status and route' };
export const GRPC_REQUESTS: MetricDef = { name: 'flowscope_grpc_requests_total', type: 'counter', help: 'gRPC calls per edge, by service, method and status code' };
export const GRPC_DURATION: MetricDef = { name: 'flowscope_grpc_request_duration_seconds', type: 'histogram', help: 'gRPC call duration: from the request headers to the end of the response stream, per edge, by service, method and code' };

/** 250 µs to 10 s. */
export const REQUEST_BUCKETS: readonly number[] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LE = REQUEST_BUCKETS.map(formatValue);
const ROLLUP_PEER = 'other';

interface Series {
  readonly labels: string;
  count: number;
  readonly duration: Histogram;
}

interface L7Edge {
  readonly labels: Array<[string, string]>;
  readonly routes: RouteSet;
  readonly http: Map<string, Series>;
  readonly grpc: Map<string, Series>;
  lastMs: number;
}

export interface L7MetricsOptions {
  /** Edges (role, process, cgroup, peer, port) before new ones roll up into peer_addr="other". */
  maxEdges: number;
  /** Distinct routes per edge before new ones count as route="other". */
  maxRoutes: number;
  /** cgroup label of a cgroup id (default: the id). */
  cgroupName?: (id: number) => string;
}

export class L7Metrics {
  private readonly edges = new Map<string, L7Edge>();
  private own = 0;
  edgesRolledUp = 0;

  constructor(private readonly options: L7MetricsOptions) {}

  get size(): number {
    return this.edges.size;
  }

  /** Requests whose route was counted as "other" because their edge had too many routes. */
  get routesRolledUp(): number {
    let n = 0;
    for (const e of this.edges.values()) n += e.routes.overflowed;
    return n;
  }

  add(x: Exchange, nowMs = Date.now()): void {
    const edge = this.edgeOf(x, nowMs);
    edge.lastMs = nowMs;
    const seconds = Math.max(0, x.endNs - x.startNs) / 1e9;
    if (x.grpc) {
      const key = `${x.grpc.service}\0${x.grpc.method}\0${x.grpc.code}`;
      let s = edge.grpc.get(key);
      if (!s) {
        s = series(labelString([...edge.labels, ['service', x.grpc.service], ['method', x.grpc.method], ['code', x.grpc.code || 'none']]));
        edge.grpc.set(key, s);
      }
      s.count++;
      s.duration.observe(seconds);
      return;
    }
    const route = edge.routes.admit(routeOf(x.path, x.pathTruncated));
    const status = x.status ? String(x.status) : 'none';
    const key = `${x.method}\0${status}\0${route}`;
    let s = edge.http.get(key);
    if (!s) {
      s = series(labelString([...edge.labels, ['method', x.method], ['status', status], ['route', route]]));
      edge.http.set(key, s);
    }
    s.count++;
    s.duration.observe(seconds);
  }

  private edgeOf(x: Exchange, nowMs: number): L7Edge {
    const c = x.conn;
    const port = x.role === 'server' ? c.localPort : c.peerPort;
    const cgroup = this.options.cgroupName?.(c.cgroupId) ?? String(c.cgroupId);
    let peer = c.peer;
    let key = `${x.role}\0${c.comm}\0${cgroup}\0${peer}\0${port}\0${x.tls}`;
    let e = this.edges.get(key);
    if (e) return e;
    if (this.own >= this.options.maxEdges) {
      this.edgesRolledUp++;
      peer = ROLLUP_PEER;
      key = `${x.role}\0${c.comm}\0${cgroup}\0${peer}\0${port}\0${x.tls}`;
      e = this.edges.get(key);
      if (e) return e;
    } else {
      this.own++;
    }
    e = {
      labels: [
        ['role', x.role],
        ['process', c.comm],
        ['cgroup', cgroup],
        ['peer_addr', peer],
        ['port', String(port)],
        ['tls', String(x.tls)],
      ],
      routes: new RouteSet(this.options.maxRoutes),
      http: new Map(),
      grpc: new Map(),
      lastMs: nowMs,
    };
    this.edges.set(key, e);
    return e;
  }

  /** Forgets edges without requests for `idleMs`. */
  evictIdle(idleMs: number, nowMs = Date.now()): void {
    for (const [k, e] of this.edges) {
      if (nowMs - e.lastMs > idleMs) {
        this.edges.delete(k);
        if (e.labels[3]![1] !== ROLLUP_PEER) this.own--;
      }
    }
  }

  render(out: string[]): void {
    const edges = [...this.edges.values()];
    renderFamily(out, HTTP_REQUESTS, HTTP_DURATION, edges.flatMap((e) => [...e.http.values()]));
    renderFamily(out, GRPC_REQUESTS, GRPC_DURATION, edges.flatMap((e) => [...e.grpc.values()]));
  }
}

function series(labels: string): Series {
  return { labels, count: 0, duration: new Histogram(REQUEST_BUCKETS) };
}

function renderFamily(out: string[], counter: MetricDef, histogram: MetricDef, all: Series[]): void {
  if (all.length === 0) return;
  header(out, counter);
  for (const s of all) sample(out, counter.name, s.labels, s.count);
  header(out, histogram);
  for (const s of all) {
    const h = s.duration;
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i]!;
      out.push(`${histogram.name}_bucket{${s.labels},le="${LE[i]}"} ${cumulative}`);
    }
    out.push(`${histogram.name}_bucket{${s.labels},le="+Inf"} ${h.count}`);
    sample(out, `${histogram.name}_sum`, s.labels, h.sum);
    sample(out, `${histogram.name}_count`, s.labels, h.count);
  }
}
