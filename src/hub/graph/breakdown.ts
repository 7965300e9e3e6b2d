// The failure domain behind an edge's problems: its fine edges split by one domain (version, pod,
// node, zone, image, process or port) on each end, each part with its share of the traffic and
// its share of the problems (failed connections, resets, slow connects and round trips, and failed
// requests where the agents capture them).
// Parts are ranked by how much of the problem they hold; a part that carries all of the traffic
// (the only client, say) explains nothing and goes after those that do.
import { C, distribution, failureCount, failuresOf, mergedDistribution, newSide, addInto, quantileOrNull, requestSide, round, type Side } from './counters.js';
import type { Distribution } from '../../model/distribution.js';
import type { Endpoint } from './endpoint.js';
import type { ViewEdge } from './graph.js';

const SLOW_FLOOR_SECONDS = 0.001;
const NO_SIDE = new Float64Array(0);

export { BREAKDOWN_DOMAINS as DOMAINS, type Breakdown, type BreakdownPart, type BreakdownDomain as Domain } from '../../model/api.js';
import type { Breakdown, BreakdownPart, BreakdownDomain as Domain } from '../../model/api.js';

/** The part of a domain an end belongs to. */
export function domainValue(e: Endpoint, by: Domain, port: number): string {
  switch (by) {
    case 'version':
      return e.version || (e.image.includes(':') ? e.image.slice(e.image.lastIndexOf(':') + 1) : '') || '(unknown)';
    case 'pod':
      return e.pod || (e.kind === 'process' ? `${e.process}@${e.node}` : e.dns || e.addr || '(unknown)');
    case 'node':
      return e.node || (e.kind === 'external' ? '(external)' : '(unknown)');
    case 'zone':
      return e.zone || '(unknown)';
    case 'image':
      return e.image || '(unknown)';
    case 'process':
      return e.process || (e.kind === 'process' ? '(unknown)' : e.dns || e.addr || '(unknown)');
    case 'port':
      return String(port);
  }
}

/** Observations in buckets whose lower bound is at least `threshold` (a bucket that straddles it does not count). */
export function slowCount(d: Distribution | undefined, threshold: number): number {
  if (!d || !(threshold > 0)) return 0;
  let n = 0;
  let seen = 0;
  for (let i = 0; i < d.bounds.length; i++) {
    const lower = i === 0 ? 0 : d.bounds[i - 1]!;
    if (lower >= threshold) n += d.counts[i]!;
    seen += d.counts[i]!;
  }
  // Observations above the last bound are only in count.
  if (d.bounds[d.bounds.length - 1]! >= threshold) n += Math.max(0, d.count - seen);
  return n;
}

interface Acc {
  side: 'client' | 'server';
  value: string;
  client: Side | undefined;
  server: Side | undefined;
}

export function breakdown(edge: ViewEdge, by: Domain): Breakdown {
  const parts = new Map<string, Acc>();
  const add = (side: 'client' | 'server', value: string, sides: readonly [Side | undefined, Side | undefined]): void => {
    const key = `${side}\u0000${value}`;
    let a = parts.get(key);
    if (!a) parts.set(key, (a = { side, value, client: undefined, server: undefined }));
    if (sides[0]) addInto((a.client ??= newSide()), sides[0]);
    if (sides[1]) addInto((a.server ??= newSide()), sides[1]);
  };
  for (const m of edge.members) {
    if (by !== 'port') add('client', domainValue(m.edge.client, by, m.edge.port), m.sides);
    add('server', domainValue(m.edge.server, by, m.edge.port), m.sides);
  }
  // Slow: at least four times the fastest part's median, and at least 1 ms (what healthy parts
  // do is the reference; the edge's own median would move with the problem).
  const threshold = (which: 'rtt' | 'connect'): number => {
    let fastest = Infinity;
    for (const a of parts.values()) {
      const d = which === 'rtt' ? mergedDistribution(a.client, a.server, 'rtt') : a.client ? distribution(a.client, 'connect') : undefined;
      const p50 = quantileOrNull(0.5, d);
      if (p50 !== null) fastest = Math.min(fastest, p50);
    }
    return Number.isFinite(fastest) ? Math.max(4 * fastest, SLOW_FLOOR_SECONDS) : Infinity;
  };
  const rttSlow = threshold('rtt');
  const connectSlow = threshold('connect');
  const measure = (client: Side | undefined, server: Side | undefined) => {
    const main = client ?? server ?? newSide();
    const failures = client ? failureCount(client) : 0;
    const resets = main[C.resetsSent]! + main[C.resetsReceived]!;
    const slow = slowCount(mergedDistribution(client, server, 'rtt'), rttSlow) + slowCount(client ? distribution(client, 'connect') : undefined, connectSlow);
    const none = NO_SIDE;
    const r = requestSide(client ?? none, client ? 0 : -1, server ?? none, server ? 0 : -1);
    const requestErrors = r < 0 ? 0 : (r === 0 ? client : server)![C.requestErrors]!;
    return { connections: main[C.opened]!, failures, resets, slow, requestErrors, requests: r >= 0 };
  };
  const total = measure(edge.client, edge.server);
  const problems = total.failures + total.resets + total.slow + total.requestErrors;
  const share = (n: number, of: number): number => (of > 0 ? round(n / of) : 0);
  const out: BreakdownPart[] = [...parts.values()].map((a) => {
    const m = measure(a.client, a.server);
    return {
      side: a.side,
      value: a.value,
      connections: round(m.connections),
      traffic_share: share(m.connections, total.connections),
      failures: a.client ? failuresOf(a.client) : {},
      failure_count: round(m.failures),
      failure_share: share(m.failures, total.failures),
      resets: round(m.resets),
      slow: round(m.slow),
      slow_share: share(m.slow, total.slow),
      problem_share: share(m.failures + m.resets + m.slow + m.requestErrors, problems),
      ...(total.requests ? { request_errors: round(m.requestErrors), request_error_share: share(m.requestErrors, total.requestErrors) } : {}),
      rtt_p99_seconds: quantileOrNull(0.99, mergedDistribution(a.client, a.server, 'rtt')),
      connect_p99_seconds: quantileOrNull(0.99, a.client ? distribution(a.client, 'connect') : undefined),
    };
  });
  const explainsNothing = (p: BreakdownPart): number => (p.traffic_share >= 0.999 ? 1 : 0);
  out.sort((a, b) => explainsNothing(a) - explainsNothing(b) || b.problem_share - a.problem_share || b.problem_share - b.traffic_share - (a.problem_share - a.traffic_share) || a.value.localeCompare(b.value));
  return {
    by,
    total: {
      connections: round(total.connections),
      failures: round(total.failures),
      resets: round(total.resets),
      slow: round(total.slow),
      slow_rtt_seconds: Number.isFinite(rttSlow) ? rttSlow : null,
      slow_connect_seconds: Number.isFinite(connectSlow) ? connectSlow : null,
      ...(total.requests ? { request_errors: round(total.requestErrors) } : {}),
    },
    parts: out,
  };
}
