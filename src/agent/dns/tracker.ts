// DNS from packets: matches responses to queries (deduplicated across the interfaces and directions
// one packet crosses), counts requests by rcode, qtype, server and the asking workload (namespace,
// pod, workload, where the client's address names one) with their latency, and keeps a bounded
// address-to-name cache for peer_dns.
import type { RecordBatch } from '../../bpf/index.js';
import { DnsPacketView, DnsPacketLayout } from '../../bpf/gen/flows.gen.js';
import { formatAddr } from '../../model/addr.js';
import type { DnsIdentity } from '../../model/edge.js';
import { podLevel, type WorkloadOf } from '../../model/workload.js';
import { EdgeTable } from '../edges/table.js';
import { countRequest, dnsEdgeKind, type DnsEdge } from './edge.js';
import { parseDns, qtypeName, rcodeName } from './parser.js';

const DATA_OFFSET = DnsPacketLayout.fields.data.offset;
const IPPROTO_TCP = 6;

export interface DnsTrackerOptions {
  /** Distinct (qtype, server, client) edges before new ones roll into server="other". */
  maxSeries: number;
  /** Queries unanswered for this long are counted with rcode="TIMEOUT". */
  timeoutMs?: number;
  /** Names remembered (address → name) for peer_dns. */
  cacheEntries?: number;
  /** Shortest time a name is remembered, whatever its TTL (connections follow resolution). */
  minCacheMs?: number;
  /** The workload owning an address (pod IP...), when known: names the client of each request. */
  workloadOf?: WorkloadOf;
}

interface Pending {
  ts: number;
  qtype: number;
  server: string;
  client: string;
  name: string;
  atMs: number;
}

export class DnsTracker {
  private readonly view = new DnsPacketView();
  private readonly pending = new Map<string, Pending>();
  /** Responses already counted (a packet crossing several hooks is seen several times), by key, with time. */
  private readonly answered = new Map<string, number>();
  private readonly names = new Map<string, { name: string; untilMs: number }>();
  readonly edges: EdgeTable<DnsIdentity, DnsEdge>;
  parseErrors = 0;
  timeouts = 0;

  constructor(private readonly options: DnsTrackerOptions) {
    this.edges = new EdgeTable(dnsEdgeKind, { maxSeries: options.maxSeries });
  }

  /** Addresses with a known DNS name. */
  get namesKnown(): number {
    return this.names.size;
  }

  /** Handles a batch of DNS packets from the kernel (ring buffer handler). */
  handle = (batch: RecordBatch): void => {
    const nowMs = Date.now();
    batch.forEach((v, off) => {
      const p = this.view.at(v, off);
      const k = p.key;
      let start = off + DATA_OFFSET;
      let len = p.len;
      if (k.proto === IPPROTO_TCP) {
        // TCP: a 2-byte length precedes each message.
        start += 2;
        len -= 2;
      }
      const msg = len > 0 ? parseDns(v, start, len) : null;
      if (!msg) {
        this.parseErrors++;
        return;
      }
      const src = formatAddr(k.family, k.saddr);
      const dst = formatAddr(k.family, k.daddr);
      if (!msg.response) {
        const key = `${src}|${k.sport}|${dst}|${msg.id}|${k.proto}`;
        if (!this.pending.has(key) && !this.answered.has(key)) this.pending.set(key, { ts: p.ts_ns, qtype: msg.qtype, server: dst, client: src, name: msg.name, atMs: nowMs });
        return;
      }
      const key = `${dst}|${k.dport}|${src}|${msg.id}|${k.proto}`;
      const q = this.pending.get(key);
      if (!q) return; // a duplicate of a response already counted, or a query we did not see
      this.pending.delete(key);
      this.answered.set(key, nowMs);
      this.count(rcodeName(msg.rcode), q, Math.max(0, (p.ts_ns - q.ts) / 1e9));
      if (msg.rcode === 0 && q.name) {
        const minMs = this.options.minCacheMs ?? 120_000;
        for (const a of msg.answers) this.remember(a.addr, q.name, nowMs + Math.max(a.ttl * 1000, minMs));
      }
    });
  };

  private remember(addr: string, name: string, untilMs: number): void {
    this.names.delete(addr);
    this.names.set(addr, { name, untilMs });
    const cap = this.options.cacheEntries ?? 65536;
    if (this.names.size > cap) this.names.delete(this.names.keys().next().value!);
  }

  /** The name an address was resolved from, or ''. */
  nameOf = (addr: string): string => {
    const e = this.names.get(addr);
    if (!e) return '';
    if (e.untilMs < Date.now()) {
      this.names.delete(addr);
      return '';
    }
    return e.name;
  };

  private count(rcode: string, q: Pending, seconds: number | undefined): void {
    const nowMs = Date.now();
    const edge = this.edges.get({ qtype: qtypeName(q.qtype), server: q.server, client: podLevel(this.options.workloadOf?.(q.client)) }, nowMs);
    countRequest(edge, rcode, seconds, nowMs);
  }

  /** Once per interval: unanswered queries time out, old duplicates are forgotten. */
  tick(nowMs = Date.now()): void {
    const timeout = this.options.timeoutMs ?? 5000;
    for (const [key, q] of this.pending) {
      if (nowMs - q.atMs > timeout) {
        this.pending.delete(key);
        this.timeouts++;
        this.count('TIMEOUT', q, undefined);
      }
    }
    for (const [key, at] of this.answered) if (nowMs - at > timeout) this.answered.delete(key);
  }
}
