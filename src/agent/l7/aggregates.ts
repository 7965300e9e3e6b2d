// HTTP/1 exchanges the kernel counted in l7_agg (bpf/include/l7.h, struct l7_agg_key/value), read in
// place each interval: each entry's growth since the last read is credited once. Entries of
// connections that closed are read one last time and taken out (the kernel never writes them again:
// a connection's number is not reused). The one place that reads l7_agg.
import { L7AggKeyView, L7AggValueView, L7Flags } from '../../bpf/gen/l7.gen.js';
import type { MapReader } from '../../bpf/index.js';
import type { L7Conn } from '../../model/requests.js';
import { METHODS } from './records.js';

const RECEIVED = 0;
const BUCKETS = L7AggValueView.bucketsLength;
const PATH_OFFSET = 16;

/** Exchanges of one connection, role, method, status and path that grew since the last read. */
export interface AggregateGrowth {
  conn: L7Conn;
  role: 'client' | 'server';
  tls: boolean;
  method: string;
  path: string;
  pathTruncated: boolean;
  status: number;
  count: number;
  sumNs: number;
  /** Per request bucket (REQUEST_BUCKETS), then one above the last bound: the growth of each. */
  buckets: Float64Array;
}

export interface NumberedConns {
  numberedConn(id: number): L7Conn | undefined;
  takeClosed(): number[];
  forgetNumbered(id: number): void;
}

interface Credited {
  count: number;
  sumNs: number;
  buckets: Float64Array;
  /** Reads in a row that found it not grown. */
  idleReads: number;
}

/**
 * An entry that did not grow for this many reads is taken out of the kernel map (atomically, its last
 * counts credited): a connection whose close the kernel did not report (a tracing program is skipped
 * when it fires again on a CPU where it is running) would otherwise keep its entries for ever. A
 * connection that carries requests again gets a new entry, counted from zero.
 */
export const IDLE_READS = 5;

export class L7Aggregates {
  private readonly key = new L7AggKeyView();
  private readonly value = new L7AggValueView();
  private readonly credited = new Map<string, Credited>();
  private readonly growth: AggregateGrowth['buckets'] = new Float64Array(BUCKETS);
  /** Entries whose connection's description never arrived (its record was lost): not credited. */
  unknownConn = 0;
  /** Entries taken out after IDLE_READS reads without growth. */
  evictedIdle = 0;
  private taken = Buffer.alloc(0);

  constructor(
    private readonly map: MapReader<Uint8Array, Uint8Array>,
    private readonly conns: NumberedConns,
    private readonly sink: (g: AggregateGrowth) => void,
  ) {}

  /** Credits what every entry grew by. Call after the ring's records up to now were handled (connections are described there). */
  read(): void {
    const closed = new Set(this.conns.takeClosed());
    const batch = this.map.readAll();
    const keys = batch.keys;
    for (let i = 0; i < batch.count; i++) {
      const ko = batch.keyOffset(i);
      const k = this.key.at(keys, ko);
      const id = k.conn_id;
      const conn = this.conns.numberedConn(id);
      const keyBytes = Buffer.from(keys.buffer, keys.byteOffset + ko, batch.keySize);
      if (!conn) {
        // described in a record not handled yet (written after the ring was read): next read
        if (closed.has(id)) {
          this.unknownConn++;
          this.map.delete(Uint8Array.from(keyBytes));
        }
        continue;
      }
      const name = keyBytes.toString('latin1');
      let c = this.credited.get(name);
      if (!c) this.credited.set(name, (c = { count: 0, sumNs: 0, buckets: new Float64Array(BUCKETS), idleReads: 0 }));
      let v = this.value.at(batch.values, batch.valueOffset(i));
      let idle = false;
      if (v.count > c.count) c.idleReads = 0;
      else if (++c.idleReads >= IDLE_READS && !closed.has(id)) {
        // Taken out with its last counts (an exchange counted since the read above is in them).
        if (this.taken.length < batch.valueStride) this.taken = Buffer.alloc(batch.valueStride);
        if (!this.map.takeRaw(Uint8Array.from(keyBytes), this.taken)) continue;
        v = this.value.at(new DataView(this.taken.buffer, this.taken.byteOffset, batch.valueStride), 0);
        idle = true;
      }
      if (v.count > c.count) this.credit(c, k, v, conn, keyBytes);
      if (idle) {
        this.evictedIdle++;
        this.credited.delete(name);
      } else if (closed.has(id)) {
        this.map.delete(Uint8Array.from(keyBytes));
        this.credited.delete(name);
      }
    }
    for (const id of closed) this.conns.forgetNumbered(id);
  }

  private credit(c: Credited, k: L7AggKeyView, v: L7AggValueView, conn: L7Conn, keyBytes: Buffer): void {
    const g = this.growth;
    for (let b = 0; b < BUCKETS; b++) {
      const n = v.buckets(b);
      g[b] = n - c.buckets[b]!;
      c.buckets[b] = n;
    }
    const sumNs = v.sum_ns;
    const flags = k.flags;
    this.sink({
      conn,
      role: k.dir === RECEIVED ? 'server' : 'client',
      tls: (flags & L7Flags.L7_F_TLS) !== 0,
      method: METHODS[k.method] ?? 'OTHER',
      path: keyBytes.toString('latin1', PATH_OFFSET, PATH_OFFSET + Math.min(k.path_len, 128)),
      pathTruncated: (flags & L7Flags.L7_F_PATH_TRUNCATED) !== 0,
      status: k.status,
      count: v.count - c.count,
      sumNs: sumNs - c.sumNs,
      buckets: g,
    });
    c.count = v.count;
    c.sumNs = sumNs;
  }

  /**
   * Entries (credited by the agent, and in the kernel map) of connections with `port` at either end;
   * all of them without a port (an entry whose connection is not described yet counts only then).
   */
  entriesOf(port?: number): { agent: number; kernel: number } {
    const onPort = (id: number): boolean => {
      if (port === undefined) return true;
      const c = this.conns.numberedConn(id);
      return c !== undefined && (c.localPort === port || c.peerPort === port);
    };
    let agent = 0;
    for (const name of this.credited.keys()) {
      const b = Buffer.from(name, 'latin1');
      if (onPort(this.key.at(new DataView(b.buffer, b.byteOffset, b.length), 0).conn_id)) agent++;
    }
    const batch = this.map.readAll();
    let kernel = 0;
    for (let i = 0; i < batch.count; i++) if (onPort(this.key.at(batch.keys, batch.keyOffset(i)).conn_id)) kernel++;
    return { agent, kernel };
  }

  /** Entries credited and still in the kernel map. */
  get entries(): number {
    return this.credited.size;
  }
}
