// Requests, not just connections: what the L7 tracer reports (one exchange, a request and its
// response, whatever the protocol) and the per-edge request counters. Only method, route, status and
// timing are written: paths become routes before anything leaves the agent.
import type { Distribution } from './distribution.js';
import type { Role } from './edge.js';
import type { Workload } from './workload.js';

export type L7Role = Role;
export type L7Protocol = 'http1' | 'http2';

/** A connection as the kernel saw it when it first carried data. */
export interface L7Conn {
  readonly sk: number;
  readonly pid: number;
  readonly comm: string;
  readonly cgroupId: number;
  readonly netns: number;
  readonly family: number;
  readonly local: string;
  readonly peer: string;
  readonly localPort: number;
  readonly peerPort: number;
}

export interface GrpcCall {
  /** "package.Service" */
  readonly service: string;
  readonly method: string;
  /** Status code name (OK, NOT_FOUND, ...), or UNKNOWN_<n>; '' when the call ended without one. */
  readonly code: string;
}

export interface Exchange {
  readonly conn: L7Conn;
  readonly role: L7Role;
  readonly protocol: L7Protocol;
  readonly tls: boolean;
  /** GET, POST..., OTHER when not one of the standard methods. */
  readonly method: string;
  /** The path without query string (from the kernel: up to '?', ' ' or '#'); only routes are written. */
  readonly path: string;
  readonly pathTruncated: boolean;
  /** HTTP status; 0 when the exchange ended without one (stream reset). */
  readonly status: number;
  readonly grpc: GrpcCall | undefined;
  /** Monotonic (CLOCK_MONOTONIC) nanoseconds: the request's head, the response's end. */
  readonly startNs: number;
  readonly endNs: number;
  /** How the end was known when not by the response's own framing. */
  readonly end: 'framing' | 'head' | 'close' | 'superseded' | 'stream';
}

export type ExchangeSink = (e: Exchange) => void;

/** A request edge: (role, process, cgroup, local workload, peer address and workload, service port, TLS). */
export interface RequestEdgeIdentity {
  readonly role: Role;
  readonly process: string;
  readonly cgroup: string;
  /** The remote address, or ROLLUP_PEER. */
  readonly peer: string;
  readonly port: number;
  readonly tls: boolean;
  readonly local: Workload;
  readonly remote: Workload;
}

/** Requests of one (method, status, route) on an edge. */
export interface HttpSeries {
  readonly method: string;
  /** HTTP status, or 'none' for an exchange cut short without one. */
  readonly status: string;
  readonly route: string;
  count: number;
  readonly duration: Distribution;
}

/** Calls of one (service, method, code) on an edge. */
export interface GrpcSeries {
  readonly service: string;
  readonly method: string;
  /** Status code name, or 'none'. */
  readonly code: string;
  count: number;
  readonly duration: Distribution;
}

export interface RequestCounters {
  readonly http: ReadonlyMap<string, HttpSeries>;
  readonly grpc: ReadonlyMap<string, GrpcSeries>;
}

/** 250 µs to 10 s. */
export const REQUEST_BUCKETS: readonly number[] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** An HTTP status as the hub counts it: its class ("2xx".."5xx"), or "none" when there was none. */
export function httpStatusClass(status: string): string {
  return /^[1-5]\d\d$/.test(status) ? `${status[0]}xx` : 'none';
}

/** A gRPC code as the hub counts it ("grpc:OK", "grpc:UNAVAILABLE"...), or "none". */
export function grpcStatusKey(code: string): string {
  return code && code !== 'none' ? `grpc:${code}` : 'none';
}

/** Whether requests of a status key failed on the server's side: HTTP 5xx, gRPC codes other than OK. */
export function isRequestError(statusKey: string): boolean {
  return statusKey === '5xx' || (statusKey.startsWith('grpc:') && statusKey !== 'grpc:OK');
}
