// One TCP connection as the tracers report it: who owns it, its two ends, and its cumulative
// counters. The TCP tracer hands these out as views over its kernel records (reused between calls:
// copy what you keep).
import type { Distribution } from './distribution.js';
import type { FailReason, Role } from './edge.js';

/** Who owns a connection and what it is. */
export interface ConnIdentity {
  /** The socket, as a number that is exact (53 bits of its kernel address): the key while it lives. */
  readonly socket: number;
  /** SYN sent (client), established (server) or first seen (pre-existing), CLOCK_MONOTONIC ns. */
  readonly startNs: number;
  /** cgroup v2 id of the socket's owner (0: unknown). */
  readonly cgroupId: number;
  /** Inode of the socket file (0: unknown): finds the owner of sockets older than the agent. */
  readonly socketInode: number;
  /** Host pid (tgid), 0 when unknown. */
  readonly pid: number;
  /** Network namespace inode. */
  readonly netns: number;
  /** Process name as the kernel saw it ('' when it could not tell). */
  readonly comm: string;
  readonly ipVersion: 4 | 6;
  readonly localAddr: string;
  readonly remoteAddr: string;
  readonly localPort: number;
  readonly remotePort: number;
  readonly role: Role | undefined;
  /** Open before tracking began (adopted): only what it does from then on is counted. */
  readonly preexisting: boolean;
  /** Its open was reported (a lost open event can be inferred from this). */
  readonly openReported: boolean;
}

/** A plain copy of an identity (readers hand out reused views). */
export function copyIdentity(id: ConnIdentity): ConnIdentity {
  return {
    socket: id.socket,
    startNs: id.startNs,
    cgroupId: id.cgroupId,
    socketInode: id.socketInode,
    pid: id.pid,
    netns: id.netns,
    comm: id.comm,
    ipVersion: id.ipVersion,
    localAddr: id.localAddr,
    remoteAddr: id.remoteAddr,
    localPort: id.localPort,
    remotePort: id.remotePort,
    role: id.role,
    preexisting: id.preexisting,
    openReported: id.openReported,
  };
}

/** Cumulative counters of a connection. */
export interface ConnStats {
  /** Payload bytes sent, retransmissions excluded. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly segsOut: number;
  readonly segsIn: number;
  /** SYN sent to established (clients), 0 otherwise. */
  readonly connectNs: number;
  /** When these counters were read, CLOCK_MONOTONIC ns. */
  readonly readNs: number;
  readonly retransmits: number;
  readonly srttUs: number;
  readonly resetsSent: number;
  readonly resetsReceived: number;
}

/** adopt: found open when tracking began (agent start); its counters so far are in the event. */
export type ConnEventKind = 'open' | 'close' | 'connect_failure' | 'adopt';

/** A change in a connection's life. */
export interface ConnEvent {
  readonly kind: ConnEventKind;
  /** For connect failures. */
  readonly reason: FailReason;
  /** errno of a connect failure (0 otherwise). */
  readonly error: number;
  /** CLOCK_MONOTONIC ns. */
  readonly tsNs: number;
  readonly id: ConnIdentity;
  readonly stats: ConnStats;
}

/** A connection as read from the kernel now. */
export interface ConnSnapshot {
  readonly id: ConnIdentity;
  readonly stats: ConnStats;
}

/**
 * What the kernel counted on one of its TCP edge entries since the entry was made: every
 * connection one owner (process and cgroup) had with one peer on one service port in one role.
 * Cumulative; the agent credits what grew since its last read.
 */
export interface EdgeTally {
  readonly role: Role;
  /** Host pid of the owner (0: unknown). */
  readonly pid: number;
  /** Process name as the kernel saw it. */
  readonly comm: string;
  readonly cgroupId: number;
  readonly peer: string;
  readonly port: number;
  /** The local address of its connections ('' for a roll-up). */
  readonly localAddr: string;
  readonly opened: number;
  /** Open when tracking began: active from then on, without an open counted. */
  readonly adopted: number;
  readonly closed: number;
  /** Opened or adopted without state kept (fallback table full): not active, their close not counted. */
  readonly untracked: number;
  /** Connect failures in FAIL_REASONS order. */
  failures(reason: number): number;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly retransmits: number;
  readonly resetsSent: number;
  readonly resetsReceived: number;
  /** Last change, CLOCK_MONOTONIC ns. */
  readonly lastNs: number;
  /** Connect latency, RTT samples and lifetimes of closed connections (seconds), cumulative. */
  readonly connect: Distribution;
  readonly rtt: Distribution;
  readonly duration: Distribution;
}
