// Boxes on the map: nodes grouped by zone, node, namespace or any label (outer level first), with
// external peers in a group of their own. A collapsed group is drawn as one node and its edges are
// summed; past a budget of visible elements the map collapses groups on its own, deepest level
// first (workloads into namespaces, then namespaces into zones), then expands back the smallest
// ones that fit; what it did is returned so the screen can say so.
import type { EdgeCounters, GraphEdge, GraphNode } from './api-types.js';
import { alertReason, firingAlerts, HEALTH_ORDER, worse, type Health, type HealthVerdict } from './health.js';

export interface Group {
  id: string;
  /** zone, node, namespace, label:KEY, or external. */
  level: string;
  value: string;
  parent: string | null;
  depth: number;
  /** Leaves anywhere below. */
  size: number;
}

export interface Hierarchy {
  groups: Map<string, Group>;
  /** Per node id: its groups, outermost first. */
  chains: Map<string, string[]>;
  maxDepth: number;
}

export const EXTERNAL_GROUP = 'group:external';

export function groupId(steps: ReadonlyArray<{ level: string; value: string }>): string {
  return `group:${steps.map((s) => `${s.level}=${encodeURIComponent(s.value)}`).join('/')}`;
}

export const isGroupId = (id: string): boolean => id.startsWith('group:');

/** The value of a node for a group level; undefined when it has none, or is itself of that level. */
export function levelValue(n: GraphNode, level: string): string | undefined {
  const key = level.startsWith('label:') ? level.slice(6) : level;
  if (n.kind === key) return undefined;
  const v = n.labels[key];
  return v === undefined || v === '' ? undefined : v;
}

export function groupLabel(g: Pick<Group, 'level' | 'value'>): string {
  if (g.level === 'external') return 'external peers';
  return g.level.startsWith('label:') ? `${g.level.slice(6)}=${g.value}` : `${g.level} ${g.value}`;
}

export function buildHierarchy(nodes: readonly GraphNode[], levels: readonly string[]): Hierarchy {
  const groups = new Map<string, Group>();
  const chains = new Map<string, string[]>();
  let maxDepth = -1;
  for (const n of nodes) {
    const steps: Array<{ level: string; value: string }> = [];
    if (n.kind === 'external') steps.push({ level: 'external', value: 'external' });
    else {
      for (const level of levels) {
        const v = levelValue(n, level);
        if (v !== undefined) steps.push({ level, value: v });
      }
    }
    const chain: string[] = [];
    let parent: string | null = null;
    for (let i = 0; i < steps.length; i++) {
      const id = i === 0 && steps[0]!.level === 'external' ? EXTERNAL_GROUP : groupId(steps.slice(0, i + 1));
      let g = groups.get(id);
      if (!g) groups.set(id, (g = { id, level: steps[i]!.level, value: steps[i]!.value, parent, depth: i, size: 0 }));
      g.size++;
      maxDepth = Math.max(maxDepth, i);
      chain.push(id);
      parent = id;
    }
    chains.set(n.id, chain);
  }
  return { groups, chains, maxDepth };
}

/** A node on the map: a node of the graph, or a collapsed group standing for its members. */
export interface VisibleNode {
  id: string;
  type: 'leaf' | 'group';
  label: string;
  kind: string;
  /** The expanded group (box) it is drawn in. */
  parent: string | null;
  /** Members (1 for a leaf). */
  size: number;
  node?: GraphNode;
  group?: Group;
  /** Edges between members of a collapsed group (not drawn). */
  internalEdges: number;
  health: Health;
}

/** An expanded group: a box around its members. */
export interface VisibleBox {
  id: string;
  label: string;
  parent: string | null;
  group: Group;
}

export interface VisibleEdge {
  id: string;
  source: string;
  target: string;
  members: GraphEdge[];
  ports: number[];
  counters: EdgeCounters;
  health: Health;
  reasons: string[];
}

export interface VisibleGraph {
  nodes: VisibleNode[];
  boxes: VisibleBox[];
  edges: VisibleEdge[];
  /** Groups drawn collapsed (by the user or on their own). */
  collapsed: Set<string>;
  /** Groups the map collapsed on its own to stay within the budget. */
  autoCollapsed: string[];
  /** Set when even all groups collapsed exceed the budget: only the most important edges are drawn. */
  truncated: { shownEdges: number; totalEdges: number } | null;
  elements: number;
}

export interface CollapseOptions {
  budget: number;
  userExpanded: ReadonlySet<string>;
  userCollapsed: ReadonlySet<string>;
  /** What the previous update collapsed on its own: kept collapsed unless there is ample room (no flapping). */
  previousAuto?: ReadonlySet<string>;
}

/** Hysteresis: a group the map collapsed before is expanded again only below this share of the budget. */
const REEXPAND_SHARE = 0.8;
const MAX_REEXPAND_TRIALS = 64;

/** The graph in integer form, for counting elements quickly under many collapse choices. */
class Indexed {
  readonly leafIds: string[];
  readonly groupIds: string[];
  readonly leafIndex = new Map<string, number>();
  readonly groupIndex = new Map<string, number>();
  /** Per leaf, its group indices outermost first. */
  readonly chains: Int32Array[];
  readonly edgeSource: Int32Array;
  readonly edgeTarget: Int32Array;

  constructor(
    nodes: readonly GraphNode[],
    edges: readonly GraphEdge[],
    readonly h: Hierarchy,
  ) {
    this.leafIds = nodes.map((n) => n.id);
    this.leafIds.forEach((id, i) => this.leafIndex.set(id, i));
    this.groupIds = [...h.groups.keys()];
    this.groupIds.forEach((id, i) => this.groupIndex.set(id, i));
    this.chains = this.leafIds.map((id) => Int32Array.from((h.chains.get(id) ?? []).map((g) => this.groupIndex.get(g)!)));
    this.edgeSource = new Int32Array(edges.length);
    this.edgeTarget = new Int32Array(edges.length);
    edges.forEach((e, i) => {
      this.edgeSource[i] = this.leafIndex.get(e.source) ?? -1;
      this.edgeTarget[i] = this.leafIndex.get(e.target) ?? -1;
    });
  }

  /** The leaf itself (>= 0) or its outermost collapsed group (-1 - group index). */
  rep(leaf: number, collapsed: Uint8Array): number {
    const chain = this.chains[leaf]!;
    for (let i = 0; i < chain.length; i++) if (collapsed[chain[i]!]) return -1 - chain[i]!;
    return leaf;
  }

  count(collapsed: Uint8Array): number {
    const reps = new Int32Array(this.leafIds.length);
    const nodes = new Set<number>();
    const boxes = new Uint8Array(this.groupIds.length);
    let boxCount = 0;
    for (let l = 0; l < reps.length; l++) {
      const r = this.rep(l, collapsed);
      reps[l] = r;
      nodes.add(r);
      const chain = this.chains[l]!;
      for (let i = 0; i < chain.length && !collapsed[chain[i]!]; i++) {
        if (!boxes[chain[i]!]) {
          boxes[chain[i]!] = 1;
          boxCount++;
        }
      }
    }
    const pairs = new Set<number>();
    let edges = 0;
    const span = this.leafIds.length + this.groupIds.length + 1;
    for (let i = 0; i < this.edgeSource.length; i++) {
      const s = this.edgeSource[i]!;
      const t = this.edgeTarget[i]!;
      if (s < 0 || t < 0) continue;
      const rs = reps[s]!;
      const rt = reps[t]!;
      if (rs >= 0 && rt >= 0) edges++;
      else if (rs !== rt) pairs.add((rs + this.groupIds.length) * span + (rt + this.groupIds.length));
    }
    return nodes.size + boxCount + edges + pairs.size;
  }
}

function sumCounters(into: EdgeCounters, e: EdgeCounters): void {
  into.connections += e.connections;
  into.active += e.active;
  for (const [r, n] of Object.entries(e.failures)) into.failures[r] = (into.failures[r] ?? 0) + n;
  into.bytes_sent += e.bytes_sent;
  into.bytes_received += e.bytes_received;
  into.retransmits += e.retransmits;
  into.resets += e.resets;
  // Percentiles do not add: an aggregated edge shows its worst member's.
  const max = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
  into.rtt_p50_seconds = max(into.rtt_p50_seconds, e.rtt_p50_seconds);
  into.rtt_p99_seconds = max(into.rtt_p99_seconds, e.rtt_p99_seconds);
  into.connect_p50_seconds = max(into.connect_p50_seconds, e.connect_p50_seconds);
  into.connect_p99_seconds = max(into.connect_p99_seconds, e.connect_p99_seconds);
}

export function emptyCounters(): EdgeCounters {
  return { connections: 0, active: 0, failures: {}, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets: 0, rtt_p50_seconds: null, rtt_p99_seconds: null, connect_p50_seconds: null, connect_p99_seconds: null };
}

function chooseCollapsed(ix: Indexed, o: CollapseOptions): { collapsed: Uint8Array; auto: Set<number> } {
  const collapsed = new Uint8Array(ix.groupIds.length);
  for (const g of o.userCollapsed) {
    const i = ix.groupIndex.get(g);
    if (i !== undefined) collapsed[i] = 1;
  }
  const auto = new Set<number>();
  // What the user expanded stays expanded, and so do the groups around it (or it would be hidden).
  const pinned = new Set<string>();
  for (const g of o.userExpanded) for (let p: string | null = g; p !== null && !pinned.has(p); p = ix.h.groups.get(p)?.parent ?? null) pinned.add(p);
  const previous = [...(o.previousAuto ?? [])].map((g) => ix.groupIndex.get(g)).filter((i): i is number => i !== undefined && !collapsed[i] && !pinned.has(ix.groupIds[i]!));
  let count = ix.count(collapsed);
  // Everything fits (with room to spare when the map had collapsed something: no flapping).
  if (count <= (previous.length ? o.budget * REEXPAND_SHARE : o.budget)) return { collapsed, auto };
  for (const i of previous) {
    collapsed[i] = 1;
    auto.add(i);
  }
  if (previous.length) count = ix.count(collapsed);
  let candidates = previous;
  for (let depth = ix.h.maxDepth; depth >= 0 && count > o.budget; depth--) {
    const level: number[] = [];
    ix.groupIds.forEach((id, i) => {
      if (ix.h.groups.get(id)!.depth !== depth || collapsed[i] || pinned.has(id)) return;
      collapsed[i] = 1;
      auto.add(i);
      level.push(i);
    });
    if (level.length) {
      count = ix.count(collapsed);
      candidates = level;
    }
  }
  // Collapsing a whole level at once may be more than needed: expand back the smallest groups of it
  // that still fit (those collapsed on the previous update only with room to spare).
  const size = (i: number): number => ix.h.groups.get(ix.groupIds[i]!)!.size;
  candidates = [...candidates].sort((a, b) => size(a) - size(b) || ix.groupIds[a]!.localeCompare(ix.groupIds[b]!));
  let trials = 0;
  for (const i of candidates) {
    if (count > o.budget || trials++ >= MAX_REEXPAND_TRIALS) break;
    collapsed[i] = 0;
    const next = ix.count(collapsed);
    const limit = o.previousAuto?.has(ix.groupIds[i]!) ? o.budget * REEXPAND_SHARE : o.budget;
    if (next <= limit) {
      count = next;
      auto.delete(i);
    } else collapsed[i] = 1;
  }
  return { collapsed, auto };
}

export function visibleGraph(
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
  h: Hierarchy,
  health: ReadonlyMap<string, HealthVerdict>,
  o: CollapseOptions,
): VisibleGraph {
  const ix = new Indexed(nodes, edges, h);
  const { collapsed, auto } = chooseCollapsed(ix, o);

  const visNodes = new Map<string, VisibleNode>();
  const boxes = new Map<string, VisibleBox>();
  const repIds: string[] = new Array(nodes.length);
  nodes.forEach((n, l) => {
    const r = ix.rep(l, collapsed);
    const chain = ix.chains[l]!;
    let parent: string | null = null;
    for (let i = 0; i < chain.length && !collapsed[chain[i]!]; i++) {
      const gid = ix.groupIds[chain[i]!]!;
      if (!boxes.has(gid)) {
        const g = h.groups.get(gid)!;
        boxes.set(gid, { id: gid, label: groupLabel(g), parent: g.parent, group: g });
      }
      parent = gid;
    }
    if (r >= 0) {
      repIds[l] = n.id;
      visNodes.set(n.id, { id: n.id, type: 'leaf', label: n.name, kind: n.kind, parent, size: 1, node: n, internalEdges: 0, health: 'idle' });
    } else {
      const gid = ix.groupIds[-1 - r]!;
      repIds[l] = gid;
      if (!visNodes.has(gid)) {
        const g = h.groups.get(gid)!;
        visNodes.set(gid, { id: gid, type: 'group', label: `${groupLabel(g)} (${g.size})`, kind: g.level, parent: g.parent, size: g.size, group: g, internalEdges: 0, health: 'idle' });
      }
    }
  });

  const visEdges = new Map<string, VisibleEdge>();
  edges.forEach((e, i) => {
    const s = ix.edgeSource[i]!;
    const t = ix.edgeTarget[i]!;
    if (s < 0 || t < 0) return;
    const rs = repIds[s]!;
    const rt = repIds[t]!;
    const verdict = health.get(e.id) ?? { health: 'ok' as Health, reasons: [] };
    const grouped = isGroupId(rs) || isGroupId(rt);
    if (grouped && rs === rt) {
      const v = visNodes.get(rs)!;
      v.internalEdges++;
      v.health = worse(v.health, verdict.health);
      return;
    }
    const id = grouped ? `agg:${rs}>${rt}` : e.id;
    let ve = visEdges.get(id);
    if (!ve) visEdges.set(id, (ve = { id, source: rs, target: rt, members: [], ports: [], counters: emptyCounters(), health: 'idle', reasons: [] }));
    ve.members.push(e);
    if (!ve.ports.includes(e.port)) ve.ports.push(e.port);
    sumCounters(ve.counters, e);
    ve.health = worse(ve.health, verdict.health);
    if (!grouped) ve.reasons = verdict.reasons;
  });
  for (const ve of visEdges.values()) {
    ve.ports.sort((a, b) => a - b);
    if (ve.members.length > 1) {
      const bad = ve.members.filter((m) => health.get(m.id)?.health === ve.health && ve.health !== 'ok' && ve.health !== 'idle').length;
      if (bad) ve.reasons = [`${bad} of ${ve.members.length} connections between them are ${ve.health}`];
    }
    // A box's edge names the alerts of the connections inside it (its colour is already their worst).
    if (ve.id !== ve.members[0]!.id) ve.reasons = [...ve.reasons, ...memberAlerts(ve.members)];
    for (const end of [ve.source, ve.target]) {
      const v = visNodes.get(end)!;
      v.health = worse(v.health, ve.health);
    }
  }

  let edgeList = [...visEdges.values()];
  let nodeList = [...visNodes.values()];
  let boxList = [...boxes.values()];
  let truncated: VisibleGraph['truncated'] = null;
  let elements = nodeList.length + boxList.length + edgeList.length;
  if (elements > o.budget) {
    const kept = keepMostImportant(edgeList, visNodes, boxes, o.budget);
    truncated = { shownEdges: kept.edges.length, totalEdges: edgeList.length };
    edgeList = kept.edges;
    nodeList = nodeList.filter((n) => kept.nodes.has(n.id));
    boxList = boxList.filter((b) => kept.boxes.has(b.id));
    elements = nodeList.length + boxList.length + edgeList.length;
  }
  const collapsedIds = new Set<string>();
  collapsed.forEach((c, i) => {
    if (c) collapsedIds.add(ix.groupIds[i]!);
  });
  return {
    nodes: nodeList,
    boxes: boxList,
    edges: edgeList,
    collapsed: collapsedIds,
    autoCollapsed: [...auto].map((i) => ix.groupIds[i]!).sort(),
    truncated,
    elements,
  };
}

/**
 * Every node and box when they fit, and the edges that fit beside them, problems first, then the
 * busiest; when the nodes alone are too many, each edge with the ends and boxes it brings.
 */
function keepMostImportant(edges: VisibleEdge[], nodes: ReadonlyMap<string, VisibleNode>, boxes: ReadonlyMap<string, VisibleBox>, budget: number) {
  const rank = (e: VisibleEdge): number => HEALTH_ORDER.indexOf(e.health);
  const sorted = [...edges].sort((a, b) => rank(a) - rank(b) || b.counters.connections - a.counters.connections || a.id.localeCompare(b.id));
  const fixed = nodes.size + boxes.size;
  if (fixed < budget) return { edges: sorted.slice(0, budget - fixed), nodes: new Set(nodes.keys()), boxes: new Set(boxes.keys()) };
  const keptNodes = new Set<string>();
  const keptBoxes = new Set<string>();
  const kept: VisibleEdge[] = [];
  let count = 0;
  const boxesOf = (id: string): string[] => {
    const out: string[] = [];
    let p = nodes.get(id)?.parent ?? null;
    while (p !== null && !keptBoxes.has(p) && !out.includes(p)) {
      out.push(p);
      p = boxes.get(p)?.parent ?? null;
    }
    return out;
  };
  for (const e of sorted) {
    const newNodes = [e.source, e.target].filter((id, i, a) => !keptNodes.has(id) && a.indexOf(id) === i);
    const newBoxes = [...new Set(newNodes.flatMap(boxesOf))];
    const cost = 1 + newNodes.length + newBoxes.length;
    if (count + cost > budget) continue;
    count += cost;
    kept.push(e);
    for (const n of newNodes) keptNodes.add(n);
    for (const b of newBoxes) keptBoxes.add(b);
  }
  return { edges: kept, nodes: keptNodes, boxes: keptBoxes };
}

/** The groups to expand so that a node is drawn (not inside a collapsed group). */
export function groupsToReveal(h: Hierarchy, nodeId: string): string[] {
  return h.chains.get(nodeId) ?? (h.groups.has(nodeId) ? ancestorsOf(h, nodeId) : []);
}

function ancestorsOf(h: Hierarchy, groupId: string): string[] {
  const out: string[] = [];
  let p = h.groups.get(groupId)?.parent ?? null;
  while (p !== null) {
    out.unshift(p);
    p = h.groups.get(p)?.parent ?? null;
  }
  return out;
}

/** The firing alerts of an aggregate's connections, each named once. */
function memberAlerts(members: readonly GraphEdge[]): string[] {
  const seen = new Map<string, string>();
  for (const m of members) for (const a of firingAlerts(m)) if (!seen.has(a.id)) seen.set(a.id, alertReason(a));
  return [...seen.values()];
}
