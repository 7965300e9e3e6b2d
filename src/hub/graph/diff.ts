// Two windows compared (before and after a deploy): edges that appeared, vanished, and those that
// changed most. Counts become rates per second, so windows of different lengths compare.
import { FAIL_REASONS } from '../../model/edge.js';
import { C, quantileOfRows, round } from './counters.js';
import { edgeCounters, graphEdge, type GraphEdge, type GraphNode, type ViewGraph } from './graph.js';
import { edgeRows, type ViewTotals } from './view-totals.js';

export type { ChangedEdge, Diff, MetricChange } from '../../model/api.js';
import type { ChangedEdge, Diff, MetricChange } from '../../model/api.js';

const RATE_METRICS = ['connections', 'bytes_sent', 'bytes_received', 'retransmits', 'resets'] as const;
const LATENCY_METRICS = ['rtt_p99_seconds', 'connect_p99_seconds'] as const;

function failureRatio(e: GraphEdge): number {
  const failed = Object.values(e.failures).reduce((s, n) => s + n, 0);
  const attempts = e.connections + failed;
  return attempts > 0 ? failed / attempts : 0;
}

function logRatio(a: number, b: number, floor: number): number {
  return Math.abs(Math.log2((b + floor) / (a + floor)));
}

export function diff(current: ViewGraph, baseline: ViewGraph, currentSeconds: number, baselineSeconds: number, limit = 50): Diff {
  const appeared: GraphEdge[] = [];
  const vanished: GraphEdge[] = [];
  const changed: ChangedEdge[] = [];
  for (const [id, e] of current.edges) {
    const b = baseline.edges.get(id);
    const after = graphEdge(e);
    if (!b) {
      appeared.push(after);
      continue;
    }
    const before = graphEdge(b);
    const changes: Record<string, MetricChange> = {};
    let score = 0;
    for (const m of RATE_METRICS) {
      const x = before[m] / baselineSeconds;
      const y = after[m] / currentSeconds;
      changes[`${m}_per_second`] = { before: x, after: y };
      // A floor keeps a change from 0.001/s to 0.002/s from looking like a doubling that matters.
      score = Math.max(score, logRatio(x, y, m.startsWith('bytes') ? 1000 : 0.1));
    }
    for (const m of LATENCY_METRICS) {
      changes[m] = { before: before[m], after: after[m] };
      if (before[m] !== null && after[m] !== null) score = Math.max(score, logRatio(before[m]!, after[m]!, 0.0005));
    }
    const fb = failureRatio(before);
    const fa = failureRatio(after);
    changes.failure_ratio = { before: fb, after: fa };
    score = Math.max(score, Math.abs(fa - fb) * 10);
    changed.push({ edge: after, baseline: before, score: Math.round(score * 1000) / 1000, changes });
  }
  for (const [id, b] of baseline.edges) {
    if (current.edges.has(id)) continue;
    vanished.push(graphEdge(b));
  }
  changed.sort((a, b) => b.score - a.score);
  const byTraffic = (a: GraphEdge, b: GraphEdge): number => b.connections - a.connections || a.id.localeCompare(b.id);
  const result = { appeared: appeared.sort(byTraffic).slice(0, limit), vanished: vanished.sort(byTraffic).slice(0, limit), changed: changed.slice(0, limit) };
  const nodeIds = new Set<string>();
  for (const e of [...result.appeared, ...result.vanished, ...result.changed.map((c) => c.edge)]) nodeIds.add(e.source).add(e.target);
  const nodes = [...nodeIds].map((id) => current.nodes.get(id) ?? baseline.nodes.get(id)).filter((n): n is GraphNode => n !== undefined);
  return { ...result, nodes };
}

/** Positions of the best `limit` items (best first): a bounded heap, not a sort of everything. */
export function topPositions(items: ArrayLike<number>, limit: number, before: (a: number, b: number) => boolean): number[] {
  const heap: number[] = [];
  // heap[0] is the worst kept.
  const worse = (a: number, b: number): boolean => before(b, a);
  const up = (i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let k = 0; k < items.length; k++) {
    const x = items[k]!;
    if (heap.length < limit) {
      heap.push(x);
      up(heap.length - 1);
    } else if (limit > 0 && before(x, heap[0]!)) {
      heap[0] = x;
      down(0);
    }
  }
  return heap.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
}

/** Per rate metric, the floor of its log ratio (as in diff()). */
const RATE_FLOORS = RATE_METRICS.map((m) => (m.startsWith('bytes') ? 1000 : 0.1));

/** What the diff compares of a view edge, from its rows (as graphEdge would round them). */
const rows = edgeRows();

function measures(t: ViewTotals, pos: number, out: Float64Array): void {
  const { c, ca, s, sa, m, ma } = t.rowsAt(pos, rows);
  out[0] = round(m[ma + C.opened]!);
  out[1] = round(ca >= 0 ? m[ma + C.bytesSent]! : m[ma + C.bytesReceived]!);
  out[2] = round(ca >= 0 ? m[ma + C.bytesReceived]! : m[ma + C.bytesSent]!);
  out[3] = round((ca >= 0 ? c[ca + C.retransmits]! : 0) + (sa >= 0 ? s[sa + C.retransmits]! : 0));
  out[4] = round(m[ma + C.resetsSent]! + m[ma + C.resetsReceived]!);
  out[5] = quantileOfRows(0.99, 'rtt', c, ca, s, sa) ?? NaN;
  out[6] = ca >= 0 ? (quantileOfRows(0.99, 'connect', c, ca, c, -1) ?? NaN) : NaN;
  let failed = 0;
  if (ca >= 0) for (let i = 0; i < FAIL_REASONS.length; i++) failed += round(c[ca + C.failures + i]!);
  const attempts = out[0] + failed;
  out[7] = attempts > 0 ? failed / attempts : 0;
}

/** The edge at a position as the API's GraphEdge. */
export function graphEdgeAt(t: ViewTotals, pos: number): GraphEdge {
  const { index } = t;
  const ve = t.edges[pos]!;
  return { id: index.edgeId(ve), source: index.nodeIds[index.source[ve]!]!, target: index.nodeIds[index.target[ve]!]!, port: index.port[ve]!, protocol: index.protocol[ve]!, ...edgeCounters(t.side(pos, 0), t.side(pos, 1)) };
}

/** diff() over view totals of one index: scores from the rows, objects only for what is returned. */
export function diffTotals(current: ViewTotals, baseline: ViewTotals, currentSeconds: number, baselineSeconds: number, limit = 50): Diff {
  const index = current.index;
  const a = new Float64Array(8);
  const b = new Float64Array(8);
  const appeared: number[] = [];
  const changedPos: number[] = [];
  const changedBase: number[] = [];
  const scores: number[] = [];
  for (let pos = 0; pos < current.size; pos++) {
    const ve = current.edges[pos]!;
    const bpos = ve < baseline.position.length ? baseline.position[ve]! : -1;
    if (bpos < 0) {
      appeared.push(pos);
      continue;
    }
    measures(current, pos, a);
    measures(baseline, bpos, b);
    let score = 0;
    for (let m = 0; m < RATE_METRICS.length; m++) score = Math.max(score, logRatio(b[m]! / baselineSeconds, a[m]! / currentSeconds, RATE_FLOORS[m]!));
    for (let m = 5; m <= 6; m++) if (!Number.isNaN(a[m]!) && !Number.isNaN(b[m]!)) score = Math.max(score, logRatio(b[m]!, a[m]!, 0.0005));
    score = Math.max(score, Math.abs(a[7]! - b[7]!) * 10);
    changedPos.push(pos);
    changedBase.push(bpos);
    scores.push(Math.round(score * 1000) / 1000);
  }
  const vanished: number[] = [];
  for (let bpos = 0; bpos < baseline.size; bpos++) {
    const ve = baseline.edges[bpos]!;
    if (ve >= current.position.length || current.position[ve]! < 0) vanished.push(bpos);
  }
  const connections = (t: ViewTotals, pos: number): number => {
    measures(t, pos, a);
    return a[0]!;
  };
  const byTraffic = (t: ViewTotals) => {
    const conn = new Map<number, number>();
    const c = (pos: number): number => {
      let n = conn.get(pos);
      if (n === undefined) conn.set(pos, (n = connections(t, pos)));
      return n;
    };
    return (x: number, y: number): boolean => {
      const d = c(x) - c(y);
      return d !== 0 ? d > 0 : index.edgeId(t.edges[x]!).localeCompare(index.edgeId(t.edges[y]!)) < 0;
    };
  };
  const order = Array.from({ length: changedPos.length }, (_, i) => i);
  const topChanged = topPositions(order, limit, (x, y) => scores[x]! > scores[y]! || (scores[x] === scores[y] && x < y));
  const result = {
    appeared: topPositions(appeared, limit, byTraffic(current)).map((pos) => graphEdgeAt(current, pos)),
    vanished: topPositions(vanished, limit, byTraffic(baseline)).map((pos) => graphEdgeAt(baseline, pos)),
    changed: topChanged.map((i): ChangedEdge => {
      const after = graphEdgeAt(current, changedPos[i]!);
      const before = graphEdgeAt(baseline, changedBase[i]!);
      const changes: Record<string, MetricChange> = {};
      for (const m of RATE_METRICS) changes[`${m}_per_second`] = { before: before[m] / baselineSeconds, after: after[m] / currentSeconds };
      for (const m of LATENCY_METRICS) changes[m] = { before: before[m], after: after[m] };
      changes.failure_ratio = { before: failureRatio(before), after: failureRatio(after) };
      return { edge: after, baseline: before, score: scores[i]!, changes };
    }),
  };
  const nodes = new Map<string, GraphNode>();
  const addNodes = (t: ViewTotals, e: GraphEdge): void => {
    for (const id of [e.source, e.target]) {
      if (nodes.has(id)) continue;
      const n = index.nodeNumber(id)!;
      nodes.set(id, { id, kind: index.nodeKinds[n]!, name: index.nodeNames[n]!, labels: t.nodeLabels(n) });
    }
  };
  for (const e of result.appeared) addNodes(current, e);
  for (const c of result.changed) addNodes(current, c.edge);
  for (const e of result.vanished) addNodes(baseline, e);
  return { ...result, nodes: [...nodes.values()] };
}
