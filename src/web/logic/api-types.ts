// The hub's answers as the UI reads them: the shared shapes from the model (src/model/api.ts), and
// the wrappers of each endpoint (the shapes of /api/openapi.json).
import type { AlertSeverity, Breakdown, Diff, EdgeCounters, Graph, GraphEdge, SearchHit } from '../../model/api.js';
export type { AlertMark, AlertSeverity, Breakdown, BreakdownDomain, BreakdownPart, EdgeCounters, Graph, GraphEdge, GraphNode, SearchHit, SideView } from '../../model/api.js';
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

/** What the UI reads of an alert of GET /api/v1/alerts (the hub's Alert schema has more). */
export interface AlertItem {
  id: string;
  name: string;
  family: string;
  severity: AlertSeverity;
  state: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string | null;
  edge: { id: string; view: string; source: string; target: string; port: number } | null;
  dns: { client: string; server: string } | null;
  signals: Array<{ signal: string; text: string }>;
  explanation: { sentence: string } | null;
  silenced_by: string[];
}

/** An alert still waiting out its `for`: what is pending on which subject. */
export interface PendingItem {
  state: 'pending';
  family: string;
  subject: string;
  signals: Array<{ signal: string; since: string }>;
}

export interface AlertsAnswer {
  alerts: AlertItem[];
  pending: PendingItem[];
}

export interface SilenceItem {
  id: string;
  kind: 'silence' | 'mute';
  matchers: Array<{ name: string; op: string; value: string }>;
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
}

export interface SilencesAnswer {
  silences: SilenceItem[];
  active: number;
}

export const VIEWS = ['process', 'container', 'pod', 'workload', 'service', 'namespace', 'node', 'zone'] as const;

export function failureTotal(e: Pick<EdgeCounters, 'failures'>): number {
  let n = 0;
  for (const v of Object.values(e.failures)) n += v;
  return n;
}
