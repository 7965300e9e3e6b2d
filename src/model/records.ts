// Records written per connection and per flow (NDJSON, IPFIX, and to the hub only when asked for:
// per-connection detail does not leave a node by default).
import type { FlowDirection, Role } from './edge.js';

/** One line of `--output ndjson`: an open, a close with totals, or a connect failure. */
export interface LifecycleRecord {
  time: string;
  event: 'open' | 'close' | 'connect_failure';
  role: Role;
  pid: number;
  process: string;
  cgroup: string;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  connect_ms?: number;
  reason?: string;
  error?: string;
  bytes_sent?: number;
  bytes_received?: number;
  segs_out?: number;
  segs_in?: number;
  retransmits?: number;
  resets_sent?: number;
  resets_received?: number;
  srtt_ms?: number;
  duration_ms?: number;
}

/** A flow (5-tuple on one interface and direction), finished or exported by the active timeout. */
export interface FlowRecord {
  start: string;
  end: string;
  interface: string;
  ifindex: number;
  direction: FlowDirection;
  protocol: string;
  proto: number;
  family: 4 | 6;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  packets: number;
  bytes: number;
  tcp_flags: number;
  /** The flow's first and last packet, CLOCK_MONOTONIC ns (for exporters that want them exact). */
  first_ns: number;
  last_ns: number;
  /**
   * false: an active-timeout record of a flow still going; packets and bytes are those since the
   * flow's previous record (IPFIX delta counts), and `start` is that record's end.
   */
  final: boolean;
}
