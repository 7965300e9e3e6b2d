// Edges: the unit users reason about. An edge is one end's workload talking to a peer on a service
// port, in one role; its counters only ever grow. Ephemeral ports never make an edge.
import type { Distribution } from './distribution.js';
import type { Workload } from './workload.js';

export type Role = 'client' | 'server';

/** The peer of a roll-up edge: edges past the series cap are counted here, never dropped. */
export const ROLLUP_PEER = 'other';

/** Why an outgoing connection failed, in the kernel's order (enum connect_fail_reason). */
export const FAIL_REASONS = ['other', 'refused', 'timeout', 'unreachable', 'reset'] as const;
export type FailReason = (typeof FAIL_REASONS)[number];

/** A TCP edge: (role, process, cgroup, local workload, peer address and workload, service port). */
export interface TcpEdgeIdentity {
  readonly role: Role;
  readonly process: string;
  readonly cgroup: string;
  /** The remote address, or ROLLUP_PEER. */
  readonly peer: string;
  /** Service port: the remote port for clients, the local (listening) port for servers; 0 when rolled up twice. */
  readonly port: number;
  readonly local: Workload;
  readonly remote: Workload;
}

export interface TcpCounters {
  opened: number;
  closed: number;
  /** Open now (a gauge). */
  active: number;
  /** Indexed like FAIL_REASONS. */
  readonly failures: Float64Array;
  sentBytes: number;
  receivedBytes: number;
  retransmits: number;
  resetsSent: number;
  resetsReceived: number;
  connectDuration: Distribution | undefined;
  rtt: Distribution | undefined;
  duration: Distribution | undefined;
}

export type FlowDirection = 'ingress' | 'egress';

/** A packet-level edge seen by the TC classifier. */
export interface FlowEdgeIdentity {
  readonly direction: FlowDirection;
  readonly protocol: string;
  readonly interface: string;
  readonly peer: string;
  readonly port: number;
  /** The peer's DNS name when the agent saw it resolved ('' when unknown). */
  readonly peerDns: string;
}

export interface FlowCounters {
  packets: number;
  bytes: number;
}

/** Packets the kernel dropped, by reason and edge; both ends named where the addresses allow. */
export interface DropIdentity {
  readonly reason: string;
  readonly direction: 'received' | 'sent';
  readonly protocol: string;
  readonly peer: string;
  readonly port: number;
  readonly local: Workload;
  readonly remote: Workload;
}

export interface DropCounters {
  packets: number;
}

/** DNS requests of one client workload to one server, by query type. */
export interface DnsIdentity {
  readonly qtype: string;
  readonly server: string;
  readonly client: Workload;
}

export interface DnsCounters {
  /** Requests by response code (TIMEOUT: unanswered). */
  readonly byRcode: Map<string, number>;
  duration: Distribution | undefined;
}

export const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 47: 'gre', 50: 'esp' };

export function protocolName(proto: number): string {
  return PROTOCOL_NAMES[proto] ?? String(proto);
}
