// What the L7 tracer reports: one exchange (a request and its response) per record, whatever the
// protocol. Only method, route, status and timing leave the tracer: paths are turned into routes
// before anything is written.

export type L7Role = 'client' | 'server';
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
