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
    const route = this.routes.admit(routeOf(x.path, x.pathTruncated));
    const status = x.status ? String(x.status) : 'none';
    const key = `${x.method}\u0000${status}\u0000${route}`;
    let s = this.http.get(key);
    if (!s) this.http.set(key, (s = { method: x.method, status, route, count: 0, duration: new Histogram(REQUEST_BUCKETS) }));
    s.count++;
    s.duration.observe(seconds);
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
