// Request edges: per (role, process, cgroup, local workload, peer, service port, TLS) the requests by
// method, status and route (HTTP) and by service, method and code (gRPC), kept in the generic edge
// table. Routes are bounded per edge: past the bound, new routes count as "other".
import { Histogram } from '../../lib/histogram.js';
import { ROLLUP_PEER } from '../../model/edge.js';
import { REQUEST_BUCKETS, type Exchange, type GrpcSeries, type HttpSeries, type RequestCounters, type RequestEdgeIdentity } from '../../model/requests.js';
import { NO_WORKLOAD } from '../../model/workload.js';
import type { EdgeBase, EdgeKind } from '../edges/table.js';
import { routeOf, RouteSet } from './route.js';

export class RequestEdge implements RequestCounters, EdgeBase<RequestEdgeIdentity> {
  readonly http = new Map<string, HttpSeries & { duration: Histogram }>();
  readonly grpc = new Map<string, GrpcSeries & { duration: Histogram }>();
  readonly routes: RouteSet;

  constructor(
    readonly identity: RequestEdgeIdentity,
    public lastActivityMs: number,
    maxRoutes: number,
  ) {
    this.routes = new RouteSet(maxRoutes);
  }

  add(x: Exchange, nowMs = Date.now()): void {
    this.lastActivityMs = nowMs;
    const seconds = Math.max(0, x.endNs - x.startNs) / 1e9;
    if (x.grpc) {
      const code = x.grpc.code || 'none';
      const key = `${x.grpc.service}\u0000${x.grpc.method}\u0000${code}`;
      let s = this.grpc.get(key);
      if (!s) this.grpc.set(key, (s = { service: x.grpc.service, method: x.grpc.method, code, count: 0, duration: new Histogram(REQUEST_BUCKETS) }));
      s.count++;
      s.duration.observe(seconds);
      return;
    }
    const s = this.httpSeries(x.method, x.status, x.path, x.pathTruncated);
    s.count++;
    s.duration.observe(seconds);
  }

  /**
   * Exchanges counted in the kernel: `count` of them, their durations' sum and their growth per
   * request bucket (REQUEST_BUCKETS, then one slot above the last bound).
   */
  addCounted(method: string, status: number, path: string, pathTruncated: boolean, count: number, sumNs: number, buckets: Float64Array, nowMs = Date.now()): void {
    this.lastActivityMs = nowMs;
    const s = this.httpSeries(method, status, path, pathTruncated);
    s.count += count;
    const d = s.duration;
    for (let i = 0; i < d.counts.length; i++) d.counts[i]! += buckets[i]!;
    d.sum += sumNs / 1e9;
    d.count += count;
  }

  private httpSeries(method: string, statusCode: number, path: string, pathTruncated: boolean): HttpSeries & { duration: Histogram } {
    const route = this.routes.admit(routeOf(path, pathTruncated));
    const status = statusCode ? String(statusCode) : 'none';
    const key = `${method}\u0000${status}\u0000${route}`;
    let s = this.http.get(key);
    if (!s) this.http.set(key, (s = { method, status, route, count: 0, duration: new Histogram(REQUEST_BUCKETS) }));
    return s;
  }
}

export function requestEdgeKind(maxRoutes: number): EdgeKind<RequestEdgeIdentity, RequestEdge> {
  return {
    keyOf: (i) => `${i.role}\u0000${i.process}\u0000${i.cgroup}\u0000${i.peer}\u0000${i.port}\u0000${i.tls}\u0000${i.local.key}\u0000${i.remote.key}`,
    create: (identity, nowMs) => new RequestEdge(identity, nowMs, maxRoutes),
    rollup: (i, level) => ({ ...i, peer: ROLLUP_PEER, remote: NO_WORKLOAD, port: level === 2 ? 0 : i.port }),
    isRollup: (i) => i.peer === ROLLUP_PEER,
  };
}
