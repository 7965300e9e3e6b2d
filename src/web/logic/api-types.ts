// The hub's answers as the UI reads them (the shapes of /api/openapi.json). Only the fields the
// UI uses are required; the hub may send more.

export interface GraphNode {
  id: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
}

export interface SideView {
  connections: number;
  active: number;
  failures: number;
  bytes_sent: number;
  bytes_received: number;
  retransmits: number;
  resets_sent: number;
  resets_received: number;
  rtt_p50_seconds: number | null;
  rtt_p99_seconds: number | null;
}

/** The counters of an edge over a window. */
export interface EdgeCounters {
  connections: number;
  active: number;
  failures: Record<string, number>;
  bytes_sent: number;
  bytes_received: number;
  retransmits: number;
  resets: number;
  rtt_p50_seconds: number | null;
  rtt_p99_seconds: number | null;
  connect_p50_seconds: number | null;
  connect_p99_seconds: number | null;
}

export interface GraphEdge extends EdgeCounters {
  id: string;
  source: string;
  target: string;
  port: number;
  protocol: string;
  sides: Array<'client' | 'server'>;
  client: SideView | null;
  server: SideView | null;
}

export interface Graph {
  view: string;
  from: string;
  to: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface NeighbourhoodAnswer extends Graph {
  node: string;
  hops: number;
  distance: Record<string, number>;
}

export interface SearchHit {
  id: string;
  kind: string;
  name: string;
  view: string;
  labels: Record<string, string>;
  match: { field: 'name' | 'address' | 'label'; value: string };
  score: number;
}

export interface SearchAnswer {
  query: string;
  results: SearchHit[];
}

export const BREAKDOWN_DOMAINS = ['version', 'pod', 'node', 'zone', 'image', 'process', 'port'] as const;
export type BreakdownDomain = (typeof BREAKDOWN_DOMAINS)[number];

export interface BreakdownPart {
  side: 'client' | 'server';
  value: string;
  connections: number;
  traffic_share: number;
  failures: Record<string, number>;
  failure_count: number;
  failure_share: number;
  resets: number;
  slow: number;
  slow_share: number;
  problem_share: number;
  rtt_p99_seconds: number | null;
  connect_p99_seconds: number | null;
}

export interface BreakdownAnswer {
  from: string;
  to: string;
  by: BreakdownDomain;
  edge: GraphEdge;
  total: { connections: number; failures: number; resets: number; slow: number; slow_rtt_seconds: number | null; slow_connect_seconds: number | null };
  parts: BreakdownPart[];
}

export interface DiffAnswer {
  view: string;
  from: string;
  to: string;
  baseline_from: string;
  baseline_to: string;
  appeared: GraphEdge[];
  vanished: GraphEdge[];
  changed: Array<{ edge: GraphEdge; baseline: GraphEdge; score: number; changes: Record<string, { before: number | null; after: number | null }> }>;
  nodes: GraphNode[];
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
