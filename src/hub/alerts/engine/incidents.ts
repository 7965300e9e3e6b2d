// Incidents: one open alert per subject (an edge, a DNS client and server, a new dependency).
// Every signal of an edge belongs to its one incident: the first to fire names it, later ones
// join it, and it resolves when all of them have cleared. One fault (a server dropping packets:
// timeouts, retransmits, slow connects) is one alert, not three.
import type { Severity } from '../config/types.js';
import { fingerprint, type AlertFamily, type Explanation, type SignalReport } from '../model.js';
import type { Signal } from './signals.js';

export interface SignalState {
  signal: Signal;
  /** When it fired (ms). */
  since: number;
  /** Healthy since (0: not healthy now). */
  goodSince: number;
  /** Unjudgeable (too little traffic) since (0: judged now). */
  unknownSince: number;
  /** When it cleared (0: it holds). */
  cleared: number;
}

export interface Incident {
  /** `family|subject` */
  key: string;
  family: AlertFamily;
  /** The edge id, or the DNS `client|server`. */
  subject: string;
  name: string;
  severity: Severity;
  labels: Record<string, string>;
  fingerprint: string;
  startsAt: number;
  /** 0 while it holds. */
  endsAt: number;
  updatedAt: number;
  signals: SignalState[];
  explanation: Explanation | null;
  explainedAt: number;
  /** The UI link. */
  url: string;
  /** The signals' numbers when it resolved (a resolved alert shows what it was, not what is now). */
  finalReports?: SignalReport[];
}

export function incidentKey(family: AlertFamily, subject: string): string {
  return `${family}|${subject}`;
}

export class Incidents {
  readonly active = new Map<string, Incident>();
  /** Resolved incidents, newest last (bounded). */
  readonly history: Incident[] = [];

  constructor(private readonly keepResolved = 1000) {}

  open(i: Omit<Incident, 'key' | 'fingerprint' | 'endsAt' | 'updatedAt' | 'explanation' | 'explainedAt'>): Incident {
    const inc: Incident = { ...i, key: incidentKey(i.family, i.subject), fingerprint: fingerprint(i.labels), endsAt: 0, updatedAt: i.startsAt, explanation: null, explainedAt: 0 };
    this.active.set(inc.key, inc);
    return inc;
  }

  get(family: AlertFamily, subject: string): Incident | undefined {
    return this.active.get(incidentKey(family, subject));
  }

  resolve(inc: Incident, nowMs: number): void {
    inc.endsAt = nowMs;
    inc.updatedAt = nowMs;
    for (const s of inc.signals) if (!s.cleared) s.cleared = nowMs;
    this.active.delete(inc.key);
    this.history.push(inc);
    if (this.history.length > this.keepResolved) this.history.splice(0, this.history.length - this.keepResolved);
  }

  /** Active and resolved incidents (resolved ones no older than `sinceMs`). */
  all(sinceMs = 0): Incident[] {
    return [...this.active.values(), ...this.history.filter((i) => i.endsAt >= sinceMs)];
  }

  toJSON(): { active: Incident[]; history: Incident[] } {
    return { active: [...this.active.values()], history: this.history };
  }

  restore(data: { active: Incident[]; history: Incident[] }): void {
    for (const i of data.active) this.active.set(i.key, i);
    this.history.push(...data.history.slice(-this.keepResolved));
  }
}
