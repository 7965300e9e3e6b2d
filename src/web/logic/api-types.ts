// The hub's answers as the UI reads them: the shared shapes from the model (src/model/api.ts), and
// the wrappers of each endpoint (the shapes of /api/openapi.json).
import type { Breakdown, Diff, EdgeCounters, Graph, GraphEdge, SearchHit } from '../../model/api.js';
export type { Breakdown, BreakdownDomain, BreakdownPart, EdgeCounters, Graph, GraphEdge, GraphNode, SearchHit, SideView } from '../../model/api.js';
export { BREAKDOWN_DOMAINS } from '../../model/api.js';

export interface NeighbourhoodAnswer extends Graph {
  node: string;
  hops: number;
  distance: Record<string, number>;
}

export interface SearchAnswer {
  query: string;
  results: SearchHit[];
}

export interface BreakdownAnswer extends Breakdown {
  from: string;
  to: string;
  edge: GraphEdge;
}

export interface DiffAnswer extends Diff {
  view: string;
  from: string;
  to: string;
  baseline_from: string;
  baseline_to: string;
}

export interface HistoryAnswer {
  from: string;
  to: string;
  step_seconds: number;
  times: number[];
  series: Record<string, Array<number | null>>;
}

export interface StatusAnswer {
  store: string;
  retention_seconds: number;
  agents: Array<{ agent: string; node: string; zone: string; reporting: boolean; last_heard: string }>;
  edges: number;
  endpoints: number;
}

/** One `interval` event of /api/v1/stream: the edges with traffic since the previous one. */
export interface StreamInterval extends Graph {
  sequence: number;
}

export const VIEWS = ['process', 'container', 'pod', 'workload', 'service', 'namespace', 'node', 'zone'] as const;

export function failureTotal(e: Pick<EdgeCounters, 'failures'>): number {
  let n = 0;
  for (const v of Object.values(e.failures)) n += v;
  return n;
}
