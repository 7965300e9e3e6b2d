// The configured receivers, each with its sender: Alertmanager (its own grouping), and webhook,
// Slack and PagerDuty behind a dispatcher (grouping, repeat, resolve, rate limit).
import type { ReceiverConfig } from '../config/types.js';
import type { Alert } from '../model.js';
import { AlertmanagerSender, type AlertmanagerState } from './alertmanager.js';
import { Dispatcher, type GroupState } from './dispatcher.js';
import { pagerDutyEvent, slackMessage, webhookBody, type Notification } from './formats.js';
import { DeliveryError, postJson } from './http.js';

export interface ReceiverStatus {
  name: string;
  type: string;
  sent: number;
  failed: number;
  rate_limited: number;
  last_error: string | null;
  groups: number;
}

export type SavedReceivers = Record<string, { groups?: GroupState[]; alertmanager?: AlertmanagerState }>;

type Log = (msg: string, err?: DeliveryError) => void;

export class Receivers {
  private readonly dispatchers: Array<{ config: ReceiverConfig; d: Dispatcher }> = [];
  private readonly ams: Array<{ config: ReceiverConfig; s: AlertmanagerSender }> = [];

  constructor(configs: readonly ReceiverConfig[], externalUrl: () => string, hubName: string) {
    for (const c of configs) {
      const k = c.kind;
      const timeoutMs = c.delivery.timeoutMs;
      if (k.type === 'alertmanager') {
        const url = `${k.url.replace(/\/+$/, '')}/api/v2/alerts`;
        const headers: Record<string, string> = k.bearerToken ? { authorization: `Bearer ${k.bearerToken}` } : {};
        const secrets = k.bearerToken ? [k.bearerToken] : [];
        this.ams.push({
          config: c,
          s: new AlertmanagerSender(c.name, k.resendIntervalMs, c.delivery.rateLimit, async (body) => {
            await postJson({ url, body, timeoutMs, headers, secrets });
          }),
        });
        continue;
      }
      let send: (n: Notification) => Promise<void>;
      let maxAlerts = 0;
      if (k.type === 'webhook') {
        maxAlerts = k.maxAlerts;
        const headers: Record<string, string> = k.bearerToken ? { authorization: `Bearer ${k.bearerToken}` } : {};
        send = async (n) => {
          await postJson({ url: k.url, body: webhookBody(n), timeoutMs, headers, secrets: [k.url, ...(k.bearerToken ? [k.bearerToken] : [])] });
        };
      } else if (k.type === 'slack') {
        send = async (n) => {
          const r = await postJson({ url: k.url, body: slackMessage(n), timeoutMs, secrets: [k.url] });
          // Slack answers 200 "ok"; anything else in the body is an error it did not flag by status.
          if (r.text.trim() && r.text.trim() !== 'ok') throw new DeliveryError(`Slack answered: ${r.text.slice(0, 200)}`, r.status);
        };
      } else {
        send = async (n) => {
          const r = await postJson({ url: k.url, body: pagerDutyEvent(n, k.routingKey, hubName), timeoutMs, secrets: [k.routingKey] });
          if (r.status !== 202) throw new DeliveryError(`PagerDuty answered ${r.status} (expected 202)`, r.status);
        };
      }
      this.dispatchers.push({ config: c, d: new Dispatcher(c.name, c.delivery, send, externalUrl, maxAlerts) });
    }
  }

  get size(): number {
    return this.dispatchers.length + this.ams.length;
  }

  /** Hands the alerts to every receiver and sends what is due. */
  async deliver(alerts: readonly Alert[], nowMs: number, log: Log): Promise<void> {
    const work: Array<Promise<void>> = [];
    for (const { config, d } of this.dispatchers) {
      d.update(
        alerts.filter((a) => matchesReceiver(config, a)),
        nowMs,
      );
      work.push(d.flush(nowMs, log));
    }
    for (const { config, s } of this.ams) work.push(s.flush(alerts.filter((a) => matchesReceiver(config, a)), nowMs, log));
    await Promise.all(work);
  }

  status(): ReceiverStatus[] {
    return [
      ...this.ams.map(({ config, s }) => ({ name: config.name, type: 'alertmanager', sent: s.counters.sent, failed: s.counters.failed, rate_limited: s.counters.rateLimited, last_error: s.lastError ?? null, groups: 0 })),
      ...this.dispatchers.map(({ config, d }) => ({ name: config.name, type: config.kind.type, sent: d.counters.sent, failed: d.counters.failed, rate_limited: d.counters.rateLimited, last_error: d.lastError ?? null, groups: d.state().length })),
    ];
  }

  save(): SavedReceivers {
    const out: SavedReceivers = {};
    for (const { config, d } of this.dispatchers) out[config.name] = { groups: d.state() };
    for (const { config, s } of this.ams) out[config.name] = { alertmanager: s.state() };
    return out;
  }

  restore(saved: SavedReceivers): void {
    for (const { config, d } of this.dispatchers) if (saved[config.name]?.groups) d.restore(saved[config.name]!.groups!);
    for (const { config, s } of this.ams) if (saved[config.name]?.alertmanager) s.restore(saved[config.name]!.alertmanager!);
  }
}

function matchesReceiver(c: ReceiverConfig, a: Alert): boolean {
  for (const [k, v] of Object.entries(c.delivery.match)) if (a.labels[k] !== v) return false;
  return true;
}
