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
}

export class L7Aggregates {
  private readonly key = new L7AggKeyView();
  private readonly value = new L7AggValueView();
  private readonly credited = new Map<string, Credited>();
  private readonly growth: AggregateGrowth['buckets'] = new Float64Array(BUCKETS);
  /** Entries whose connection's description never arrived (its record was lost): not credited. */
  unknownConn = 0;

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
      const v = this.value.at(batch.values, batch.valueOffset(i));
      let c = this.credited.get(name);
      if (!c) this.credited.set(name, (c = { count: 0, sumNs: 0, buckets: new Float64Array(BUCKETS) }));
      const grew = v.count - c.count;
      if (grew > 0) {
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
          count: grew,
          sumNs: sumNs - c.sumNs,
          buckets: g,
        });
        c.count = v.count;
        c.sumNs = sumNs;
      }
      if (closed.has(id)) {
        this.map.delete(Uint8Array.from(keyBytes));
        this.credited.delete(name);
      }
    }
    for (const id of closed) this.conns.forgetNumbered(id);
  }

  /** Entries credited and still in the kernel map. */
  get entries(): number {
    return this.credited.size;
  }
}
