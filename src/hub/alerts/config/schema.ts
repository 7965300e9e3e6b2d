// The alerts file as written: every field optional (what is left out keeps its default), unknown
// fields refused. Durations are `30s`, `5m`, `1h` (or seconds as a number); ratios are `99.9%` or a
// fraction (0.999).
import { z } from 'zod';
import { SEVERITIES } from './types.js';

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function durationMs(v: string | number): number {
  if (typeof v === 'number') return v * 1000;
  const m = DURATION_RE.exec(v.trim())!;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

export function fraction(v: string | number): number {
  // 99.9% is 0.999, not 0.9990000000000001.
  return typeof v === 'number' ? v : Number((Number(v.trim().slice(0, -1)) / 100).toPrecision(12));
}

const duration = z.union([z.number().nonnegative(), z.string().regex(DURATION_RE, 'is not a duration: use e.g. 30s, 5m, 1h (or a number of seconds)')], {
  error: 'is not a duration: use e.g. 30s, 5m, 1h (or a number of seconds)',
});
const ratio = z.union([z.number().min(0).max(1), z.string().regex(/^\d+(\.\d+)?%$/, "is not a ratio: use e.g. 5% or 0.05")], { error: 'is not a ratio: use e.g. 5% or 0.05' });
const count = z.number().int().nonnegative();
const severity = z.enum(SEVERITIES);
const secretFile = z.string().min(1);

const burnWindow = z.strictObject({ long: duration, short: duration, burn_rate: z.number().positive(), severity });

export const failuresSchema = z.strictObject({
  enabled: z.boolean(),
  objective: ratio,
  min_attempts: count,
  min_failures: count,
  windows: z.array(burnWindow).min(1).max(8),
  resolve_after: duration,
});

export const anomalySchema = z.strictObject({
  enabled: z.boolean(),
  severity,
  mads: z.number().nonnegative(),
  min_increase: ratio.or(z.number().nonnegative()),
  min_delta: z.union([z.number().nonnegative(), duration, ratio]),
  min_traffic: count,
  for: duration,
  resolve_after: duration,
});

export const dnsSchema = z.strictObject({
  enabled: z.boolean(),
  severity,
  min_requests: count,
  servfail: ratio,
  timeout: ratio,
  nxdomain: z.strictObject({ mads: z.number().nonnegative(), min_delta: ratio }).partial(),
  for: duration,
  resolve_after: duration,
});

export const newDependencySchema = z.strictObject({
  enabled: z.boolean(),
  severity,
  hold: duration,
  settle: duration,
  external: z.enum(['named', 'all', 'none']),
});

export const rulesSchema = z.strictObject({
  new_dependency: newDependencySchema.partial(),
  failures: failuresSchema.partial(),
  rtt: anomalySchema.partial(),
  connect: anomalySchema.partial(),
  retransmits: anomalySchema.partial(),
  resets: anomalySchema.partial(),
  dns: dnsSchema.partial(),
});

export type RawRules = z.infer<typeof rulesSchema>;

const matchSchema = z.strictObject({
  namespace: z.string().min(1).optional(),
  workload: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  side: z.enum(['client', 'server', 'either']).optional(),
});

const deliveryFields = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'is not a receiver name: letters, digits, _ . - (up to 64)'),
  match: z.record(z.string(), z.string()).optional(),
  group_by: z.array(z.string()).optional(),
  group_wait: duration.optional(),
  group_interval: duration.optional(),
  repeat_interval: duration.optional(),
  rate_limit: z.number().int().positive().optional(),
  send_resolved: z.boolean().optional(),
  timeout: duration.optional(),
};

const receiverSchema = z.strictObject({
  ...deliveryFields,
  alertmanager: z.strictObject({ url: z.url().optional(), url_file: secretFile.optional(), bearer_token_file: secretFile.optional(), resend_interval: duration.optional() }).optional(),
  webhook: z.strictObject({ url_file: secretFile, bearer_token_file: secretFile.optional(), max_alerts: count.optional() }).optional(),
  slack: z.strictObject({ webhook_url_file: secretFile }).optional(),
  pagerduty: z.strictObject({ routing_key_file: secretFile, url: z.url().optional() }).optional(),
});

export const fileSchema = z.strictObject({
  evaluation_interval: duration.optional(),
  view: z.string().optional(),
  external_url: z.url().optional(),
  resolution: z.strictObject({ short: duration, long: duration }).partial().optional(),
  baseline: z.strictObject({ window: duration, every: duration, points: z.number().int().min(1).max(1000), min_points: z.number().int().min(1) }).partial().optional(),
  learning_window: duration.optional(),
  save_interval: duration.optional(),
  rules: rulesSchema.partial().optional(),
  overrides: z.array(z.strictObject({ match: matchSchema, rules: rulesSchema.partial() })).optional(),
  receivers: z.array(receiverSchema).optional(),
});

export type RawFile = z.infer<typeof fileSchema>;
export type RawReceiver = z.infer<typeof receiverSchema>;
