// The alerts configuration as the engine uses it: durations in ms, ratios as fractions, every
// field present (defaults filled in). What the YAML file looks like is in schema.ts.

export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface BurnWindow {
  longMs: number;
  shortMs: number;
  /** How many times faster than the objective allows the budget must burn in both windows. */
  burnRate: number;
  severity: Severity;
}

export interface FailuresRule {
  enabled: boolean;
  /** Fraction of connection attempts that should succeed (0.999). */
  objective: number;
  /** A window with fewer attempts, or fewer failures, is not judged. */
  minAttempts: number;
  minFailures: number;
  windows: BurnWindow[];
  /** Healthy this long (short windows below their burn rate) before an alert resolves. */
  resolveAfterMs: number;
}

/** RTT, connect time, retransmit ratio, reset ratio: the edge's value now against its own history. */
export interface AnomalyRule {
  enabled: boolean;
  severity: Severity;
  /** Width of the band above the median, in MADs (scaled to a standard deviation: 1.4826 x MAD). */
  mads: number;
  /** The value must also be this fraction above the median (0.5: 50% more)... */
  minIncrease: number;
  /** ...and this much above it, in the metric's unit (seconds, or a ratio). */
  minDelta: number;
  /** Observations the window needs before it is judged (RTT samples, connects, segments, connections). */
  minTraffic: number;
  /** Out of band this long before the alert fires. */
  forMs: number;
  resolveAfterMs: number;
}

export interface DnsRule {
  enabled: boolean;
  severity: Severity;
  minRequests: number;
  /** Ratios of requests that alert at once (never normal). */
  servfail: number;
  timeout: number;
  /** NXDOMAIN is normal for some clients (search domains): judged against the client's own band. */
  nxdomain: { mads: number; minDelta: number };
  forMs: number;
  resolveAfterMs: number;
}

export interface NewDependencyRule {
  enabled: boolean;
  severity: Severity;
  /** How long the alert stays active after the edge first appeared. */
  holdMs: number;
  /**
   * How long after its first interval a new edge must still carry traffic to count: an end named
   * late (a pod the agent had not heard of yet) first shows as a short-lived edge of a finer
   * identity.
   */
  settleMs: number;
  /** External peers: only those named by DNS (named), every address (all), none. */
  external: 'named' | 'all' | 'none';
}

export const ANOMALY_SIGNALS = ['rtt', 'connect', 'retransmits', 'resets'] as const;
export type AnomalySignal = (typeof ANOMALY_SIGNALS)[number];

export interface Rules {
  newDependency: NewDependencyRule;
  failures: FailuresRule;
  rtt: AnomalyRule;
  connect: AnomalyRule;
  retransmits: AnomalyRule;
  resets: AnomalyRule;
  dns: DnsRule;
}

/** Which edges an override applies to: every given field must match (globs with *). */
export interface Match {
  namespace?: string;
  workload?: string;
  port?: number;
  /** Which end namespace and workload are matched on; either: one of them. */
  side: 'client' | 'server' | 'either';
}

export interface Override {
  match: Match;
  rules: Rules;
  /** Where it is in the file (for messages). */
  where: string;
}

export interface DeliveryOptions {
  /** Labels an alert must carry to reach this receiver (all of them). */
  match: Record<string, string>;
  groupBy: string[];
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  /** Notifications per minute at most; more wait for the next minute. */
  rateLimit: number;
  sendResolved: boolean;
  timeoutMs: number;
}

export type ReceiverKind =
  | { type: 'alertmanager'; url: string; bearerToken?: string; resendIntervalMs: number }
  | { type: 'webhook'; url: string; bearerToken?: string; maxAlerts: number }
  | { type: 'slack'; url: string }
  | { type: 'pagerduty'; url: string; routingKey: string };

export interface ReceiverConfig {
  name: string;
  kind: ReceiverKind;
  delivery: DeliveryOptions;
}

export interface AlertsConfig {
  /** Where it came from: a file, or 'defaults'. */
  source: string;
  evaluationIntervalMs: number;
  /** The graph view alerts are raised in (workload: one alert per workload-to-workload edge). */
  view: string;
  /** The hub's address as people reach it: the base of links in alerts. */
  externalUrl: string;
  /** Bucket widths of the in-memory windows: short ones (anomalies, short burn windows) and long ones. */
  resolution: { shortMs: number; longMs: number };
  baseline: {
    /** The window a value is measured over: now, and each point of history. */
    windowMs: number;
    /** One point of history is kept this often. */
    everyMs: number;
    points: number;
    /** Points needed before the band is trusted. */
    minPoints: number;
  };
  /** Edges seen within this long of the first evaluation are the learned dependencies. */
  learningWindowMs: number;
  /** How often the engine's state is saved in the store (and when the hub stops): a crash loses at most this much of the windows. */
  saveIntervalMs: number;
  rules: Rules;
  overrides: Override[];
  receivers: ReceiverConfig[];
}
