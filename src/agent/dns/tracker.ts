// DNS from packets: matches responses to queries (deduplicated across the interfaces and directions
// one packet crosses), counts requests by rcode, qtype, server and the asking workload (namespace,
// pod, workload, where the client's address names one) with their latency, and keeps a bounded
// address-to-name cache for peer_dns.
import type { RecordBatch } from '../../bpf/index.js';
import { DnsPacketView } from '../../bpf/gen/flows.gen.js';
import { formatAddr } from '../net/addr.js';
import { Histogram, leLabels } from '../metrics/histogram.js';
import { header, labelString, sample } from '../metrics/exposition.js';
import { DNS_BUCKETS, FLOW_METRICS } from '../flows/metrics.js';
import { workloadLabels, type WorkloadOf } from '../flows/workload.js';
import { parseDns, qtypeName, rcodeName } from './parser.js';

const DATA_OFFSET = 56; // offsetof(struct dns_packet, data)
const DNS_LE = leLabels(DNS_BUCKETS);
const IPPROTO_TCP = 6;

export interface DnsTrackerOptions {
  /** Distinct (rcode, qtype, server) series before new servers roll into server="other". */
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

interface Series {
  labels: string;
  count: number;
}

export class DnsTracker {
  private readonly view = new DnsPacketView();
  private readonly pending = new Map<string, Pending>();
  /** Responses already counted (a packet crossing several hooks is seen several times), by key, with time. */
  private readonly answered = new Map<string, number>();
  private readonly requests = new Map<string, Series>();
  private readonly durations = new Map<string, { labels: string; h: Histogram }>();
  private readonly names = new Map<string, { name: string; untilMs: number }>();
  private servers = new Set<string>();
  parseErrors = 0;
  timeouts = 0;

  constructor(private readonly options: DnsTrackerOptions) {}

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
    let server = q.server;
    if (!this.servers.has(server)) {
      if (this.servers.size >= this.options.maxSeries) server = 'other';
      else this.servers.add(server);
    }
    const qt = qtypeName(q.qtype);
    const client = workloadLabels(this.options.workloadOf?.(q.client));
    const labels = labelString([['rcode', rcode], ['qtype', qt], ['server', server], ...client]);
    let s = this.requests.get(labels);
    if (!s) this.requests.set(labels, (s = { labels, count: 0 }));
    s.count++;
    if (seconds === undefined) return;
    const dl = labelString([['qtype', qt], ['server', server], ...client]);
    let d = this.durations.get(dl);
    if (!d) this.durations.set(dl, (d = { labels: dl, h: new Histogram(DNS_BUCKETS) }));
    d.h.observe(seconds);
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

  render(out: string[]): void {
    header(out, FLOW_METRICS.dnsRequests);
    for (const s of this.requests.values()) sample(out, FLOW_METRICS.dnsRequests.name, s.labels, s.count);
    header(out, FLOW_METRICS.dnsDuration);
    for (const d of this.durations.values()) d.h.render(out, FLOW_METRICS.dnsDuration.name, d.labels, DNS_LE);
    header(out, { name: 'flowscope_agent_dns_parse_errors_total', type: 'counter', help: 'DNS packets on port 53 that were not valid DNS messages (or were cut short at the capture limit).' });
    sample(out, 'flowscope_agent_dns_parse_errors_total', '', this.parseErrors);
    header(out, { name: 'flowscope_agent_dns_names', type: 'gauge', help: 'Addresses with a known DNS name (for peer_dns).' });
    sample(out, 'flowscope_agent_dns_names', '', this.names.size);
  }
}
