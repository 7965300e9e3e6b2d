// What each receiver is sent, in its published format:
//  - Alertmanager API v2 (POST /api/v2/alerts): postableAlerts;
//  - the generic webhook: Alertmanager's webhook body, version 4;
//  - Slack incoming webhooks: text (the fallback) and Block Kit blocks;
//  - PagerDuty Events API v2: trigger and resolve events with a dedup_key.
import { createHash } from 'node:crypto';
import type { Severity } from '../config/types.js';
import type { Alert } from '../model.js';

/** A notification: the alerts of one group at one moment. */
export interface Notification {
  receiver: string;
  /** `{}:{label="value", ...}` like Alertmanager's (route, then the group labels). */
  groupKey: string;
  groupLabels: Record<string, string>;
  /** firing while any of its alerts fires. */
  status: 'firing' | 'resolved';
  alerts: Alert[];
  /** Alerts left out (max_alerts). */
  truncated: number;
  externalUrl: string;
}

/** Alertmanager writes a firing alert's endsAt as Go's zero time. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export function groupKey(groupLabels: Record<string, string>): string {
  const parts = Object.keys(groupLabels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(groupLabels[k])}`);
  return `{}:{${parts.join(', ')}}`;
}

function common(list: Array<Record<string, string>>): Record<string, string> {
  if (!list.length) return {};
  const out: Record<string, string> = { ...list[0] };
  for (const m of list.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

/** The Alertmanager webhook body, version 4 (what Alertmanager sends its own webhook receivers). */
export function webhookBody(n: Notification) {
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.truncated,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: common(n.alerts.map((a) => a.labels)),
    commonAnnotations: common(n.alerts.map((a) => a.annotations)),
    externalURL: n.externalUrl,
    alerts: n.alerts.map((a) => ({
      status: a.state === 'resolved' ? 'resolved' : 'firing',
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.starts_at,
      endsAt: a.ends_at ?? GO_ZERO_TIME,
      generatorURL: a.url,
      fingerprint: a.id,
    })),
  };
}

/** Alertmanager API v2 postableAlerts: a firing alert ends at `firingEndsAt` unless resent (so that alerts of a hub that died end on their own). */
export function alertmanagerAlerts(alerts: readonly Alert[], firingEndsAt: string) {
  return alerts.map((a) => ({
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.starts_at,
    endsAt: a.ends_at ?? firingEndsAt,
    generatorURL: a.url,
  }));
}

// Slack Block Kit limits (api.slack.com/reference/block-kit/blocks): header text 150 characters,
// section text 3000, context elements 10, blocks 50; message text (the fallback) 40,000.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const BLOCKS_MAX = 50;
const BUTTON_TEXT_MAX = 75;
const URL_MAX = 3000;

const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
/** mrkdwn needs &, < and > escaped (api.slack.com/reference/surfaces/formatting#escaping). */
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const SEVERITY_MARK: Record<Severity, string> = { critical: ':red_circle:', error: ':large_orange_circle:', warning: ':large_yellow_circle:', info: ':large_blue_circle:' };

export function slackMessage(n: Notification) {
  const firing = n.alerts.filter((a) => a.state !== 'resolved');
  const resolved = n.alerts.filter((a) => a.state === 'resolved');
  const title = n.status === 'firing' ? `[FIRING:${firing.length}] ${n.alerts[0]?.name ?? 'flowscope'}` : `[RESOLVED] ${n.alerts[0]?.name ?? 'flowscope'}`;
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: clip(title, HEADER_MAX), emoji: true } }];
  // Each alert: a section and a context line; the last block is kept for the truncation note.
  const perAlert = 3;
  const room = Math.floor((BLOCKS_MAX - 2) / perAlert);
  const shown = [...firing, ...resolved].slice(0, room);
  for (const a of shown) {
    const mark = a.state === 'resolved' ? ':white_check_mark:' : SEVERITY_MARK[a.severity];
    const lines = [`${mark} *${esc(a.annotations.summary ?? a.name)}*`];
    if (a.explanation?.sentence) lines.push(esc(a.explanation.sentence));
    for (const s of a.signals) lines.push(`• ${esc(s.text)}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SECTION_MAX) } });
    const since = a.state === 'resolved' ? `resolved ${a.ends_at}` : `since ${a.starts_at}`;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(`${a.severity} · ${since} · ${esc(a.labels.edge ?? a.labels.client ?? '')}`, SECTION_MAX) }] });
    if (a.url.length <= URL_MAX) blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: clip('Open in flowscope', BUTTON_TEXT_MAX) }, url: a.url }] });
  }
  const left = n.alerts.length - shown.length + n.truncated;
  if (left > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${left} more` }] });
  const text = clip(`${title}: ${n.alerts.map((a) => a.annotations.summary ?? a.name).join('; ')}`, 3000);
  return { text, blocks };
}

/** PagerDuty's severities (Events API v2: critical, error, warning, info). */
export function pagerDutySeverity(s: Severity): 'critical' | 'error' | 'warning' | 'info' {
  return s;
}

/** One PagerDuty incident per receiver and group, whatever restarts happen. */
export function dedupKey(receiver: string, key: string): string {
  return `flowscope-${createHash('sha256').update(`${receiver}\u0000${key}`).digest('hex').slice(0, 40)}`;
}

const SEVERITY_ORDER: Severity[] = ['critical', 'error', 'warning', 'info'];

export function pagerDutyEvent(n: Notification, routingKey: string, source: string) {
  const key = dedupKey(n.receiver, n.groupKey);
  if (n.status === 'resolved') return { routing_key: routingKey, event_action: 'resolve' as const, dedup_key: key };
  const firing = n.alerts.filter((a) => a.state !== 'resolved');
  const worst = SEVERITY_ORDER.find((s) => firing.some((a) => a.severity === s)) ?? 'warning';
  const first = firing[0]!;
  const summary = firing.length === 1 ? (first.annotations.summary ?? first.name) : `${firing.length} alerts: ${firing.map((a) => a.annotations.summary ?? a.name).join('; ')}`;
  return {
    routing_key: routingKey,
    event_action: 'trigger' as const,
    dedup_key: key,
    payload: {
      summary: clip(summary, 1024),
      source,
      severity: pagerDutySeverity(worst),
      timestamp: first.starts_at,
      component: first.labels.target ?? first.labels.client ?? undefined,
      group: first.labels.namespace ?? undefined,
      class: first.name,
      custom_details: {
        explanation: first.explanation?.sentence ?? null,
        alerts: firing.map((a) => ({ name: a.name, severity: a.severity, summary: a.annotations.summary, description: a.annotations.description, labels: a.labels, starts_at: a.starts_at })),
        resolved: n.alerts.filter((a) => a.state === 'resolved').map((a) => a.annotations.summary),
        truncated: n.truncated,
      },
    },
    client: 'flowscope',
    client_url: n.externalUrl,
    links: firing.slice(0, 5).map((a) => ({ href: a.url, text: clip(`flowscope: ${a.labels.edge ?? a.labels.client ?? a.name}`, 100) })),
  };
}
