// The table view's rows: one per edge of the graph (after mute rules and the failures-only switch),
// sortable by any column and filtered by text in any of them.
import { failureTotal, type GraphEdge, type GraphNode } from './api-types.js';
import { firingAlerts, type Health, type HealthVerdict } from './health.js';
import { time } from './format.js';

export type Change = 'new' | 'vanished' | '';

export interface EdgeRow {
  id: string;
  sourceId: string;
  source: string;
  targetId: string;
  target: string;
  port: number;
  protocol: string;
  connections: number;
  failures: number;
  failureReasons: string;
  bytes_sent: number;
  bytes_received: number;
  retransmits: number;
  resets: number;
  rtt_p99_seconds: number | null;
  connect_p99_seconds: number | null;
  health: Health;
  /** The firing alerts on it: "FlowscopeNewDependency (warning, since ...)". */
  alerts: string;
  sides: string;
  change: Change;
}

export type ColumnKey = Exclude<keyof EdgeRow, 'id' | 'sourceId' | 'targetId' | 'failureReasons'>;

export const EDGE_COLUMNS: ReadonlyArray<{ key: ColumnKey; label: string; numeric: boolean }> = [
  { key: 'source', label: 'Client', numeric: false },
  { key: 'target', label: 'Server', numeric: false },
  { key: 'port', label: 'Port', numeric: true },
  { key: 'protocol', label: 'Protocol', numeric: false },
  { key: 'health', label: 'Health', numeric: false },
  { key: 'connections', label: 'Connections', numeric: true },
  { key: 'failures', label: 'Failed connects', numeric: true },
  { key: 'resets', label: 'Resets', numeric: true },
  { key: 'retransmits', label: 'Retransmits', numeric: true },
  { key: 'bytes_sent', label: 'Bytes sent', numeric: true },
  { key: 'bytes_received', label: 'Bytes received', numeric: true },
  { key: 'rtt_p99_seconds', label: 'RTT p99', numeric: true },
  { key: 'connect_p99_seconds', label: 'Connect p99', numeric: true },
  { key: 'sides', label: 'Reported by', numeric: false },
  { key: 'change', label: 'Change', numeric: false },
  { key: 'alerts', label: 'Alerts', numeric: false },
];

const HEALTH_RANK: Record<Health, number> = { failing: 3, degraded: 2, ok: 1, idle: 0 };

export function edgeRow(e: GraphEdge, nodes: ReadonlyMap<string, GraphNode>, verdict: HealthVerdict | undefined, change: Change = ''): EdgeRow {
  return {
    id: e.id,
    sourceId: e.source,
    source: nodes.get(e.source)?.name ?? e.source,
    targetId: e.target,
    target: nodes.get(e.target)?.name ?? e.target,
    port: e.port,
    protocol: e.protocol,
    connections: e.connections,
    failures: failureTotal(e),
    failureReasons: Object.entries(e.failures)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r} ${n}`)
      .join(', '),
    bytes_sent: e.bytes_sent,
    bytes_received: e.bytes_received,
    retransmits: e.retransmits,
    resets: e.resets,
    rtt_p99_seconds: e.rtt_p99_seconds,
    connect_p99_seconds: e.connect_p99_seconds,
    health: verdict?.health ?? 'ok',
    alerts: firingAlerts(e)
      .map((a) => `${a.name} (${a.severity}, since ${time(a.since)})`)
      .join(', '),
    sides: e.sides.join(' + '),
    change,
  };
}

export function isColumn(key: string): key is ColumnKey {
  return EDGE_COLUMNS.some((c) => c.key === key);
}

export function sortRows(rows: readonly EdgeRow[], key: ColumnKey, desc: boolean): EdgeRow[] {
  const value = (r: EdgeRow): number | string => (key === 'health' ? HEALTH_RANK[r.health] : (r[key] ?? -1));
  const dir = desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c * dir || a.id.localeCompare(b.id);
  });
}

/** Rows with every word of the query in one of their columns (case-insensitive). */
export function filterRows(rows: readonly EdgeRow[], query: string): EdgeRow[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...rows];
  return rows.filter((r) => {
    const text = `${r.source} ${r.sourceId} ${r.target} ${r.targetId} ${r.port} ${r.protocol} ${r.health} ${r.alerts} ${r.failureReasons} ${r.sides} ${r.change}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}
