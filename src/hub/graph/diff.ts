// Two windows compared (before and after a deploy): edges that appeared, vanished, and those that
// changed most. Counts become rates per second, so windows of different lengths compare.
import { graphEdge, type GraphEdge, type GraphNode, type ViewGraph } from './graph.js';

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
