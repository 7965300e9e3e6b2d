// DNS edges: requests of one client workload to one server by query type, with counts by response
// code and a latency distribution, kept in the generic edge table (past the cap: server "other").
import { Histogram } from '../../lib/histogram.js';
import { DNS_BUCKETS } from '../../model/distribution.js';
import { ROLLUP_PEER, type DnsCounters, type DnsIdentity } from '../../model/edge.js';
import type { EdgeBase, EdgeKind } from '../edges/table.js';

export interface DnsEdge extends DnsCounters, EdgeBase<DnsIdentity> {
  duration: Histogram | undefined;
}

export const dnsEdgeKind: EdgeKind<DnsIdentity, DnsEdge> = {
  keyOf: (i) => `${i.qtype}\u0000${i.server}\u0000${i.client.key}`,
  create: (identity, nowMs) => ({ identity, lastActivityMs: nowMs, byRcode: new Map(), duration: undefined }),
  rollup: (i) => ({ ...i, server: ROLLUP_PEER }),
  isRollup: (i) => i.server === ROLLUP_PEER,
};

/** Counts one request of an edge, with its latency when it was answered. */
export function countRequest(e: DnsEdge, rcode: string, seconds: number | undefined, nowMs: number): void {
  e.byRcode.set(rcode, (e.byRcode.get(rcode) ?? 0) + 1);
  if (seconds !== undefined) (e.duration ??= new Histogram(DNS_BUCKETS)).observe(seconds);
  e.lastActivityMs = nowMs;
}
