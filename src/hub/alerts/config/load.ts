// Loads the alerts file: YAML, checked field by field (each error names its line), merged over the
// defaults. An edge gets the rules of the last override that matches it, merged over the file's
// top-level rules (or the top-level rules when none matches).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { z } from 'zod';
import { parseView } from '../../graph/views.js';
import { DEFAULT_FILE, DEFAULT_RULES } from './defaults.js';
import { durationMs, fileSchema, fraction, type RawFile, type RawReceiver, type RawRules } from './schema.js';
import { readSecretFile, readSecretUrl, SecretError } from '../../../lib/secret-file.js';
import type { AlertsConfig, AnomalyRule, AnomalySignal, DeliveryOptions, DnsRule, FailuresRule, Match, NewDependencyRule, ReceiverConfig, ReceiverKind, Rules } from './types.js';
import { YamlSource, fieldName, type FieldPath } from './yaml-source.js';

export class AlertsConfigError extends Error {
  override name = 'AlertsConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid alerts configuration:\n  ${problems.join('\n  ')}`);
  }
}

type FullRules = typeof DEFAULT_RULES;

/** Where problems are reported: located in the YAML when there is one. */
interface Reporter {
  problem(path: FieldPath, text: string, atKey?: boolean): void;
}

/** Merges a file's partial rules over complete ones (rule by rule; lists are replaced, not merged). */
export function mergeRules(base: FullRules, over: Partial<RawRules> | undefined): FullRules {
  if (!over) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const merged: Record<string, unknown> = { ...(base as Record<string, Record<string, unknown>>)[k], ...v };
    if (k === 'dns' && (v as { nxdomain?: object }).nxdomain) merged.nxdomain = { ...base.dns.nxdomain, ...(v as { nxdomain: object }).nxdomain };
    out[k] = merged;
  }
  return out as FullRules;
}

const SECONDS_SIGNALS: ReadonlySet<AnomalySignal> = new Set(['rtt', 'connect']);

function anomalyRule(raw: FullRules['rtt'], signal: AnomalySignal, at: FieldPath, r: Reporter): AnomalyRule {
  let minDelta: number;
  const d = raw.min_delta;
  if (SECONDS_SIGNALS.has(signal)) {
    if (typeof d === 'string' && d.endsWith('%')) {
      r.problem([...at, 'min_delta'], `is a ${signal === 'rtt' ? 'round-trip' : 'connect'} time: use a duration like 1ms`);
      minDelta = 0;
    } else minDelta = durationMs(d) / 1000;
  } else if (typeof d === 'string' && !d.endsWith('%')) {
    r.problem([...at, 'min_delta'], `is a ratio (${signal} per ${signal === 'resets' ? 'connection' : 'segment'}): use e.g. 1% or 0.01`);
    minDelta = 0;
  } else {
    minDelta = fraction(d);
    if (minDelta > 1) r.problem([...at, 'min_delta'], 'is a ratio: at most 100% (1)');
  }
  return {
    enabled: raw.enabled,
    severity: raw.severity,
    mads: raw.mads,
    minIncrease: fraction(raw.min_increase),
    minDelta,
    minTraffic: raw.min_traffic,
    forMs: durationMs(raw.for),
    resolveAfterMs: durationMs(raw.resolve_after),
  };
}

function failuresRule(raw: FullRules['failures'], at: FieldPath, r: Reporter): FailuresRule {
  const objective = fraction(raw.objective);
  if (!(objective > 0 && objective < 1)) r.problem([...at, 'objective'], 'must be between 0% and 100% (exclusive), e.g. 99.9%');
  const windows = raw.windows.map((w, i) => {
    const longMs = durationMs(w.long);
    const shortMs = durationMs(w.short);
    if (shortMs >= longMs) r.problem([...at, 'windows', i, 'short'], `must be shorter than long (${String(w.long)})`);
    if (longMs > 30 * 86_400_000) r.problem([...at, 'windows', i, 'long'], 'must be at most 30d');
    if (w.burn_rate * (1 - objective) > 1) r.problem([...at, 'windows', i, 'burn_rate'], `${w.burn_rate} times the error budget is more than every attempt failing: lower it, or the objective`);
    return { longMs, shortMs, burnRate: w.burn_rate, severity: w.severity };
  });
  return { enabled: raw.enabled, objective, minAttempts: raw.min_attempts, minFailures: raw.min_failures, windows, resolveAfterMs: durationMs(raw.resolve_after) };
}

function dnsRule(raw: FullRules['dns']): DnsRule {
  return {
    enabled: raw.enabled,
    severity: raw.severity,
    minRequests: raw.min_requests,
    servfail: fraction(raw.servfail),
    timeout: fraction(raw.timeout),
    nxdomain: { mads: raw.nxdomain.mads ?? DEFAULT_RULES.dns.nxdomain.mads!, minDelta: fraction(raw.nxdomain.min_delta ?? DEFAULT_RULES.dns.nxdomain.min_delta!) },
    forMs: durationMs(raw.for),
    resolveAfterMs: durationMs(raw.resolve_after),
  };
}

function newDependencyRule(raw: FullRules['new_dependency']): NewDependencyRule {
  return { enabled: raw.enabled, severity: raw.severity, holdMs: durationMs(raw.hold), settleMs: durationMs(raw.settle), external: raw.external };
}

function rules(raw: FullRules, at: FieldPath, r: Reporter): Rules {
  return {
    newDependency: newDependencyRule(raw.new_dependency),
    failures: failuresRule(raw.failures, [...at, 'failures'], r),
    rtt: anomalyRule(raw.rtt, 'rtt', [...at, 'rtt'], r),
    connect: anomalyRule(raw.connect, 'connect', [...at, 'connect'], r),
    retransmits: anomalyRule(raw.retransmits, 'retransmits', [...at, 'retransmits'], r),
    resets: anomalyRule(raw.resets, 'resets', [...at, 'resets'], r),
    dns: dnsRule(raw.dns),
  };
}

const DELIVERY_DEFAULTS = { group_by: ['alertname', 'target'], group_wait: '10s', group_interval: '1m', repeat_interval: '4h', rate_limit: 30, send_resolved: true, timeout: '10s' } as const;

function receiver(raw: RawReceiver, i: number, baseDir: string, r: Reporter): ReceiverConfig | undefined {
  const at: FieldPath = ['receivers', i];
  const kinds = (['alertmanager', 'webhook', 'slack', 'pagerduty'] as const).filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    r.problem(at, kinds.length ? `has ${kinds.join(' and ')}: give exactly one kind per receiver` : 'needs one of alertmanager, webhook, slack, pagerduty');
    return undefined;
  }
  const file = (path: string): string => (isAbsolute(path) ? path : join(baseDir, path));
  const secret = (path: FieldPath, read: (p: string) => string, value: string): string => {
    try {
      return read(file(value));
    } catch (err) {
      if (err instanceof SecretError) r.problem(path, err.message);
      else throw err;
      return '';
    }
  };
  let kind: ReceiverKind;
  if (raw.alertmanager) {
    const a = raw.alertmanager;
    if ((a.url === undefined) === (a.url_file === undefined)) r.problem([...at, 'alertmanager'], 'give url (Alertmanager is no secret) or url_file, one of them');
    const url = a.url ?? (a.url_file ? secret([...at, 'alertmanager', 'url_file'], readSecretUrl, a.url_file) : '');
    const bearerToken = a.bearer_token_file ? secret([...at, 'alertmanager', 'bearer_token_file'], readSecretFile, a.bearer_token_file) : undefined;
    kind = { type: 'alertmanager', url, bearerToken, resendIntervalMs: durationMs(a.resend_interval ?? '1m') };
  } else if (raw.webhook) {
    const w = raw.webhook;
    const url = secret([...at, 'webhook', 'url_file'], readSecretUrl, w.url_file);
    const bearerToken = w.bearer_token_file ? secret([...at, 'webhook', 'bearer_token_file'], readSecretFile, w.bearer_token_file) : undefined;
    kind = { type: 'webhook', url, bearerToken, maxAlerts: w.max_alerts ?? 0 };
  } else if (raw.slack) {
    kind = { type: 'slack', url: secret([...at, 'slack', 'webhook_url_file'], readSecretUrl, raw.slack.webhook_url_file) };
  } else {
    const p = raw.pagerduty!;
    const routingKey = secret([...at, 'pagerduty', 'routing_key_file'], readSecretFile, p.routing_key_file);
    if (routingKey && !/^[A-Za-z0-9]{32}$/.test(routingKey)) r.problem([...at, 'pagerduty', 'routing_key_file'], `${p.routing_key_file} does not hold a PagerDuty integration key (32 letters and digits)`);
    kind = { type: 'pagerduty', url: p.url ?? 'https://events.pagerduty.com/v2/enqueue', routingKey };
  }
  const d = { ...DELIVERY_DEFAULTS, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) } as typeof DELIVERY_DEFAULTS & RawReceiver;
  const delivery: DeliveryOptions = {
    match: raw.match ?? {},
    groupBy: [...d.group_by],
    groupWaitMs: durationMs(d.group_wait),
    groupIntervalMs: durationMs(d.group_interval),
    repeatIntervalMs: durationMs(d.repeat_interval),
    rateLimit: d.rate_limit,
    sendResolved: d.send_resolved,
    timeoutMs: durationMs(d.timeout),
  };
  if (delivery.groupIntervalMs < 1000) r.problem([...at, 'group_interval'], 'must be at least 1s');
  if (delivery.repeatIntervalMs < delivery.groupIntervalMs) r.problem([...at, 'repeat_interval'], 'must be at least group_interval');
  return { name: raw.name, kind, delivery };
}

function zodProblems(error: z.ZodError, r: Reporter): void {
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) r.problem([...path, key], `unknown field '${key}'`, true);
    } else if (issue.code === 'invalid_union' && issue.errors.length) {
      // The most specific message of the alternatives (a duration's or a ratio's).
      r.problem(path, issue.message);
    } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      r.problem(path, `is required (${issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`})`);
    } else r.problem(path, issue.message);
  }
}

/** Parses and checks an alerts file's text (baseDir: where relative secret files are). */
export function parseAlertsConfig(text: string, file: string, defaults: { externalUrl: string }, baseDir = dirname(file)): AlertsConfig {
  const parsed = YamlSource.parse(text, file);
  if ('errors' in parsed) throw new AlertsConfigError(file, parsed.errors);
  const src = parsed.source;
  const problems: string[] = [];
  const r: Reporter = { problem: (path, t, atKey) => problems.push(src.problem(path, t, atKey)) };
  const value = src.value ?? {};
  const checked = fileSchema.safeParse(value);
  if (!checked.success) {
    zodProblems(checked.error, r);
    throw new AlertsConfigError(file, [...new Set(problems)]);
  }
  const config = build(checked.data, file, defaults, baseDir, r);
  if (problems.length) throw new AlertsConfigError(file, [...new Set(problems)]);
  return config;
}

export function loadAlertsConfig(file: string, defaults: { externalUrl: string }): AlertsConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AlertsConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseAlertsConfig(text, file, defaults);
}

/** The configuration with nothing configured. */
export function defaultAlertsConfig(defaults: { externalUrl: string }): AlertsConfig {
  const problems: string[] = [];
  const config = build({}, 'defaults', defaults, '.', { problem: (p, t) => problems.push(`${fieldName(p)}: ${t}`) });
  if (problems.length) throw new AlertsConfigError('defaults', problems);
  return config;
}

function build(raw: RawFile, source: string, defaults: { externalUrl: string }, baseDir: string, r: Reporter): AlertsConfig {
  const f = { ...DEFAULT_FILE, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) } as typeof DEFAULT_FILE & RawFile;
  const resolution = { ...DEFAULT_FILE.resolution, ...raw.resolution } as typeof DEFAULT_FILE.resolution;
  const baseline = { ...DEFAULT_FILE.baseline, ...raw.baseline } as typeof DEFAULT_FILE.baseline;
  try {
    parseView(f.view);
  } catch (err) {
    r.problem(['view'], (err as Error).message);
  }
  const baseRaw = mergeRules(DEFAULT_RULES, raw.rules);
  const config: AlertsConfig = {
    source,
    evaluationIntervalMs: durationMs(f.evaluation_interval),
    view: f.view,
    externalUrl: (raw.external_url ?? defaults.externalUrl).replace(/\/+$/, ''),
    resolution: { shortMs: durationMs(resolution.short), longMs: durationMs(resolution.long) },
    baseline: { windowMs: durationMs(baseline.window), everyMs: durationMs(baseline.every), points: baseline.points, minPoints: baseline.min_points },
    learningWindowMs: durationMs(f.learning_window),
    saveIntervalMs: durationMs(f.save_interval),
    rules: rules(baseRaw, ['rules'], r),
    overrides: (raw.overrides ?? []).map((o, i) => {
      const match: Match = { namespace: o.match.namespace, workload: o.match.workload, port: o.match.port, side: o.match.side ?? 'either' };
      if (!match.namespace && !match.workload && match.port === undefined) r.problem(['overrides', i, 'match'], 'matches every edge: name a namespace, a workload or a port (or change rules instead)');
      return { match, rules: rules(mergeRules(baseRaw, o.rules), ['overrides', i, 'rules'], r), where: `overrides[${i}]` };
    }),
    receivers: [],
  };
  const names = new Set<string>();
  (raw.receivers ?? []).forEach((rc, i) => {
    if (names.has(rc.name)) r.problem(['receivers', i, 'name'], `'${rc.name}' is already the name of another receiver`);
    names.add(rc.name);
    const out = receiver(rc, i, baseDir, r);
    if (out) config.receivers.push(out);
  });
  checkWindows(config, r);
  return config;
}

/** Windows must fit the in-memory buckets they are counted in. */
function checkWindows(c: AlertsConfig, r: Reporter): void {
  const { shortMs, longMs } = c.resolution;
  if (c.evaluationIntervalMs < 100) r.problem(['evaluation_interval'], 'must be at least 100ms');
  if (shortMs < 100) r.problem(['resolution', 'short'], 'must be at least 100ms');
  if (longMs < shortMs || longMs % shortMs !== 0) r.problem(['resolution', 'long'], `must be a multiple of resolution.short (${shortMs / 1000}s)`);
  const b = c.baseline;
  if (b.windowMs < shortMs || b.windowMs % shortMs !== 0) r.problem(['baseline', 'window'], `must be a multiple of resolution.short (${shortMs / 1000}s)`);
  if (b.windowMs > 240 * shortMs) r.problem(['baseline', 'window'], `must be at most 240 short buckets (${(240 * shortMs) / 1000}s): raise resolution.short`);
  if (b.everyMs < shortMs) r.problem(['baseline', 'every'], `must be at least resolution.short (${shortMs / 1000}s)`);
  if (b.minPoints > b.points) r.problem(['baseline', 'min_points'], `must be at most baseline.points (${b.points})`);
  const all: Array<[Rules, FieldPath]> = [[c.rules, ['rules']], ...c.overrides.map((o, i): [Rules, FieldPath] => [o.rules, ['overrides', i, 'rules']])];
  for (const [rs, at] of all) {
    rs.failures.windows.forEach((w, i) => {
      if (w.shortMs < shortMs || w.shortMs > 240 * shortMs) r.problem([...at, 'failures', 'windows', i, 'short'], `must be from resolution.short (${shortMs / 1000}s) to 240 times it`);
      if (w.longMs < longMs || w.longMs > 1000 * longMs) r.problem([...at, 'failures', 'windows', i, 'long'], `must be from resolution.long (${longMs / 1000}s) to 1000 times it`);
    });
  }
}
