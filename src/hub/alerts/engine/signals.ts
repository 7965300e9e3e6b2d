// What can be wrong with an edge or a DNS client, and how each is named in alerts.

/** Edge health signals, in slot order (index = position). */
export const EDGE_SIGNALS = ['failures', 'rtt', 'connect', 'retransmits', 'resets'] as const;
export type EdgeSignal = (typeof EDGE_SIGNALS)[number];
export const FAILURES = 0;

export const DNS_SIGNALS = ['servfail', 'timeout', 'nxdomain'] as const;
export type DnsSignal = (typeof DNS_SIGNALS)[number];

export type Signal = EdgeSignal | DnsSignal | 'new_dependency';

/** Alert names: the first signal of an incident names it. */
export const ALERT_NAMES: Record<Signal, string> = {
  failures: 'FlowscopeConnectionFailures',
  rtt: 'FlowscopeRttAnomaly',
  connect: 'FlowscopeConnectTimeAnomaly',
  retransmits: 'FlowscopeRetransmitAnomaly',
  resets: 'FlowscopeResetAnomaly',
  servfail: 'FlowscopeDnsErrors',
  timeout: 'FlowscopeDnsErrors',
  nxdomain: 'FlowscopeDnsErrors',
  new_dependency: 'FlowscopeNewDependency',
};

/** What a judged window said: too little traffic (or history) to judge, healthy, or not. */
export const UNKNOWN = 0;
export const GOOD = 1;
export const BAD = 2;
export type Outcome = typeof UNKNOWN | typeof GOOD | typeof BAD;

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  if (s >= 1) return `${round3(s)} s`;
  if (s >= 0.001) return `${round3(s * 1000)} ms`;
  return `${round3(s * 1e6)} µs`;
}

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  const pct = r * 100;
  return `${pct >= 10 || pct === 0 ? Math.round(pct) : pct >= 1 ? Number(pct.toFixed(1)) : Number(pct.toPrecision(2))}%`;
}

function round3(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
