// Graphs for the UI logic's tests: named nodes with labels, edges between them.
import type { Graph, GraphEdge, GraphNode } from './api-types.js';

export function node(id: string, labels: Record<string, string> = {}, kind = id.slice(0, id.indexOf(':'))): GraphNode {
  return { id, kind, name: id.slice(id.lastIndexOf('/') + 1).replace(/^[a-z]+:/, ''), labels };
}

export function edge(source: string, target: string, port = 80, over: Partial<GraphEdge> = {}): GraphEdge {
  return {
    id: `t|${source}|${target}|${port}`,
    source,
    target,
    port,
    protocol: 'tcp',
    connections: 10,
    active: 0,
    failures: {},
    bytes_sent: 1000,
    bytes_received: 1000,
    retransmits: 0,
    resets: 0,
    rtt_p50_seconds: 0.001,
    rtt_p99_seconds: 0.002,
    connect_p50_seconds: 0.001,
    connect_p99_seconds: 0.002,
    sides: ['client', 'server'],
    client: null,
    server: null,
    ...over,
  };
}

/** `zones` zones x `nsPerZone` namespaces x `perNs` workloads; each workload calls the next in its namespace and one in the next namespace. */
export function cluster(zones: number, nsPerZone: number, perNs: number): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const ids: string[][] = [];
  for (let z = 0; z < zones; z++) {
    for (let n = 0; n < nsPerZone; n++) {
      const ns = `ns${z}-${n}`;
      const list: string[] = [];
      for (let w = 0; w < perNs; w++) {
        const id = `workload:${ns}/w${w}`;
        nodes.push(node(id, { namespace: ns, zone: `z${z}` }));
        list.push(id);
      }
      ids.push(list);
    }
  }
  ids.forEach((list, i) => {
    list.forEach((id, w) => {
      if (w + 1 < list.length) edges.push(edge(id, list[w + 1]!));
      const next = ids[(i + 1) % ids.length]!;
      if (next !== list) edges.push(edge(id, next[w % next.length]!, 443));
    });
  });
  return { view: 'workload', from: '', to: '', nodes, edges };
}
