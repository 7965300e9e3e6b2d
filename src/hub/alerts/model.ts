// Alerts as the API shows them and receivers get them.
import { createHash } from 'node:crypto';
import type { Breakdown } from '../graph/breakdown.js';
import type { Severity } from './config/types.js';
import type { Signal } from './engine/signals.js';

export type AlertState = 'pending' | 'firing' | 'resolved';
export type AlertFamily = 'edge' | 'dns' | 'new_dependency';

/** One thing that is (or was) wrong, with its numbers now against the edge's normal. */
export interface SignalReport {
  signal: Signal;
  /** When it started counting (RFC 3339). */
  since: string;
  /** When it cleared; null while it holds. */
  cleared: string | null;
  unit: 'seconds' | 'ratio' | 'burn_rate' | 'none';
  /** Its value over the current window (null: too little traffic to say). */
  now: number | null;
  /** The edge's normal: median and MAD of its history and the band's top; burn: the threshold. */
  baseline: { median: number; mad: number; upper: number; points: number } | null;
  /** For failures: each window pair's burn rates. */
  burn?: Array<{ long_seconds: number; short_seconds: number; burn_rate_long: number | null; burn_rate_short: number | null; threshold: number; severity: Severity }>;
  /** A sentence with the numbers. */
  text: string;
}

export interface Explanation {
  /** "93% of refused connections to payments:8080 come from checkout v2 on node-b, which sends 35% of the traffic". */
  sentence: string;
  /** The domain and side that hold the problem; null when none stands out. */
  domain: string | null;
  side: 'client' | 'server' | null;
  value: string | null;
  problem_share: number | null;
  traffic_share: number | null;
  /** The hub's breakdown by that domain (the edge's failures and latency split, ranked). */
  breakdown: (Breakdown & { from: string; to: string }) | null;
  computed_at: string;
}

export interface Alert {
  /** Stable for one incident: a hash of its labels. */
  id: string;
  name: string;
  family: AlertFamily;
  severity: Severity;
  state: AlertState;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string | null;
  updated_at: string;
  edge: { id: string; view: string; source: string; target: string; port: number } | null;
  dns: { client: string; server: string } | null;
  signals: SignalReport[];
  explanation: Explanation | null;
  /** Ids of the silences that keep it from receivers. */
  silenced_by: string[];
  /** The UI view that shows it. */
  url: string;
}

/** A label set's fingerprint: 16 hex digits, stable across restarts. */
export function fingerprint(labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(`${k}\u0000${labels[k]}\u0001`);
  return h.digest('hex').slice(0, 16);
}

/** Labels without empty values (Alertmanager treats an empty label as absent). */
export function cleanLabels(labels: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined && v !== '') out[k] = String(v);
  return out;
}
