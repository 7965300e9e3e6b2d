// Grouped delivery to one receiver (webhook, Slack, PagerDuty), as Alertmanager does it: alerts
// with the same group_by labels make one group; a new group is sent after group_wait, a changed
// one (alerts joined or resolved) at most every group_interval, an unchanged firing one again
// after repeat_interval; when the last of its alerts resolves, the group is sent once more
// (resolved) and forgotten. What was sent is remembered per group (and saved with the engine's
// state), so that the same thing is not sent twice, across restarts too. A rate limit caps
// notifications per minute; a group held back by it, or whose delivery failed, is sent later.
import type { DeliveryOptions } from '../config/types.js';
import type { Alert } from '../model.js';
import { groupKey, type Notification } from './formats.js';
import type { DeliveryError } from './http.js';

export interface GroupState {
  key: string;
  labels: Record<string, string>;
  /** When the group got its first alert (ms). */
  firstMs: number;
  /** Last delivery (0: never), and the firing and resolved alerts it held. */
  sentMs: number;
  sentFiring: string[];
  /** Failed attempts since the last delivery, and when to try again (ms). */
  failures: number;
  retryMs: number;
}

export interface DispatchCounters {
  sent: number;
  failed: number;
  rateLimited: number;
}

export type Send = (n: Notification) => Promise<void>;

const MAX_BACKOFF_MS = 5 * 60_000;

export class Dispatcher {
  private readonly groups = new Map<string, GroupState>();
  /** The current alerts of each group (by alert id), rebuilt from each update. */
  private members = new Map<string, Map<string, Alert>>();
  /** Resolved alerts not yet sent as resolved, per group. */
  private readonly resolvedPending = new Map<string, Map<string, Alert>>();
  private tokens: number;
  private tokensAt = 0;
  private busy = false;
  readonly counters: DispatchCounters = { sent: 0, failed: 0, rateLimited: 0 };
  lastError: string | undefined;

  constructor(
    readonly receiver: string,
    private readonly options: DeliveryOptions,
    private readonly send: Send,
    private readonly externalUrl: () => string,
    private readonly maxAlerts = 0,
  ) {
    this.tokens = options.rateLimit;
  }

  private groupLabels(a: Alert): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of this.options.groupBy) if (a.labels[k] !== undefined) out[k] = a.labels[k]!;
    return out;
  }

  /** The receiver's alerts as they are now: firing ones (silenced ones left out) and ones that resolved lately. */
  update(alerts: readonly Alert[], nowMs: number): void {
    const members = new Map<string, Map<string, Alert>>();
    for (const a of alerts) {
      const labels = this.groupLabels(a);
      const key = groupKey(labels);
      if (a.state === 'resolved') {
        // Only alerts this group had sent as firing are worth a resolve message.
        const g = this.groups.get(key);
        if (g && g.sentFiring.includes(a.id)) {
          let r = this.resolvedPending.get(key);
          if (!r) this.resolvedPending.set(key, (r = new Map()));
          r.set(a.id, a);
        }
        continue;
      }
      if (a.silenced_by.length) continue;
      let m = members.get(key);
      if (!m) members.set(key, (m = new Map()));
      m.set(a.id, a);
      if (!this.groups.has(key)) this.groups.set(key, { key, labels, firstMs: nowMs, sentMs: 0, sentFiring: [], failures: 0, retryMs: 0 });
    }
    // A firing alert that disappeared without resolving (silenced, muted) ends quietly.
    this.members = members;
  }

  private takeToken(nowMs: number): boolean {
    const rate = this.options.rateLimit;
    this.tokens = Math.min(rate, this.tokens + ((nowMs - this.tokensAt) / 60_000) * rate);
    this.tokensAt = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private due(g: GroupState, firing: Map<string, Alert> | undefined, resolved: Map<string, Alert> | undefined, nowMs: number): boolean {
    if (g.retryMs > nowMs) return false;
    const o = this.options;
    const firingIds = firing ? [...firing.keys()] : [];
    if (g.sentMs === 0) return firingIds.length > 0 && nowMs >= g.firstMs + o.groupWaitMs;
    const joined = firingIds.some((id) => !g.sentFiring.includes(id));
    const left = (resolved?.size ?? 0) > 0 && o.sendResolved;
    const gone = g.sentFiring.some((id) => !firing?.has(id));
    if ((joined || left || gone) && nowMs >= g.sentMs + o.groupIntervalMs) return true;
    return firingIds.length > 0 && nowMs >= g.sentMs + o.repeatIntervalMs;
  }

  /** Sends what is due; one delivery at a time per receiver. */
  async flush(nowMs: number, log?: (msg: string, err?: DeliveryError) => void): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const g of [...this.groups.values()]) {
        const firing = this.members.get(g.key);
        const resolved = this.resolvedPending.get(g.key);
        if (!firing?.size && !resolved?.size && g.sentMs > 0 && g.sentFiring.length === 0) {
          this.groups.delete(g.key);
          continue;
        }
        if (!firing?.size && g.sentMs === 0) {
          // Resolved before it was ever sent: nobody needs to hear about it.
          this.groups.delete(g.key);
          this.resolvedPending.delete(g.key);
          continue;
        }
        if (!this.due(g, firing, resolved, nowMs)) continue;
        if (!this.takeToken(nowMs)) {
          this.counters.rateLimited++;
          continue;
        }
        const alerts = [...(firing?.values() ?? []), ...(this.options.sendResolved ? (resolved?.values() ?? []) : [])];
        if (!firing?.size && !alerts.length) {
          // Everything resolved and resolved messages are off: forget the group.
          this.groups.delete(g.key);
          this.resolvedPending.delete(g.key);
          continue;
        }
        const shown = this.maxAlerts > 0 ? alerts.slice(0, this.maxAlerts) : alerts;
        const n: Notification = {
          receiver: this.receiver,
          groupKey: g.key,
          groupLabels: g.labels,
          status: firing?.size ? 'firing' : 'resolved',
          alerts: shown,
          truncated: alerts.length - shown.length,
          externalUrl: this.externalUrl(),
        };
        try {
          await this.send(n);
          this.counters.sent++;
          g.sentMs = nowMs;
          g.sentFiring = firing ? [...firing.keys()] : [];
          g.failures = 0;
          g.retryMs = 0;
          this.resolvedPending.delete(g.key);
          if (!firing?.size) this.groups.delete(g.key);
          this.lastError = undefined;
        } catch (err) {
          const e = err as DeliveryError;
          this.counters.failed++;
          g.failures++;
          const backoff = e.retryAfterS ? e.retryAfterS * 1000 : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(g.failures, 16));
          g.retryMs = nowMs + backoff;
          this.lastError = e.message;
          log?.(`delivery to receiver ${this.receiver} failed; retrying in ${Math.round(backoff / 1000)}s`, e);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** Groups a receiver has alerts in, and what it last sent (for the state file and the API). */
  state(): GroupState[] {
    return [...this.groups.values()];
  }

  restore(groups: GroupState[]): void {
    for (const g of groups) this.groups.set(g.key, { ...g, retryMs: 0 });
  }
}
