// Incidents as alerts: each signal's numbers now against the edge's normal (or the objective), a
// summary line, a description with the explanation, and the link to the UI.
import type { AlertEngine } from './engine/engine.js';
import { ANOMALY_METRICS } from './engine/edge-health.js';
import type { Incident } from './engine/incidents.js';
import { DNS_SIGNALS, formatRatio, formatSeconds, type Signal } from './engine/signals.js';
import type { Alert, SignalReport } from './model.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

const fmtBurn = (x: number): string => (x >= 10 ? String(Math.round(x)) : x.toFixed(1));

const ANOMALY_TEXT: Record<string, { what: string; seconds: boolean }> = {
  rtt: { what: 'round-trip time', seconds: true },
  connect: { what: 'connect time', seconds: true },
  retransmits: { what: 'retransmitted segments', seconds: false },
  resets: { what: 'connections reset', seconds: false },
};

/** A signal of an edge with its numbers now. */
export function edgeSignal(engine: AlertEngine, slot: number, signal: Signal, base: Omit<SignalReport, 'unit' | 'now' | 'baseline' | 'text'>): SignalReport {
  const cfg = engine.config;
  if (signal === 'failures') {
    const rules = engine.edges.rulesOf(slot).failures;
    const pairs = engine.edges.burn(slot);
    const budget = 1 - rules.objective;
    const burn = pairs.map((p) => ({
      long_seconds: rules.windows[pairs.indexOf(p)]!.longMs / 1000,
      short_seconds: rules.windows[pairs.indexOf(p)]!.shortMs / 1000,
      burn_rate_long: p.longAttempts > 0 ? p.longFailures / p.longAttempts / budget : null,
      burn_rate_short: p.shortAttempts > 0 ? p.shortFailures / p.shortAttempts / budget : null,
      threshold: p.pair.burnRate,
      severity: p.pair.severity,
    }));
    const first = pairs[0]!;
    const w = rules.windows[0]!;
    const ratio = first.shortAttempts > 0 ? first.shortFailures / first.shortAttempts : null;
    const text =
      ratio === null
        ? `no connection attempts in the last ${duration(w.shortMs)}`
        : `${formatRatio(ratio)} of ${Math.round(first.shortAttempts)} connection attempts failed in the last ${duration(w.shortMs)} (objective ${formatRatio(rules.objective)}): the error budget burns ${burn
            .map((b) => `${b.burn_rate_short === null ? '-' : fmtBurn(b.burn_rate_short)}x over ${duration(b.short_seconds * 1000)} and ${b.burn_rate_long === null ? '-' : fmtBurn(b.burn_rate_long)}x over ${duration(b.long_seconds * 1000)} (alerting from ${b.threshold}x, ${b.severity})`)
            .join('; ')}`;
    return { ...base, unit: 'ratio', now: ratio, baseline: null, burn, text };
  }
  const m = ANOMALY_METRICS.indexOf(signal as (typeof ANOMALY_METRICS)[number]);
  const { value, traffic } = engine.edges.current(slot, m);
  const points = engine.edges.baselines.count(slot, m);
  const median = engine.edges.baselines.median(slot, m);
  const mad = engine.edges.baselines.mad(slot, m);
  const upper = engine.edges.upper(slot, m);
  const t = ANOMALY_TEXT[signal]!;
  const fmt = t.seconds ? formatSeconds : formatRatio;
  const now = Number.isFinite(value) ? value : null;
  const baseline = points > 0 ? { median, mad, upper: Number.isNaN(upper) ? median : upper, points } : null;
  const window = duration(cfg.baseline.windowMs);
  const text =
    now === null
      ? `${t.what}: too little traffic in the last ${window} to measure (${Math.round(traffic)} observations)`
      : `${t.what} ${fmt(now)} over the last ${window}${baseline ? `, against a usual ${fmt(baseline.median)} (median of ${points} points of its history; the band ends at ${fmt(baseline.upper)})` : ''}`;
  return { ...base, unit: t.seconds ? 'seconds' : 'ratio', now, baseline, text };
}

function dnsSignal(engine: AlertEngine, slot: number, signal: Signal, base: Omit<SignalReport, 'unit' | 'now' | 'baseline' | 'text'>): SignalReport {
  const d = engine.dns.slots[slot]!;
  const rule = engine.dns.ruleOf(slot);
  const { requests, ratios } = engine.dns.current(slot);
  const i = DNS_SIGNALS.indexOf(signal as (typeof DNS_SIGNALS)[number]);
  const now = requests > 0 ? ratios[i]! : null;
  const window = duration(engine.config.baseline.windowMs);
  const answer = signal === 'timeout' ? 'got no answer' : `came back ${signal.toUpperCase()}`;
  let baseline: SignalReport['baseline'] = null;
  let limit: string;
  if (signal === 'nxdomain') {
    const points = engine.dns.baselines.count(slot, 0);
    const upper = engine.dns.nxdomainUpper(slot);
    baseline = points > 0 ? { median: engine.dns.baselines.median(slot, 0), mad: engine.dns.baselines.mad(slot, 0), upper: Number.isNaN(upper) ? NaN : upper, points } : null;
    limit = baseline ? `usually ${formatRatio(baseline.median)}; the band ends at ${formatRatio(baseline.upper)}` : 'no history yet';
  } else limit = `alerting above ${formatRatio(signal === 'servfail' ? rule.servfail : rule.timeout)}`;
  const text = now === null ? `no requests to ${d.server} in the last ${window}` : `${formatRatio(now)} of ${Math.round(requests)} requests from ${d.client.name} to ${d.server} ${answer} in the last ${window} (${limit})`;
  return { ...base, unit: 'ratio', now, baseline, text };
}

export function signalReports(engine: AlertEngine, inc: Incident): SignalReport[] {
  const slot = engine.slotOfIncident(inc);
  return inc.signals.map((st) => {
    const base = { signal: st.signal, since: iso(st.since), cleared: st.cleared ? iso(st.cleared) : null };
    if (inc.family === 'new_dependency') {
      const learned = engine.learningStartMs;
      return { ...base, unit: 'none', now: null, baseline: null, text: `first seen ${iso(st.since)}; not among the dependencies learned from ${iso(learned)} to ${iso(learned + engine.config.learningWindowMs)}` };
    }
    if (slot === undefined) return { ...base, unit: 'none', now: null, baseline: null, text: 'no longer observed' };
    return inc.family === 'dns' ? dnsSignal(engine, slot, st.signal, base) : edgeSignal(engine, slot, st.signal, base);
  });
}

function summary(inc: Incident, reports: SignalReport[]): string {
  const l = inc.labels;
  if (inc.family === 'new_dependency') return `New dependency: ${l.source} -> ${l.target}:${l.port}`;
  if (inc.family === 'dns') return `DNS errors: ${l.client} asking ${l.server}: ${reports.filter((r) => !r.cleared).map((r) => r.signal.toUpperCase()).join(', ') || 'cleared'}`;
  const what = reports
    .filter((r) => !r.cleared)
    .map((r) => {
      if (r.signal === 'failures') return r.now === null ? 'connection failures' : `${formatRatio(r.now)} of connections fail`;
      const fmt = r.unit === 'seconds' ? formatSeconds : formatRatio;
      const name = ANOMALY_TEXT[r.signal]!.what;
      return r.now === null ? name : `${name} ${fmt(r.now)}${r.baseline ? ` (usually ${fmt(r.baseline.median)})` : ''}`;
    });
  return `${l.source} -> ${l.target}:${l.port}: ${what.join(', ') || 'cleared'}`;
}

/** An incident as the API and receivers show it. */
export function toAlert(engine: AlertEngine, inc: Incident, nowMs: number): Alert {
  const reports = inc.endsAt && inc.finalReports ? inc.finalReports : signalReports(engine, inc);
  const state = inc.endsAt ? 'resolved' : 'firing';
  const description = [inc.explanation?.sentence, ...reports.map((r) => r.text)].filter(Boolean).join('. ');
  const edge =
    inc.family === 'dns'
      ? null
      : { id: inc.subject, view: engine.config.view, source: inc.labels.source ?? '', target: inc.labels.target ?? '', port: Number(inc.labels.port ?? 0) };
  return {
    id: inc.fingerprint,
    name: inc.name,
    family: inc.family,
    severity: inc.severity,
    state,
    labels: inc.labels,
    annotations: { summary: summary(inc, reports), description, flowscope_url: inc.url },
    starts_at: iso(inc.startsAt),
    ends_at: inc.endsAt ? iso(inc.endsAt) : null,
    updated_at: iso(Math.max(inc.updatedAt, inc.explainedAt)),
    edge,
    dns: inc.family === 'dns' ? { client: inc.labels.client ?? '', server: inc.labels.server ?? '' } : null,
    signals: reports,
    explanation: inc.explanation,
    silenced_by: inc.endsAt ? [] : engine.silences.matching(inc.labels, 'silence', nowMs),
    url: inc.url,
  };
}
