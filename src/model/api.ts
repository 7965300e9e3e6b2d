// The hub's query API answers (v1), shared by the hub that builds them and the UI that reads them;
// /api/openapi.json documents the same shapes.

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
  /** Requests this side's agent captured (HTTP, gRPC; present only when it saw any). */
  requests?: number;
  request_errors?: number;
}

/** An edge's counters over a window. */
export interface EdgeCounters {
  /** Connections opened (the client's count when the client reported, else the server's). */
  connections: number;
  /** Open at the end of the window. */
  active: number;
  failures: Record<string, number>;
  /** From the client's side: what the client sent (the server's received when only the server reported). */
  bytes_sent: number;
  bytes_received: number;
  /** Both sides' retransmissions (each side retransmits what it sent). */
  retransmits: number;
  /** Resets on the edge's connections, sent or received (one side's count). */
  resets: number;
  rtt_p50_seconds: number | null;
  rtt_p99_seconds: number | null;
  connect_p50_seconds: number | null;
  connect_p99_seconds: number | null;
  /**
   * Requests (HTTP, gRPC) on the edge's connections, present only when an end's agent captured
   * some (L7 capture): the count of the side that saw more (both see the same requests).
   */
  requests?: number;
  /** HTTP 5xx and gRPC codes other than OK. */
  request_errors?: number;
  /** By status: HTTP classes ("2xx".."5xx"), "none" (cut short), gRPC codes ("grpc:OK", "grpc:UNAVAILABLE"...), "other". */
  requests_by_status?: Record<string, number>;
  request_p50_seconds?: number | null;
  request_p99_seconds?: number | null;
}

export type AlertSeverity = 'critical' | 'error' | 'warning' | 'info';

/** An alert's mark on a graph edge (the hub's alerting, when it runs). */
export interface AlertMark {
  /** The alert's id (GET /api/v1/alerts). */
  id: string;
  name: string;
  severity: AlertSeverity;
  state: 'pending' | 'firing' | 'resolved';
  /** When it started (RFC 3339). */
  since: string;
}

export interface GraphEdge extends EdgeCounters {
  id: string;
  source: string;
  target: string;
  port: number;
  protocol: string;
  /** Which sides reported: both when the join found the server's agent and the client's. */
  sides: Array<'client' | 'server'>;
  /** Each side's own view (graph and neighbourhood carry them when asked: sides=true). */
  client?: SideView | null;
  server?: SideView | null;
  /** Alerts on this edge active during the window (absent when none, or when alerting is off). */
  alerts?: AlertMark[];
}

export interface Graph {
  view: string;
  from: string;
  to: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface SearchHit {
  id: string;
  kind: string;
  name: string;
  /** The view in which `id` is a node (pass it with the id to neighbourhood). */
  view: string;
  labels: Record<string, string>;
  match: { field: 'name' | 'address' | 'label'; value: string };
  score: number;
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
  /** Connects and round trips at least four times the fastest part's median (and 1 ms). */
  slow: number;
  slow_share: number;
  /** Failures, resets, slow observations and failed requests of this part over those of the edge. */
  problem_share: number;
  /** Failed requests (HTTP 5xx, gRPC not OK) and their share of the edge's: present when the edge carried requests. */
  request_errors?: number;
  request_error_share?: number;
  rtt_p99_seconds: number | null;
  connect_p99_seconds: number | null;
}

export interface Breakdown {
  by: BreakdownDomain;
  /** slow_*_seconds: from where a round trip or connect counts as slow. */
  total: { connections: number; failures: number; resets: number; slow: number; slow_rtt_seconds: number | null; slow_connect_seconds: number | null; request_errors?: number };
  parts: BreakdownPart[];
}

export interface MetricChange {
  before: number | null;
  after: number | null;
}

export interface ChangedEdge {
  edge: GraphEdge;
  baseline: GraphEdge;
  /** How much it changed: the largest of the metrics' changes (log2 of the ratio; failure ratio in points x 10). */
  score: number;
  changes: Record<string, MetricChange>;
}

export interface Diff {
  appeared: GraphEdge[];
  vanished: GraphEdge[];
  changed: ChangedEdge[];
  nodes: GraphNode[];
}
