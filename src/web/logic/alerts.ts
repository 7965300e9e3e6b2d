// The hub's alerts as the Alerts panel shows them: what each is about, where it is on the map, the
// silence that would keep exactly it from the receivers, and the silences still in force.
import type { AlertItem, AlertsAnswer, GraphEdge, SilenceItem } from './api-types.js';

export const SILENCE_DURATIONS = ['1h', '4h', '24h'] as const;
export type SilenceDuration = (typeof SILENCE_DURATIONS)[number];

/** The most matchers the hub takes in one silence. */
const MAX_MATCHERS = 32;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const firingCount = (a: AlertsAnswer | null): number => a?.alerts.filter((x) => x.state === 'firing').length ?? 0;

/**
 * What the graph's edge marks depend on: which alerts fire. When it changes the graph is read
 * again (the stream's intervals carry no marks).
 */
export function alertsSignature(a: AlertsAnswer | null): string {
  if (!a) return '';
  return a.alerts
    .filter((x) => x.state === 'firing')
    .map((x) => x.id)
    .sort()
    .join(',');
}

/** "checkout -> payments:8080", "web asking 10.0.0.2" (names as the hub wrote them). */
export function alertSubject(a: AlertItem): string {
  if (a.edge) return `${a.edge.source} → ${a.edge.target}:${a.edge.port}`;
  if (a.dns) return `${a.dns.client} asking ${a.dns.server}`;
  return a.annotations.summary ?? '';
}

/** The first line of the alert's explanation, else of its first signal's numbers. */
export function alertTopLine(a: AlertItem): string {
  const text = a.explanation?.sentence || a.signals[0]?.text || '';
  return text.split('\n')[0]!.trim();
}

/** The map's edge that carries the alert's mark (in whatever view the map shows), or its own edge when that is drawn. */
export function edgeOfAlert(a: AlertItem, edges: readonly GraphEdge[]): GraphEdge | undefined {
  return edges.find((e) => e.alerts?.some((m) => m.id === a.id)) ?? (a.edge ? edges.find((e) => e.id === a.edge!.id) : undefined);
}

export interface SilenceRequest {
  kind: 'silence';
  matchers: Array<{ name: string; op: '='; value: string }>;
  duration: SilenceDuration;
  comment: string;
  created_by: string;
}

/** A silence of exactly this alert: every one of its labels, matched as it is. */
export function silenceFor(a: AlertItem, duration: SilenceDuration, comment: string): SilenceRequest {
  const matchers = Object.entries(a.labels)
    .filter(([name, value]) => LABEL_NAME.test(name) && value !== '')
    .sort(([x], [y]) => (x === 'alertname' ? -1 : y === 'alertname' ? 1 : x.localeCompare(y)))
    .slice(0, MAX_MATCHERS)
    .map(([name, value]) => ({ name, op: '=' as const, value }));
  return { kind: 'silence', matchers, duration, comment: comment.trim(), created_by: 'flowscope UI' };
}

/** Silences and mutes in force at `nowMs`, the soonest to end first. */
export function activeSilences(list: readonly SilenceItem[], nowMs: number): SilenceItem[] {
  return list.filter((s) => Date.parse(s.starts_at) <= nowMs && Date.parse(s.ends_at) > nowMs).sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
}

export const matchersText = (s: Pick<SilenceItem, 'matchers'>): string => s.matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ');
