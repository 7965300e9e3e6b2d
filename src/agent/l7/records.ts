// The one place that reads the L7 tracer's kernel records (bpf/include/l7.h): each becomes an
// HTTP/1 message (or a request and its response), an HTTP/2 frame, a close, or a process event for
// the consumers.
import { L7RecordType, L7Flags, L7Method, L7RequestView, L7ResponseView, L7ExchangeView, L7H2FrameView, L7CloseView, L7ProcView, L7ConnInfoView, L7ConnRecView } from '../../bpf/gen/l7.gen.js';
import { formatAddr } from '../../model/addr.js';
import type { RecordBatch } from '../../bpf/index.js';
import type { Http1Request, Http1Response } from './http1.js';
import type { H2Frame } from './h2.js';
import type { Exchange, L7Conn } from '../../model/requests.js';

export const METHODS: Record<number, string> = Object.fromEntries(
  Object.entries(L7Method).map(([name, v]) => [v, name === 'L7_M_UNKNOWN' ? 'OTHER' : name.slice('L7_M_'.length)]),
);
const RECEIVED = 0;
const MAX_CONNS = 131072;

export interface RecordSinks {
  request(r: Http1Request): void;
  response(r: Http1Response): void;
  h2(f: H2Frame): void;
  close(sk: number): void;
  exec(pid: number, comm: string): void;
  exit(pid: number): void;
}

export class L7Records {
  private readonly req = new L7RequestView();
  private readonly resp = new L7ResponseView();
  private readonly exchange = new L7ExchangeView();
  private readonly frame = new L7H2FrameView();
  private readonly closeView = new L7CloseView();
  private readonly proc = new L7ProcView();
  private readonly connRec = new L7ConnRecView();
  /** Connections by socket address, described once, forgotten at close. */
  private readonly conns = new Map<number, L7Conn>();
  /** Connections whose exchanges the kernel counts (l7_agg), by their number; the number of each socket's. */
  private readonly numbered = new Map<number, L7Conn>();
  private readonly numberOfSk = new Map<number, number>();
  /** Numbered connections that closed since takeClosed(): their l7_agg entries will not grow again. */
  private closed: number[] = [];
  /** Records of an unknown type or too short (a kernel/agent mismatch). */
  malformed = 0;

  constructor(private readonly sinks: RecordSinks) {}

  handle(batch: RecordBatch): void {
    batch.forEach((view, off, len) => this.record(view, off, len));
  }

  private connOf(info: L7ConnInfoView): L7Conn {
    const sk = info.sk;
    let c = this.conns.get(sk);
    if (!c) {
      c = {
        sk,
        pid: info.pid,
        comm: info.comm,
        cgroupId: info.cgroup_id,
        netns: info.netns,
        family: info.family,
        local: formatAddr(info.family, info.saddr),
        peer: formatAddr(info.family, info.daddr),
        localPort: info.sport,
        peerPort: info.dport,
      };
      if (this.conns.size >= MAX_CONNS) this.conns.delete(this.conns.keys().next().value as number); // closes the kernel's LRU dropped
      this.conns.set(sk, c);
    }
    return c;
  }

  private record(view: DataView, off: number, len: number): void {
    if (len < 1) return void this.malformed++;
    switch (view.getUint8(off)) {
      case L7RecordType.L7_REC_REQUEST: {
        if (len < L7RequestView.size - 128) return void this.malformed++;
        const r = this.req.at(view, off);
        const plen = Math.min(r.path_len, len - (L7RequestView.size - 128));
        const path = Buffer.from(view.buffer, view.byteOffset + off + L7RequestView.size - 128, plen).toString('latin1');
        return this.sinks.request({
          conn: this.connOf(r.conn),
          received: r.dir === RECEIVED,
          method: METHODS[r.method] ?? 'OTHER',
          path,
          pathTruncated: (r.flags & L7Flags.L7_F_PATH_TRUNCATED) !== 0,
          tls: (r.flags & L7Flags.L7_F_TLS) !== 0,
          seq: r.seq,
          tsNs: r.ts_ns,
        });
      }
      case L7RecordType.L7_REC_RESPONSE: {
        if (len < L7ResponseView.size) return void this.malformed++;
        const r = this.resp.at(view, off);
        const f = r.flags;
        this.connOf(r.conn);
        return this.sinks.response({
          sk: r.conn.sk,
          received: r.dir === RECEIVED,
          status: r.status,
          seq: r.seq,
          tls: (f & L7Flags.L7_F_TLS) !== 0,
          headNs: r.head_ns,
          endNs: r.end_ns,
          end: endOf(f),
        });
      }
      case L7RecordType.L7_REC_EXCHANGE: {
        // a request and its response in one record: the same as the two records one after the other
        if (len < L7ExchangeView.size) return void this.malformed++;
        const x = this.exchange.at(view, off);
        const plen = Math.min(x.path_len, 128);
        const conn = this.connOf(x.conn);
        const received = x.dir === RECEIVED;
        const f = x.resp_flags;
        this.sinks.request({
          conn,
          received,
          method: METHODS[x.method] ?? 'OTHER',
          path: Buffer.from(view.buffer, view.byteOffset + off + L7ExchangeView.size - 128, plen).toString('latin1'),
          pathTruncated: (x.req_flags & L7Flags.L7_F_PATH_TRUNCATED) !== 0,
          tls: (x.req_flags & L7Flags.L7_F_TLS) !== 0,
          seq: x.seq,
          tsNs: x.req_ns,
        });
        return this.sinks.response({
          sk: conn.sk,
          received: !received,
          status: x.status,
          seq: x.seq,
          tls: (f & L7Flags.L7_F_TLS) !== 0,
          headNs: x.head_ns,
          endNs: x.end_ns,
          end: endOf(f),
        });
      }
      case L7RecordType.L7_REC_H2_FRAME: {
        const fixed = L7H2FrameView.size - 1024;
        if (len < fixed) return void this.malformed++;
        const f = this.frame.at(view, off);
        const n = Math.min(f.len, len - fixed);
        return this.sinks.h2({
          conn: this.connOf(f.conn),
          received: f.dir === RECEIVED,
          frameType: f.frame_type,
          frameFlags: f.frame_flags,
          streamId: f.stream_id,
          payload: new Uint8Array(view.buffer, view.byteOffset + off + fixed, n),
          truncated: (f.flags & L7Flags.L7_F_H2_TRUNCATED) !== 0,
          tls: (f.flags & L7Flags.L7_F_TLS) !== 0,
          tsNs: f.ts_ns,
        });
      }
      case L7RecordType.L7_REC_CONN: {
        if (len < L7ConnRecView.size) return void this.malformed++;
        const r = this.connRec.at(view, off);
        const id = r.conn_id;
        const conn = this.connOf(r.conn);
        if (this.numbered.size >= MAX_CONNS) {
          const oldest = this.numbered.keys().next().value as number; // a connection the kernel's LRU dropped
          this.numbered.delete(oldest);
          this.closed.push(oldest);
        }
        // A new connection on a socket address: the one numbered there before has ended, even if its
        // close was not reported (its entries will not grow again).
        const before = this.numberOfSk.get(conn.sk);
        if (before !== undefined && before !== id) this.closed.push(before);
        this.numbered.set(id, conn);
        this.numberOfSk.set(conn.sk, id);
        return;
      }
      case L7RecordType.L7_REC_CLOSE: {
        if (len < L7CloseView.size) return void this.malformed++;
        const sk = this.closeView.at(view, off).sk;
        this.sinks.close(sk);
        this.conns.delete(sk);
        const id = this.numberOfSk.get(sk);
        if (id !== undefined) {
          this.numberOfSk.delete(sk);
          this.closed.push(id);
        }
        return;
      }
      case L7RecordType.L7_REC_EXEC:
      case L7RecordType.L7_REC_EXIT: {
        if (len < L7ProcView.size) return void this.malformed++;
        const p = this.proc.at(view, off);
        if (p.type === L7RecordType.L7_REC_EXEC) this.sinks.exec(p.pid, p.comm);
        else this.sinks.exit(p.pid);
        return;
      }
      default:
        this.malformed++;
    }
  }

  /** A connection the kernel numbered for l7_agg (undefined before its L7_REC_CONN arrived). */
  numberedConn(id: number): L7Conn | undefined {
    return this.numbered.get(id);
  }

  /** Numbered connections closed since the last call (forgotten here once their entries are read). */
  takeClosed(): number[] {
    const c = this.closed;
    this.closed = [];
    return c;
  }

  forgetNumbered(id: number): void {
    this.numbered.delete(id);
  }

  /** Connections described and not closed yet. */
  get connections(): number {
    return this.conns.size;
  }
}

function endOf(flags: number): Exchange['end'] {
  if (flags & L7Flags.L7_F_END_AT_CLOSE) return 'close';
  if (flags & L7Flags.L7_F_END_AT_HEAD) return 'head';
  if (flags & L7Flags.L7_F_SUPERSEDED) return 'superseded';
  return 'framing';
}
