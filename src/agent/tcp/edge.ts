// TCP edges: counters of one (role, process, cgroup, local workload, peer, service port), kept in the
// generic edge table. Connections come and go; an edge's counters only ever grow.
import { Histogram } from '../../lib/histogram.js';
import { CONNECT_BUCKETS, DURATION_BUCKETS, RTT_BUCKETS } from '../../model/distribution.js';
import { FAIL_REASONS, ROLLUP_PEER, type TcpCounters, type TcpEdgeIdentity } from '../../model/edge.js';
import { NO_WORKLOAD } from '../../model/workload.js';
import type { EdgeBase, EdgeKind } from '../edges/table.js';

export class TcpEdge implements TcpCounters, EdgeBase<TcpEdgeIdentity> {
  opened = 0;
  adopted = 0;
  closed = 0;
  active = 0;
  untracked = 0;
  readonly failures = new Float64Array(FAIL_REASONS.length);
  sentBytes = 0;
  receivedBytes = 0;
  retransmits = 0;
  resetsSent = 0;
  resetsReceived = 0;
  connectDuration: Histogram | undefined;
  rtt: Histogram | undefined;
  duration: Histogram | undefined;
  /** Local addresses of its connections (bounded): the other side's agent sees them as its peer (the hub's join). */
  readonly localAddrs = new Set<string>();

  constructor(
    readonly identity: TcpEdgeIdentity,
    public lastActivityMs: number,
  ) {}

  observeConnect(seconds: number): void {
    (this.connectDuration ??= new Histogram(CONNECT_BUCKETS)).observe(seconds);
  }

  observeRtt(seconds: number): void {
    (this.rtt ??= new Histogram(RTT_BUCKETS)).observe(seconds);
  }

  observeDuration(seconds: number): void {
    (this.duration ??= new Histogram(DURATION_BUCKETS)).observe(seconds);
  }

  touch(nowMs = Date.now()): void {
    this.lastActivityMs = nowMs;
  }
}

export const tcpEdgeKind: EdgeKind<TcpEdgeIdentity, TcpEdge> = {
  keyOf: (i) => `${i.role}\u0000${i.process}\u0000${i.cgroup}\u0000${i.peer}\u0000${i.port}\u0000${i.local.key}\u0000${i.remote.key}`,
  create: (identity, nowMs) => new TcpEdge(identity, nowMs),
  // Roll-ups stay bounded by (role, process, cgroup, local end, port); past twice the cap the port
  // folds too. The peer's workload goes with its address.
  rollup: (i, level) => ({ ...i, peer: ROLLUP_PEER, remote: NO_WORKLOAD, port: level === 2 ? 0 : i.port }),
  isRollup: (i) => i.peer === ROLLUP_PEER,
  pinned: (e) => e.active > 0,
};
