// Drop edges: packets the kernel dropped, by reason, direction, protocol, peer, port and both ends'
// workloads, kept in the generic edge table (past the cap: peer "other", port 0).
import { ROLLUP_PEER, type DropCounters, type DropIdentity } from '../../model/edge.js';
import { NO_WORKLOAD } from '../../model/workload.js';
import type { EdgeBase, EdgeKind } from '../edges/table.js';

export interface DropEdge extends DropCounters, EdgeBase<DropIdentity> {}

export const dropEdgeKind: EdgeKind<DropIdentity, DropEdge> = {
  keyOf: (i) => `${i.reason}\u0000${i.direction}\u0000${i.protocol}\u0000${i.peer}\u0000${i.port}\u0000${i.local.key}\u0000${i.remote.key}`,
  create: (identity, nowMs) => ({ identity, lastActivityMs: nowMs, packets: 0 }),
  rollup: (i) => ({ ...i, peer: ROLLUP_PEER, port: 0, remote: NO_WORKLOAD }),
  isRollup: (i) => i.peer === ROLLUP_PEER,
};
