// From the hub's graph to what the map and the table show: live intervals merged in, mute rules and
// the failures-only switch applied, each edge's health judged (against its own earlier latency).
import { type Graph, type GraphEdge, type GraphNode, type StreamInterval } from './api-types.js';
import { edgeHealth, isProblem, type HealthVerdict, type LatencyBaseline } from './health.js';
import { isMuted, type MuteRule } from './mute.js';

/**
 * An interval from the stream added to the graph: new nodes and edges appear, counts grow. The
 * stream carries no alert marks: an edge keeps those of the last full read of the graph, which is
 * read again whenever the firing alerts change.
 */
export function mergeInterval(g: Graph, ev: StreamInterval): Graph {
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  for (const n of ev.nodes) nodes.set(n.id, n);
  const edges = new Map(g.edges.map((e) => [e.id, e]));
  for (const e of ev.edges) {
    const cur = edges.get(e.id);
    if (!cur) {
      edges.set(e.id, e);
      continue;
    }
    const failures = { ...cur.failures };
    for (const [r, n] of Object.entries(e.failures)) failures[r] = (failures[r] ?? 0) + n;
    const sides = [...new Set([...cur.sides, ...e.sides])].sort() as GraphEdge['sides'];
    edges.set(e.id, {
      ...cur,
      connections: cur.connections + e.connections,
      active: e.active,
      failures,
      bytes_sent: cur.bytes_sent + e.bytes_sent,
      bytes_received: cur.bytes_received + e.bytes_received,
      retransmits: cur.retransmits + e.retransmits,
      resets: cur.resets + e.resets,
      // The latest interval's percentiles stand for now until the next full refresh.
      rtt_p50_seconds: e.rtt_p50_seconds ?? cur.rtt_p50_seconds,
      rtt_p99_seconds: e.rtt_p99_seconds ?? cur.rtt_p99_seconds,
      connect_p50_seconds: e.connect_p50_seconds ?? cur.connect_p50_seconds,
      connect_p99_seconds: e.connect_p99_seconds ?? cur.connect_p99_seconds,
      sides,
      ...(e.alerts ? { alerts: e.alerts } : {}),
    });
  }
  return { ...g, to: ev.to > g.to ? ev.to : g.to, nodes: [...nodes.values()], edges: [...edges.values()] };
}

/** Latency of each edge in an earlier window (what "slower than usual" is measured against). */
export function latencyBaselines(g: Graph | null): Map<string, LatencyBaseline> {
  const out = new Map<string, LatencyBaseline>();
  for (const e of g?.edges ?? []) out.set(e.id, { rtt_p99_seconds: e.rtt_p99_seconds, connect_p99_seconds: e.connect_p99_seconds });
  return out;
}

export interface Prepared {
  nodes: GraphNode[];
  edges: GraphEdge[];
  nodeById: Map<string, GraphNode>;
  health: Map<string, HealthVerdict>;
  /** Edges hidden by mute rules. */
  muted: number;
  /** Healthy edges hidden by the failures-only switch. */
  healthyHidden: number;
}

export function prepare(g: Graph, rules: readonly MuteRule[], failuresOnly: boolean, baselines?: ReadonlyMap<string, LatencyBaseline>): Prepared {
  const allNodes = new Map(g.nodes.map((n) => [n.id, n]));
  const health = new Map<string, HealthVerdict>();
  const edges: GraphEdge[] = [];
  let muted = 0;
  let healthyHidden = 0;
  for (const e of g.edges) {
    if (rules.length && isMuted(e, rules, allNodes)) {
      muted++;
      continue;
    }
    const verdict = edgeHealth(e, baselines?.get(e.id));
    if (failuresOnly && !isProblem(verdict.health)) {
      healthyHidden++;
      continue;
    }
    health.set(e.id, verdict);
    edges.push(e);
  }
  const used = new Set<string>();
  for (const e of edges) used.add(e.source).add(e.target);
  const nodes = g.nodes.filter((n) => used.has(n.id));
  // Ends the hub did not list (should not happen) are drawn by their id rather than dropped.
  for (const id of used) if (!allNodes.has(id)) nodes.push({ id, kind: id.slice(0, Math.max(0, id.indexOf(':'))) || 'unknown', name: id, labels: {} });
  nodes.sort((a, b) => a.id.localeCompare(b.id));
  return { nodes, edges, nodeById: new Map(nodes.map((n) => [n.id, n])), health, muted, healthyHidden };
}

/** Failed connects of a node's edges by reason (what its panel charts as bars). */
export function failuresByReason(edges: readonly GraphEdge[]): Array<[string, number]> {
  const sum: Record<string, number> = {};
  for (const e of edges) for (const [r, n] of Object.entries(e.failures)) sum[r] = (sum[r] ?? 0) + n;
  return Object.entries(sum).sort((a, b) => b[1] - a[1]);
}
