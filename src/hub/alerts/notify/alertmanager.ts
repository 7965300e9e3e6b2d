// Delivery to a Prometheus Alertmanager through its API v2 (POST /api/v2/alerts), the way
// Prometheus itself does it: every active alert is sent again every resend_interval with an
// endsAt a few intervals ahead (should the hub die, Alertmanager resolves them on its own), and
// a resolved alert is sent with its real endsAt for a while after. Alertmanager groups,
// deduplicates, silences and routes from there. Silenced alerts are not sent; a rate limit caps
// requests per minute (an alert that changed waits for the next allowed request).
import type { Alert } from '../model.js';
import { alertmanagerAlerts } from './formats.js';
import type { DeliveryError } from './http.js';

export type PostAlerts = (body: unknown) => Promise<void>;

export interface AlertmanagerState {
  /** Alert id to what was last sent (its endsAt, '' while firing) and when. */
  sent: Array<[string, { endsAt: string; atMs: number }]>;
}

/** How many resend intervals a firing alert is good for. */
const ENDS_AFTER_RESENDS = 4;
/** How many times a resolved alert is sent again. */
const RESOLVED_RESENDS = 3;

export class AlertmanagerSender {
  private readonly sent = new Map<string, { endsAt: string; atMs: number; resolvedSends: number }>();
  private lastPostMs = 0;
  private tokens: number;
  private tokensAt = 0;
  private busy = false;
  private failures = 0;
  private retryMs = 0;
  readonly counters = { sent: 0, failed: 0, rateLimited: 0, alertsSent: 0 };
  lastError: string | undefined;

  constructor(
    readonly receiver: string,
    private readonly resendIntervalMs: number,
    private readonly rateLimit: number,
    private readonly post: PostAlerts,
  ) {
    this.tokens = rateLimit;
  }

  private takeToken(nowMs: number): boolean {
    this.tokens = Math.min(this.rateLimit, this.tokens + ((nowMs - this.tokensAt) / 60_000) * this.rateLimit);
    this.tokensAt = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Sends when something changed, or every resend interval while anything is active. */
  async flush(alerts: readonly Alert[], nowMs: number, log?: (msg: string, err?: DeliveryError) => void): Promise<void> {
    if (this.busy || nowMs < this.retryMs) return;
    const firing = alerts.filter((a) => a.state === 'firing' && a.silenced_by.length === 0);
    const resolved = alerts.filter((a) => a.state === 'resolved' && this.sent.has(a.id) && (this.sent.get(a.id)!.resolvedSends < RESOLVED_RESENDS));
    const changed = firing.some((a) => this.sent.get(a.id)?.endsAt !== '') || resolved.some((a) => this.sent.get(a.id)!.endsAt === '');
    const resend = nowMs - this.lastPostMs >= this.resendIntervalMs && firing.length + resolved.length > 0;
    if (!changed && !resend) return;
    if (!this.takeToken(nowMs)) {
      this.counters.rateLimited++;
      return;
    }
    const list = [...firing, ...resolved];
    const body = alertmanagerAlerts(list, new Date(nowMs + ENDS_AFTER_RESENDS * this.resendIntervalMs).toISOString());
    this.busy = true;
    try {
      await this.post(body);
      this.counters.sent++;
      this.counters.alertsSent += list.length;
      this.lastPostMs = nowMs;
      this.failures = 0;
      for (const a of firing) this.sent.set(a.id, { endsAt: '', atMs: nowMs, resolvedSends: 0 });
      for (const a of resolved) {
        const s = this.sent.get(a.id)!;
        this.sent.set(a.id, { endsAt: a.ends_at!, atMs: nowMs, resolvedSends: s.endsAt === '' ? 1 : s.resolvedSends + 1 });
      }
      // Forget what is neither active nor still being resolved.
      const live = new Set(list.map((a) => a.id));
      for (const [id, s] of this.sent) if (!live.has(id) && (s.endsAt !== '' || nowMs - s.atMs > ENDS_AFTER_RESENDS * this.resendIntervalMs)) this.sent.delete(id);
      this.lastError = undefined;
    } catch (err) {
      const e = err as DeliveryError;
      this.counters.failed++;
      this.failures++;
      const backoff = e.retryAfterS ? e.retryAfterS * 1000 : Math.min(this.resendIntervalMs, 1000 * 2 ** Math.min(this.failures, 16));
      this.retryMs = nowMs + backoff;
      this.lastError = e.message;
      log?.(`delivery to Alertmanager receiver ${this.receiver} failed; retrying in ${Math.round(backoff / 1000)}s`, e);
    } finally {
      this.busy = false;
    }
  }

  state(): AlertmanagerState {
    return { sent: [...this.sent].map(([id, s]) => [id, { endsAt: s.endsAt, atMs: s.atMs }]) };
  }

  restore(s: AlertmanagerState): void {
    for (const [id, v] of s.sent) this.sent.set(id, { ...v, resolvedSends: v.endsAt === '' ? 0 : 1 });
  }
}
