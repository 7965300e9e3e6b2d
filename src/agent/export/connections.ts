// The agent's /connections: the joined view per TCP edge (both ends' identities, processes, where
// NATed connections landed), as the model's ConnectionsView.
import type { ConnectionEdgeView, ConnectionsView, EndView } from '../../model/connections.js';
import { WORKLOAD_FIELDS, type Workload, type WorkloadEnd } from '../../model/workload.js';
import type { EdgeDetails } from '../enrich/edge-details.js';
import type { TcpEdge } from '../tcp/edge.js';

function endView(e: Workload | undefined): EndView {
  if (!e) return {};
  const out: EndView = {};
  for (const k of WORKLOAD_FIELDS) if (e[k]) out[k] = e[k];
  return { ...out, ...((e as WorkloadEnd).info ?? {}) };
}

export function connectionsView(edges: Iterable<TcpEdge>, details: EdgeDetails): ConnectionsView {
  const out: ConnectionEdgeView[] = [];
  for (const edge of edges) {
    const id = edge.identity;
    const x = details.get(edge);
    const actual = x?.lastActual ? x.actualPeers.get(x.lastActual) : undefined;
    out.push({
      role: id.role,
      port: id.port,
      local: { process: id.process, cgroup: id.cgroup, ...endView(id.local), processes: x ? [...x.processes.values()] : [] },
      peer: { addr: id.peer, port: id.port, ...endView(id.remote) },
      actual_peer: actual ? { addr: actual.addr, port: actual.port, ...endView(actual.end) } : null,
      actual_peers: x ? [...x.actualPeers.values()].map((a) => ({ addr: a.addr, port: a.port, connections: a.connections, ...endView(a.end) })) : [],
      connections: { opened: edge.opened, closed: edge.closed, active: edge.active },
      bytes: { sent: edge.sentBytes, received: edge.receivedBytes },
    });
  }
  return { edges: out };
}
