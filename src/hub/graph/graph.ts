// A view of the service map over a window: fine edges grouped into view nodes and view edges,
// with each edge's counters from both sides. The JSON shapes here are the API's.
import { C, addInto, failureCount, failuresOf, mergedDistribution, newSide, quantileOrNull, requestSide, requestsByStatus, round, distribution, type Side } from './counters.js';
import type { Endpoint } from './endpoint.js';
import { endpointLabels, nodeOf, viewName, type NodeRef, type View } from './views.js';
import type { Filter } from './filter.js';
import type { EdgeTotals } from '../store/store.js';

export type { Graph, GraphEdge, GraphNode, SideView } from '../../model/api.js';
import type { Graph, GraphEdge, GraphNode, SideView } from '../../model/api.js';

/** A view edge with the fine edges it groups (what breakdown and history need). */
export interface ViewEdge {
  id: string;
  source: NodeRef;
  target: NodeRef;
  port: number;
  protocol: string;
  client: Side | undefined;
  server: Side | undefined;
  members: EdgeTotals[];
}

/** Edge ids: view, both ends and port, with '|' and '%' escaped in the ends. */
export function edgeId(view: View, source: string, target: string, port: number): string {
  const esc = (s: string): string => s.replace(/%/g, '%25').replace(/\|/g, '%7C');
  return `${viewName(view)}|${esc(source)}|${esc(target)}|${port}`;
}

export function parseEdgeId(id: string): { view: string; source: string; target: string; port: number } | undefined {
  const parts = id.split('|');
  if (parts.length !== 4) return undefined;
  const un = (s: string): string => s.replace(/%7C/gi, '|').replace(/%25/g, '%');
  const port = Number(parts[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { view: parts[0]!, source: un(parts[1]!), target: un(parts[2]!), port };
}

class NodeLabels {
  private readonly values = new Map<string, Set<string>>();
  add(labels: Record<string, string>): void {
    for (const [k, v] of Object.entries(labels)) {
      let s = this.values.get(k);
      if (!s) this.values.set(k, (s = new Set()));
      if (s.size < 16) s.add(v);
    }
  }
  /** One value where all members agree; the sorted values joined by ',' where they differ. */
  result(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, s] of this.values) out[k] = [...s].sort().join(',');
    return out;
  }
}

export interface ViewGraph {
  view: View;
  nodes: Map<string, GraphNode>;
  edges: Map<string, ViewEdge>;
}

/** Groups fine edges into the view's nodes and edges; with a filter, only edges with an end that matches. */
export function buildViewGraph(totals: readonly EdgeTotals[], view: View, filter?: Filter): ViewGraph {
  const refs = new Map<Endpoint, NodeRef>();
  const labels = new Map<string, NodeLabels>();
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, ViewEdge>();
  const refOf = (e: Endpoint): NodeRef => {
    let r = refs.get(e);
    if (!r) {
      r = nodeOf(e, view);
      refs.set(e, r);
      let l = labels.get(r.id);
      if (!l) {
        labels.set(r.id, (l = new NodeLabels()));
        nodes.set(r.id, { id: r.id, kind: r.kind, name: r.name, labels: {} });
      }
      l.add(endpointLabels(e, view, r.kind));
    }
    return r;
  };
  for (const t of totals) {
    if (filter && !filter.matches(t.edge)) continue;
    const source = refOf(t.edge.client);
    const target = refOf(t.edge.server);
    const id = edgeId(view, source.id, target.id, t.edge.port);
    let e = edges.get(id);
    if (!e) edges.set(id, (e = { id, source, target, port: t.edge.port, protocol: t.edge.protocol, client: undefined, server: undefined, members: [] }));
    if (t.sides[0]) addInto((e.client ??= newSide()), t.sides[0]);
    if (t.sides[1]) addInto((e.server ??= newSide()), t.sides[1]);
    e.members.push(t);
  }
  for (const [id, l] of labels) nodes.get(id)!.labels = l.result();
  return { view, nodes, edges };
}

function sideView(s: Side | undefined): SideView | null {
  if (!s) return null;
  const rtt = distribution(s, 'rtt');
  return {
    connections: round(s[C.opened]!),
    active: round(s[C.active]!),
    failures: round(failureCount(s)),
    bytes_sent: round(s[C.bytesSent]!),
    bytes_received: round(s[C.bytesReceived]!),
    retransmits: round(s[C.retransmits]!),
    resets_sent: round(s[C.resetsSent]!),
    resets_received: round(s[C.resetsReceived]!),
    rtt_p50_seconds: quantileOrNull(0.5, rtt),
    rtt_p99_seconds: quantileOrNull(0.99, rtt),
    ...(s[C.requests]! > 0 ? { requests: round(s[C.requests]!), request_errors: round(s[C.requestErrors]!) } : {}),
  };
}

/** The edge's request members, present when a side saw requests (see requestSide). */
function requestCounters(client: Side | undefined, server: Side | undefined): Pick<GraphEdge, 'requests' | 'request_errors' | 'requests_by_status' | 'request_p50_seconds' | 'request_p99_seconds'> {
  const none = new Float64Array(0);
  const which = requestSide(client ?? none, client ? 0 : -1, server ?? none, server ? 0 : -1);
  if (which < 0) return {};
  const s = (which === 0 ? client : server)!;
  const d = distribution(s, 'request');
  return {
    requests: round(s[C.requests]!),
    request_errors: round(s[C.requestErrors]!),
    requests_by_status: requestsByStatus(s, 0),
    request_p50_seconds: quantileOrNull(0.5, d),
    request_p99_seconds: quantileOrNull(0.99, d),
  };
}

/** The counters of an edge (from its two sides) as the API shows them. */
export function edgeCounters(client: Side | undefined, server: Side | undefined): Omit<GraphEdge, 'id' | 'source' | 'target' | 'port' | 'protocol'> {
  const main = client ?? server ?? newSide();
  const fromClient = client !== undefined;
  const rtt = mergedDistribution(client, server, 'rtt');
  const connect = client ? distribution(client, 'connect') : undefined;
  const sides: Array<'client' | 'server'> = [];
  if (client) sides.push('client');
  if (server) sides.push('server');
  return {
    connections: round(main[C.opened]!),
    active: round(main[C.active]!),
    failures: client ? failuresOf(client) : {},
    bytes_sent: round(fromClient ? main[C.bytesSent]! : main[C.bytesReceived]!),
    bytes_received: round(fromClient ? main[C.bytesReceived]! : main[C.bytesSent]!),
    retransmits: round((client?.[C.retransmits] ?? 0) + (server?.[C.retransmits] ?? 0)),
    resets: round(main[C.resetsSent]! + main[C.resetsReceived]!),
    rtt_p50_seconds: quantileOrNull(0.5, rtt),
    rtt_p99_seconds: quantileOrNull(0.99, rtt),
    connect_p50_seconds: quantileOrNull(0.5, connect),
    connect_p99_seconds: quantileOrNull(0.99, connect),
    ...requestCounters(client, server),
    sides,
    client: sideView(client),
    server: sideView(server),
  };
}

export function graphEdge(e: ViewEdge): GraphEdge {
  return { id: e.id, source: e.source.id, target: e.target.id, port: e.port, protocol: e.protocol, ...edgeCounters(e.client, e.server) };
}

export function toGraph(g: ViewGraph, from: number, to: number, keepNode: (id: string) => boolean = () => true, keepEdge: (e: ViewEdge) => boolean = () => true): Graph {
  const edges: GraphEdge[] = [];
  const used = new Set<string>();
  for (const e of g.edges.values()) {
    if (!keepEdge(e)) continue;
    edges.push(graphEdge(e));
    used.add(e.source.id);
    used.add(e.target.id);
  }
  const nodes = [...g.nodes.values()].filter((n) => used.has(n.id) && keepNode(n.id));
  return { view: viewName(g.view), from: new Date(from).toISOString(), to: new Date(to).toISOString(), nodes, edges };
}
