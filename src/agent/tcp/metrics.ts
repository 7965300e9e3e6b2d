// The TCP metrics, declared in one place: names, types, help texts and bucket layouts.
import type { MetricDef } from '../metrics/exposition.js';

export const TCP_METRICS = {
  opened: { name: 'flowscope_tcp_connections_opened_total', type: 'counter', help: 'TCP connections opened (clients: established; servers: accepted).' },
  closed: { name: 'flowscope_tcp_connections_closed_total', type: 'counter', help: 'TCP connections closed.' },
  active: { name: 'flowscope_tcp_active_connections', type: 'gauge', help: 'TCP connections open now.' },
  failures: { name: 'flowscope_tcp_connect_failures_total', type: 'counter', help: 'Outgoing TCP connection attempts that failed, by reason (refused, timeout, unreachable, reset, other).' },
  connectDuration: { name: 'flowscope_tcp_connect_duration_seconds', type: 'histogram', help: 'Time from SYN sent to connection established (client role).' },
  sent: { name: 'flowscope_tcp_sent_bytes_total', type: 'counter', help: 'Payload bytes sent (retransmissions excluded).' },
  received: { name: 'flowscope_tcp_received_bytes_total', type: 'counter', help: 'Payload bytes received.' },
  retransmits: { name: 'flowscope_tcp_retransmits_total', type: 'counter', help: 'Segments retransmitted (SYN, SYN-ACK and data).' },
  resets: { name: 'flowscope_tcp_resets_total', type: 'counter', help: 'TCP resets, by direction (sent, received).' },
  rtt: { name: 'flowscope_tcp_rtt_seconds', type: 'histogram', help: 'Smoothed round-trip time, sampled once per interval for each connection that had traffic.' },
  duration: { name: 'flowscope_tcp_connection_duration_seconds', type: 'histogram', help: 'Lifetime of closed connections.' },
} as const satisfies Record<string, MetricDef>;

export const FAIL_REASONS = ['other', 'refused', 'timeout', 'unreachable', 'reset'] as const;
export type FailReason = (typeof FAIL_REASONS)[number];

/** 1-2.5-5 series: 100 µs to 10 s. */
export const CONNECT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** 50 µs to 2.5 s. */
export const RTT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** 1 ms to 4 h. */
export const DURATION_BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400];
