// What the hub alerts on when nobody configured anything. The same shape as the file (schema.ts):
// a file only says what it changes. docs/alerts.md explains each value.
import type { RawFile, RawRules } from './schema.js';

const anomaly = { enabled: true, severity: 'warning', mads: 5, for: '2m', resolve_after: '5m' } as const;

export const DEFAULT_RULES: Required<{ [K in keyof RawRules]: Required<RawRules[K]> }> = {
  new_dependency: { enabled: true, severity: 'info', hold: '1h', settle: '1m', external: 'named' },
  failures: {
    enabled: true,
    objective: '99.9%',
    min_attempts: 20,
    min_failures: 5,
    // The SRE workbook's pair for paging: 2% of a 30-day budget in an hour, 5% in six hours.
    windows: [
      { long: '1h', short: '5m', burn_rate: 14.4, severity: 'critical' },
      { long: '6h', short: '15m', burn_rate: 6, severity: 'warning' },
    ],
    resolve_after: '5m',
  },
  // RTT: smoothed RTT samples (one per connection per interval); at least 50% and 1 ms above the median.
  rtt: { ...anomaly, min_increase: '50%', min_delta: '1ms', min_traffic: 20 },
  // Connect time: at least 50% and 5 ms above the median, over 10 connects or more.
  connect: { ...anomaly, min_increase: '50%', min_delta: '5ms', min_traffic: 10 },
  // Retransmitted segments per segment sent (estimated from bytes); at least 1% and double the median.
  retransmits: { ...anomaly, min_increase: '100%', min_delta: '1%', min_traffic: 500 },
  // Connections ended by a reset, per connection; at least 5% and double the median.
  resets: { ...anomaly, min_increase: '100%', min_delta: '5%', min_traffic: 20 },
  dns: { enabled: true, severity: 'warning', min_requests: 20, servfail: '5%', timeout: '5%', nxdomain: { mads: 5, min_delta: '10%' }, for: '1m', resolve_after: '5m' },
};

type Defaults = Omit<RawFile, 'overrides' | 'receivers' | 'external_url' | 'rules'>;

export const DEFAULT_FILE: { [K in keyof Defaults]-?: Required<NonNullable<Defaults[K]>> } = {
  evaluation_interval: '1s',
  view: 'workload',
  resolution: { short: '1m', long: '10m' },
  baseline: { window: '5m', every: '15m', points: 24, min_points: 4 },
  learning_window: '24h',
  save_interval: '5m',
};
