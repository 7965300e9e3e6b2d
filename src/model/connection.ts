// One TCP connection as the tracers report it: who owns it, its two ends, and its cumulative
// counters. The TCP tracer hands these out as views over its kernel records (reused between calls:
// copy what you keep).
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
  /** Opened before tracking began: only what it does from now on is counted. */
  readonly preexisting: boolean;
  /** Its open was reported (a lost open event can be inferred from this). */
  readonly openReported: boolean;
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

export type ConnEventKind = 'open' | 'close' | 'connect_failure';

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

/** A connection as last read from the kernel's connection table. */
export interface ConnSnapshot {
  readonly id: ConnIdentity;
  readonly stats: ConnStats;
}
