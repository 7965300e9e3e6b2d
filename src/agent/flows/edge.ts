// Packet-level edges: (direction, protocol, interface, peer address, service port, peer's DNS name)
// with packet and byte counters that only grow, kept in the generic edge table.
import { ROLLUP_PEER, type FlowCounters, type FlowEdgeIdentity } from '../../model/edge.js';
import type { EdgeBase, EdgeKind } from '../edges/table.js';

export interface FlowEdge extends FlowCounters, EdgeBase<FlowEdgeIdentity> {}

export const flowEdgeKind: EdgeKind<FlowEdgeIdentity, FlowEdge> = {
  keyOf: (i) => `${i.direction}\u0000${i.protocol}\u0000${i.interface}\u0000${i.peer}\u0000${i.port}\u0000${i.peerDns}`,
  create: (identity, nowMs) => ({ identity, lastActivityMs: nowMs, packets: 0, bytes: 0 }),
  rollup: (i, level) => ({ ...i, peer: ROLLUP_PEER, peerDns: '', port: level === 2 ? 0 : i.port }),
  isRollup: (i) => i.peer === ROLLUP_PEER,
};

/** Adds what a kernel entry's totals grew by since the last read to its edge. */
export function creditEdge(st: { edge: FlowEdge; packets: number; bytes: number }, packets: number, bytes: number, nowMs: number): void {
  const dp = packets - st.packets;
  const db = bytes - st.bytes;
  if (dp > 0 || db > 0) {
    st.edge.packets += dp;
    st.edge.bytes += db;
    st.edge.lastActivityMs = nowMs;
    st.packets = packets;
    st.bytes = bytes;
  }
}
