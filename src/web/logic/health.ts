// An edge's health from its counters: failing (connects failing, resets), degraded (some failures,
// retransmissions, or latency well above the edge's own recent history), ok, or idle; and at least
// what the hub's firing alerts on it say. Each verdict carries the reasons, in words, so the map,
// the panel and the table can say why.
import { failureTotal, type AlertMark, type AlertSeverity, type EdgeCounters } from './api-types.js';
import { time } from './format.js';

export type Health = 'failing' | 'degraded' | 'ok' | 'idle';

export const HEALTH_ORDER: readonly Health[] = ['failing', 'degraded', 'ok', 'idle'];

export interface HealthVerdict {
  health: Health;
  reasons: string[];
}

/** The latency an edge had before the window: what its current latency is measured against. */
export interface LatencyBaseline {
  rtt_p99_seconds: number | null;
  connect_p99_seconds: number | null;
}

/** Failed connects at or above this share of attempts make an edge failing. */
export const FAILING_RATIO = 0.05;
/** Retransmitted segments above this share of (estimated) segments make an edge degraded. */
export const RETRANSMIT_RATIO = 0.01;
/** Latency this many times its baseline (and at least LATENCY_FLOOR above it) is degraded. */
export const LATENCY_FACTOR = 2;
export const LATENCY_FLOOR_SECONDS = 0.001;
const SEGMENT_BYTES = 1448;

const pct = (x: number): string => `${x >= 0.1 ? Math.round(x * 100) : Math.round(x * 1000) / 10}%`;
const ms = (s: number): string => `${s >= 0.1 ? Math.round(s * 1000) : Math.round(s * 10_000) / 10} ms`;

function slower(now: number | null, before: number | null): number | null {
  if (now === null || before === null || before <= 0) return null;
  return now >= before * LATENCY_FACTOR && now - before >= LATENCY_FLOOR_SECONDS ? now / before : null;
}

/** The least a firing alert makes of its edge, by severity (info alerts are named, not coloured). */
export const SEVERITY_HEALTH: Readonly<Record<AlertSeverity, Health | null>> = { critical: 'failing', error: 'failing', warning: 'degraded', info: null };

/** The alerts on an edge that fire now (pending and resolved ones say nothing about its health). */
export function firingAlerts(e: { alerts?: readonly AlertMark[] }): AlertMark[] {
  return (e.alerts ?? []).filter((m) => m.state === 'firing');
}

export const alertReason = (m: AlertMark): string => `alert: ${m.name} since ${time(m.since)}`;

export function edgeHealth(e: EdgeCounters & { alerts?: readonly AlertMark[] }, baseline?: LatencyBaseline): HealthVerdict {
  const verdict = countersHealth(e, baseline);
  const alerts = firingAlerts(e);
  if (!alerts.length) return verdict;
  let health = verdict.health;
  for (const m of alerts) {
    const floor = SEVERITY_HEALTH[m.severity];
    if (floor) health = worse(health, floor);
  }
  return { health, reasons: [...alerts.map(alertReason), ...verdict.reasons] };
}

function countersHealth(e: EdgeCounters, baseline?: LatencyBaseline): HealthVerdict {
  const reasons: string[] = [];
  const failed = failureTotal(e);
  const attempts = e.connections + failed;
  let health: Health = attempts > 0 || e.bytes_sent + e.bytes_received > 0 || e.active > 0 || (e.requests ?? 0) > 0 ? 'ok' : 'idle';
  if (failed > 0) {
    const ratio = failed / Math.max(1, attempts);
    const byReason = Object.entries(e.failures)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    reasons.push(`${pct(ratio)} of connects failed (${byReason})`);
    health = ratio >= FAILING_RATIO ? 'failing' : 'degraded';
  }
  if (e.resets > 0) {
    reasons.push(`${e.resets} reset${e.resets === 1 ? '' : 's'}`);
    const ratio = e.resets / Math.max(1, e.connections);
    if (ratio >= FAILING_RATIO) health = 'failing';
    else if (health !== 'failing') health = 'degraded';
  }
  // Requests (when the agents capture them): failed ones (HTTP 5xx, gRPC not OK) as failed connects are.
  const requestErrors = e.request_errors ?? 0;
  if (e.requests && requestErrors > 0) {
    const ratio = requestErrors / e.requests;
    const byStatus = Object.entries(e.requests_by_status ?? {})
      .filter(([k, n]) => n > 0 && (k === '5xx' || (k.startsWith('grpc:') && k !== 'grpc:OK')))
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    reasons.push(`${pct(ratio)} of requests failed (${byStatus})`);
    if (ratio >= FAILING_RATIO) health = 'failing';
    else if (health !== 'failing') health = 'degraded';
  }
  if (e.retransmits > 0) {
    const segments = Math.max(1, (e.bytes_sent + e.bytes_received) / SEGMENT_BYTES);
    const ratio = e.retransmits / segments;
    if (ratio > RETRANSMIT_RATIO) {
      reasons.push(`${e.retransmits} retransmits (~${pct(Math.min(1, ratio))} of segments)`);
      if (health === 'ok' || health === 'idle') health = 'degraded';
    }
  }
  if (baseline) {
    const rtt = slower(e.rtt_p99_seconds, baseline.rtt_p99_seconds);
    if (rtt !== null) reasons.push(`RTT p99 ${ms(e.rtt_p99_seconds!)}, ${rtt.toFixed(1)}x its earlier ${ms(baseline.rtt_p99_seconds!)}`);
    const connect = slower(e.connect_p99_seconds, baseline.connect_p99_seconds);
    if (connect !== null) reasons.push(`connect p99 ${ms(e.connect_p99_seconds!)}, ${connect.toFixed(1)}x its earlier ${ms(baseline.connect_p99_seconds!)}`);
    if ((rtt !== null || connect !== null) && (health === 'ok' || health === 'idle')) health = 'degraded';
  }
  return { health, reasons };
}

export function worse(a: Health, b: Health): Health {
  return HEALTH_ORDER.indexOf(a) <= HEALTH_ORDER.indexOf(b) ? a : b;
}

export const isProblem = (h: Health): boolean => h === 'failing' || h === 'degraded';

/** Line colours, told apart by lightness as well as hue. */
export const HEALTH_COLOURS: Record<Health, string> = {
  failing: '#c62828',
  degraded: '#e08a00',
  ok: '#4f8a5b',
  idle: '#a0a7ad',
};

/** Line width for an edge's traffic: 1 to 9 px on a log scale of its connections (or bytes) against the busiest edge. */
export function edgeWidth(traffic: number, busiest: number): number {
  if (traffic <= 0 || busiest <= 0) return 1;
  return Math.round((1 + (8 * Math.log1p(traffic)) / Math.log1p(Math.max(traffic, busiest))) * 10) / 10;
}

/** What an edge's width stands for: connections, or bytes where an edge had none opened in the window (long-lived). */
export function trafficOf(e: Pick<EdgeCounters, 'connections' | 'bytes_sent' | 'bytes_received'>): number {
  return e.connections + (e.bytes_sent + e.bytes_received) / 100_000;
}
