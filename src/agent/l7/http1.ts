// HTTP/1 requests matched to their responses. The kernel numbers the messages of each direction of a
// connection; the n-th response answers the n-th request (keep-alive and pipelining alike), and
// realigns the numbers itself when it saw a response without its request.
import type { Exchange, ExchangeSink, L7Conn } from '../../model/requests.js';

export interface Http1Request {
  readonly conn: L7Conn;
  /** Received: this end serves; sent: this end is the client. */
  readonly received: boolean;
  readonly method: string;
  readonly path: string;
  readonly pathTruncated: boolean;
  readonly tls: boolean;
  readonly seq: number;
  readonly tsNs: number;
}

export interface Http1Response {
  readonly sk: number;
  /** Received: this end is the client. */
  readonly received: boolean;
  readonly status: number;
  readonly seq: number;
  readonly tls: boolean;
  readonly headNs: number;
  readonly endNs: number;
  readonly end: Exchange['end'];
}

/** Requests waiting per connection before the oldest are given up (a peer that never answers). */
const MAX_PENDING_PER_CONN = 256;

export class Http1Matcher {
  /** sk -> requests waiting for their response, by seq (one direction per connection: its role). */
  private readonly pending = new Map<number, Map<number, Http1Request>>();
  /** Responses with no request waiting (tracing began mid-exchange, or the request was lost). */
  unmatched = 0;
  /** Requests whose connection closed (or that were given up) without a response. */
  unanswered = 0;

  constructor(private readonly sink: ExchangeSink) {}

  get waiting(): number {
    let n = 0;
    for (const m of this.pending.values()) n += m.size;
    return n;
  }

  request(r: Http1Request): void {
    let m = this.pending.get(r.conn.sk);
    if (!m) {
      m = new Map();
      this.pending.set(r.conn.sk, m);
    }
    m.set(r.seq, r);
    if (m.size > MAX_PENDING_PER_CONN) {
      const oldest = m.keys().next().value as number;
      m.delete(oldest);
      this.unanswered++;
    }
  }

  response(r: Http1Response): void {
    const m = this.pending.get(r.sk);
    const req = m?.get(r.seq);
    if (!m || !req || req.received === r.received) {
      this.unmatched++;
      return;
    }
    m.delete(r.seq);
    // Requests before this one that got no response will get none (the kernel numbers in order).
    for (const seq of m.keys()) {
      if (seq >= r.seq) break;
      m.delete(seq);
      this.unanswered++;
    }
    this.sink({
      conn: req.conn,
      role: req.received ? 'server' : 'client',
      protocol: 'http1',
      tls: req.tls || r.tls,
      method: req.method,
      path: req.path,
      pathTruncated: req.pathTruncated,
      status: r.status,
      grpc: undefined,
      startNs: req.tsNs,
      endNs: Math.max(r.endNs, req.tsNs),
      end: r.end,
    });
  }

  close(sk: number): void {
    const m = this.pending.get(sk);
    if (!m) return;
    this.unanswered += m.size;
    this.pending.delete(sk);
  }
}
