// Prometheus recording and alerting rules over the agent's own metrics, for those who run no hub:
// connection failures as an error budget with multi-window burn rates (the same objective,
// windows and floors as the hub's alerts file), resets on edges that had none, and DNS errors
// per asking workload and server. The hub's anomaly bands (each edge's own history) have no
// rule form here; these are the thresholds a Prometheus can judge alone.
//
// Every rule keeps the edge's own labels (sum without the label it folds away), so an alert
// names its edge as the agent's metrics do: role, process, peer_addr, port, and the workload
// labels of both ends where the agent knows them.
import { stringify } from 'yaml';
import type { AlertsConfig, BurnWindow } from './config/types.js';

/** Resets in the short window that make an edge's resets new (fewer may be one unlucky connection). */
const NEW_RESETS_MIN = 3;

export interface RulesOptions {
  /** Prefix of the groups' names. */
  groupPrefix: string;
  /** How long the new-resets and DNS conditions must hold (Prometheus `for`). */
  forMs: number;
}

/** A Prometheus duration: whole seconds, in the largest unit that divides them. */
export function promDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const seconds = (ms: number): number => Math.max(1, Math.round(ms / 1000));
/** A window in a recorded series' name (flowscope:tcp_connect_error_ratio:rate5m). */
const suffix = (ms: number): string => promDuration(ms);

function windowsOf(windows: readonly BurnWindow[]): number[] {
  return [...new Set(windows.flatMap((w) => [w.shortMs, w.longMs]))].sort((a, b) => a - b);
}

function recordingRules(windows: number[], dnsWindow: string) {
  const rules: Array<Record<string, unknown>> = [
    { record: `flowscope:dns_requests:rate${dnsWindow}`, expr: `sum without (rcode, qtype) (rate(flowscope_dns_requests_total[${dnsWindow}]))` },
    { record: `flowscope:dns_errors:rate${dnsWindow}`, expr: `sum without (qtype) (rate(flowscope_dns_requests_total{rcode=~"SERVFAIL|TIMEOUT|NXDOMAIN"}[${dnsWindow}]))` },
  ];
  for (const w of windows) {
    const d = promDuration(w);
    const failures = `sum without (reason) (rate(flowscope_tcp_connect_failures_total{role="client"}[${d}]))`;
    const opened = `rate(flowscope_tcp_connections_opened_total{role="client"}[${d}])`;
    rules.push(
      { record: `flowscope:tcp_connect_failures:rate${suffix(w)}`, expr: failures },
      // Edges that never failed have no failure series: they count as zero failures, not as absent.
      { record: `flowscope:tcp_connect_attempts:rate${suffix(w)}`, expr: `${opened} + (${failures} or ${opened} * 0)` },
      { record: `flowscope:tcp_connect_error_ratio:rate${suffix(w)}`, expr: `flowscope:tcp_connect_failures:rate${suffix(w)} / flowscope:tcp_connect_attempts:rate${suffix(w)}` },
    );
  }
  return rules;
}

export function prometheusRules(config: AlertsConfig, o: RulesOptions = { groupPrefix: 'flowscope', forMs: 2 * 60_000 }): string {
  const f = config.rules.failures;
  const budget = Number((1 - f.objective).toPrecision(12));
  const windows = windowsOf(f.windows);
  const burnAlerts = f.windows.map((w) => {
    const s = suffix(w.shortMs);
    const l = suffix(w.longMs);
    const threshold = Number((w.burnRate * budget).toPrecision(12));
    return {
      alert: 'FlowscopeConnectionFailures',
      expr: [
        `flowscope:tcp_connect_error_ratio:rate${l} > ${threshold}`,
        `and flowscope:tcp_connect_error_ratio:rate${s} > ${threshold}`,
        `and flowscope:tcp_connect_attempts:rate${s} * ${seconds(w.shortMs)} >= ${f.minAttempts}`,
        `and flowscope:tcp_connect_failures:rate${s} * ${seconds(w.shortMs)} >= ${f.minFailures}`,
      ].join('\n'),
      labels: { severity: w.severity, burn_window: `${l}/${s}` },
      annotations: {
        summary: `{{ $labels.process }} -> {{ $labels.peer_addr }}:{{ $labels.port }}: {{ $value | humanizePercentage }} of connection attempts fail`,
        description: `Connection failures burn the error budget of a ${(f.objective * 100).toPrecision(6).replace(/\.?0+$/, '')}% objective ${w.burnRate} times too fast over ${l} and over ${s} (failing: {{ $value | humanizePercentage }} over ${l}).`,
      },
    };
  });
  const resetsFor = promDuration(o.forMs);
  const short = Math.min(...f.windows.map((w) => w.shortMs));
  const long = Math.max(...f.windows.map((w) => w.longMs));
  const dns = config.rules.dns;
  const dnsWindow = promDuration(config.baseline.windowMs);
  const dnsSeconds = seconds(config.baseline.windowMs);
  const doc = {
    groups: [
      { name: `${o.groupPrefix}-recording`, rules: recordingRules(windows, dnsWindow) },
      {
        name: `${o.groupPrefix}-alerts`,
        rules: [
          ...burnAlerts,
          {
            alert: 'FlowscopeNewResets',
            // Resets on an edge that had none in the long window before.
            expr: [
              `sum without (direction) (increase(flowscope_tcp_resets_total[${promDuration(short)}])) >= ${NEW_RESETS_MIN}`,
              `unless sum without (direction) (increase(flowscope_tcp_resets_total[${promDuration(long)}] offset ${promDuration(short)})) > 0`,
            ].join('\n'),
            for: resetsFor,
            labels: { severity: config.rules.resets.severity },
            annotations: {
              summary: '{{ $labels.process }} {{ $labels.role }} with {{ $labels.peer_addr }}:{{ $labels.port }}: {{ $value | humanize }} resets where there were none',
              description: `Connections of this edge are reset ({{ $value | humanize }} in the last ${promDuration(short)}) and were not in the ${promDuration(long)} before.`,
            },
          },
          ...(
            [
              ['SERVFAIL', dns.servfail],
              ['TIMEOUT', dns.timeout],
            ] as const
          ).map(([rcode, ratio]) => ({
            alert: 'FlowscopeDnsErrors',
            expr: [
              `flowscope:dns_errors:rate${dnsWindow}{rcode="${rcode}"} / ignoring (rcode) group_left flowscope:dns_requests:rate${dnsWindow} > ${ratio}`,
              `and ignoring (rcode) flowscope:dns_requests:rate${dnsWindow} * ${dnsSeconds} >= ${dns.minRequests}`,
            ].join('\n'),
            for: promDuration(dns.forMs),
            labels: { severity: dns.severity, signal: rcode.toLowerCase() },
            annotations: {
              summary: `{{ $labels.namespace }}/{{ $labels.workload }} asking {{ $labels.server }}: {{ $value | humanizePercentage }} of DNS requests ${rcode === 'TIMEOUT' ? 'get no answer' : 'come back SERVFAIL'}`,
              description: `Over ${dnsWindow}, more than ${ratio * 100}% of this client's DNS requests to {{ $labels.server }} ${rcode === 'TIMEOUT' ? 'went unanswered' : 'failed with SERVFAIL'}.`,
            },
          })),
        ],
      },
    ],
  };
  const header = `# Prometheus rules for the flowscope agent's metrics (flowscope rules${config.source === 'defaults' ? '' : ` --config ${config.source}`}).\n# Objective ${(f.objective * 100).toPrecision(6).replace(/\.?0+$/, '')}%; check with: promtool check rules FILE\n`;
  return header + stringify(doc, { lineWidth: 0 });
}
