// HTTP/2 and gRPC: header blocks decoded per connection and direction (HPACK state), streams
// followed from the request's HEADERS to the end of the response (END_STREAM or RST_STREAM).
import { HpackDecoder, HpackError } from './hpack.js';
import { grpcCodeName, grpcServiceMethod, isGrpcContentType } from './grpc.js';
import type { ExchangeSink, L7Conn } from '../../model/requests.js';

export interface H2Frame {
  readonly conn: L7Conn;
  readonly received: boolean;
  /** 0 DATA, 1 HEADERS, 3 RST_STREAM, 9 CONTINUATION */
  readonly frameType: number;
  readonly frameFlags: number;
  readonly streamId: number;
  /** The payload the kernel captured (HEADERS/CONTINUATION only). */
  readonly payload: Uint8Array;
  /** The kernel captured less than the frame held: this direction's HPACK state is lost. */
  readonly truncated: boolean;
  readonly tls: boolean;
  readonly tsNs: number;
}

const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const CONTINUATION = 9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** Streams open per connection before the oldest are given up. */
const MAX_STREAMS = 1024;
/** A header block split over CONTINUATION frames, bounded. */
const MAX_BLOCK = 64 * 1024;

interface Stream {
  /** Direction the request came in (true: received, this end serves). */
  requestReceived: boolean;
  method: string;
  path: string;
  contentType: string | undefined;
  status: number;
  grpcStatus: string | undefined;
  startNs: number;
  tls: boolean;
}

interface Direction {
  decoder: HpackDecoder;
  /** Unusable after a truncated or malformed block: its fields can no longer be decoded. */
  lost: boolean;
  /** A block waiting for its CONTINUATION frames. */
  block: { streamId: number; endStream: boolean; parts: Uint8Array[]; size: number; tsNs: number } | undefined;
}

interface Connection {
  conn: L7Conn;
  dirs: [Direction, Direction]; // [sent, received]
  streams: Map<number, Stream>;
}

export class H2Tracker {
  private readonly conns = new Map<number, Connection>();
  /** Directions whose HPACK state was lost (a truncated or malformed block). */
  desyncs = 0;
  /** Streams given up: the connection closed, or too many were open. */
  abandoned = 0;

  constructor(private readonly sink: ExchangeSink) {}

  get connections(): number {
    return this.conns.size;
  }

  frame(f: H2Frame): void {
    let c = this.conns.get(f.conn.sk);
    if (!c) {
      c = { conn: f.conn, dirs: [newDirection(), newDirection()], streams: new Map() };
      this.conns.set(f.conn.sk, c);
    }
    const d = c.dirs[f.received ? 1 : 0];
    if (f.frameType === HEADERS || f.frameType === CONTINUATION) {
      if (d.lost) return;
      if (f.truncated) return this.lose(d);
      this.headerFragment(c, d, f);
    } else if ((f.frameType === DATA && f.frameFlags & END_STREAM) || f.frameType === RST_STREAM) {
      this.streamEnd(c, f.streamId, f.received, f.tsNs, f.frameType === RST_STREAM);
    }
  }

  private headerFragment(c: Connection, d: Direction, f: H2Frame): void {
    let p = f.payload;
    if (f.frameType === HEADERS) {
      if (d.block) return this.lose(d); // a new block before the last one ended
      let start = 0;
      let end = p.length;
      if (f.frameFlags & PADDED) {
        const pad = p[0] ?? 0;
        start = 1;
        end -= pad;
      }
      if (f.frameFlags & PRIORITY) start += 5;
      if (start > end) return this.lose(d);
      p = p.subarray(start, end);
      d.block = { streamId: f.streamId, endStream: (f.frameFlags & END_STREAM) !== 0, parts: [], size: 0, tsNs: f.tsNs };
    } else if (!d.block || d.block.streamId !== f.streamId) {
      return this.lose(d);
    }
    const b = d.block;
    b.parts.push(p.slice()); // the batch buffer is reused: copy
    b.size += p.length;
    if (b.size > MAX_BLOCK) return this.lose(d);
    if (!(f.frameFlags & END_HEADERS)) return;
    d.block = undefined;
    const block = b.parts.length === 1 ? b.parts[0]! : concat(b.parts, b.size);
    const fields = new Map<string, string>();
    try {
      d.decoder.decode(block, (name, value) => {
        if (value !== '' || name === ':path') fields.set(name, value);
      });
    } catch (err) {
      if (err instanceof HpackError) return this.lose(d);
      throw err;
    }
    this.headers(c, b.streamId, f.received, fields, b.endStream, b.tsNs, f.tls);
  }

  private headers(c: Connection, id: number, received: boolean, fields: Map<string, string>, endStream: boolean, tsNs: number, tls: boolean): void {
    const method = fields.get(':method');
    let s = c.streams.get(id);
    if (method !== undefined && !s) {
      s = {
        requestReceived: received,
        method,
        path: stripQuery(fields.get(':path') ?? ''),
        contentType: fields.get('content-type'),
        status: 0,
        grpcStatus: undefined,
        startNs: tsNs,
        tls,
      };
      c.streams.set(id, s);
      if (c.streams.size > MAX_STREAMS) {
        c.streams.delete(c.streams.keys().next().value as number);
        this.abandoned++;
      }
      return;
    }
    if (!s || s.requestReceived === received) return; // request trailers, or a stream begun before tracing
    const status = fields.get(':status');
    if (status !== undefined) {
      const n = Number(status);
      if (n >= 100 && n < 200) return; // interim
      s.status = n;
    }
    const grpc = fields.get('grpc-status');
    if (grpc !== undefined) s.grpcStatus = grpc;
    if (endStream) this.complete(c, id, s, tsNs, false);
  }

  private streamEnd(c: Connection, id: number, received: boolean, tsNs: number, reset: boolean): void {
    const s = c.streams.get(id);
    if (!s) return;
    if (reset || s.requestReceived !== received) this.complete(c, id, s, tsNs, reset);
  }

  private complete(c: Connection, id: number, s: Stream, endNs: number, reset: boolean): void {
    c.streams.delete(id);
    const grpc = isGrpcContentType(s.contentType) ? grpcServiceMethod(s.path) : undefined;
    this.sink({
      conn: c.conn,
      role: s.requestReceived ? 'server' : 'client',
      protocol: 'http2',
      tls: s.tls,
      method: s.method,
      path: s.path,
      pathTruncated: false,
      status: reset && !s.status ? 0 : s.status,
      grpc: grpc ? { ...grpc, code: grpcCodeName(s.grpcStatus) || (reset ? 'CANCELLED' : '') } : undefined,
      startNs: s.startNs,
      endNs: Math.max(endNs, s.startNs),
      end: 'stream',
    });
  }

  private lose(d: Direction): void {
    d.lost = true;
    d.block = undefined;
    this.desyncs++;
  }

  close(sk: number): void {
    const c = this.conns.get(sk);
    if (!c) return;
    this.abandoned += c.streams.size;
    this.conns.delete(sk);
  }
}

function newDirection(): Direction {
  return { decoder: new HpackDecoder(), lost: false, block: undefined };
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The path up to its query string or fragment: those never leave the tracer. */
export function stripQuery(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}
