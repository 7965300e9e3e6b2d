// The L7 part of the agent: the kernel tracer, the OpenSSL probes that follow processes, HTTP/1
// matching and HTTP/2 stream decoding, and the per-edge request metrics and records.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Family } from '../../lib/metrics.js';
import type { BpfRunRow } from '../../lib/metrics.js';
import type { L7Conn, RequestEdgeIdentity } from '../../model/requests.js';
import { NO_WORKLOAD, type WorkloadEnd } from '../../model/workload.js';
import { EdgeTable } from '../edges/table.js';
import { SELF_METRICS } from '../metrics.js';
import { L7Tracer } from './tracer.js';
import { requestEdgeKind, type RequestEdge } from './edge.js';
import { L7Records } from './records.js';
import { Http1Matcher } from './http1.js';
import { H2Tracker } from './h2.js';
import { OpenSslProbes, type OpenSslCapabilities } from './openssl.js';
import { L7Switch } from './switch.js';
import { routeOf } from './route.js';
import type { Exchange } from '../../model/requests.js';
import { L7Aggregates, type AggregateGrowth } from './aggregates.js';

export interface L7Options {
  log: Logger;
  /** Rules of the on/off switch (see switch.ts); default: everything on. */
  switch?: readonly string[];
  /** Request edges before new ones roll up into peer_addr="other". */
  maxEdges?: number;
  /** Distinct routes per edge before new ones count as route="other". */
  maxRoutes?: number;
  /** Request records (one JSON object per exchange) go here. */
  records?: (record: RequestRecord) => void;
  /** cgroup v2 root, for the switch's cgroup rules. */
  cgroupRoot?: string;
  cgroupName?: (id: number) => string;
  /** The workload of a cgroup (labels of the local end; the switch's namespace/workload rules). */
  localOf?: (cgroupId: number) => WorkloadEnd;
  /** The workload behind a peer address. */
  remoteOf?: (addr: string) => WorkloadEnd;
  /** How long OpenSSL probes stay after the last process using the file exits. */
  releaseAfterMs?: number;
  /** Attach OpenSSL probes (default true). */
  tls?: boolean;
  /** Size of the kernel-to-agent ring buffer of records (a power of two of pages; default the object's). */
  ringBytes?: number;
}

/** An NDJSON request record: what was asked and answered, never a path, query, header or body. */
export interface RequestRecord {
  type: 'request';
  time: string;
  role: 'client' | 'server';
  protocol: 'http1' | 'http2';
  tls: boolean;
  method: string;
  route: string;
  status: number;
  grpc_service?: string;
  grpc_method?: string;
  grpc_code?: string;
  duration_ms: number;
  /** How the end of the response was known (framing, close, head, stream). */
  end: string;
  process: string;
  pid: number;
  cgroup: string;
  peer_addr: string;
  port: number;
}

export class L7Monitor {
  private readonly table: EdgeTable<RequestEdgeIdentity, RequestEdge>;
  private readonly http1: Http1Matcher;
  private readonly h2: H2Tracker;
  private readonly records: L7Records;
  private readonly sw: L7Switch;
  private tracer: L7Tracer | undefined;
  private openssl: OpenSslProbes | undefined;
  /** HTTP/1 exchanges counted in the kernel, when no per-exchange records are asked for. */
  private aggregates: L7Aggregates | undefined;
  private readonly exchanges = { http1: 0, http2: 0 };
  /** CLOCK_MONOTONIC (the kernel's timestamps) to wall-clock milliseconds. */
  private readonly monoToWallMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  private readonly switched = new Map<number, boolean>();
  private switchErrors = 0;

  private constructor(private readonly options: L7Options) {
    this.sw = new L7Switch(options.switch ?? []);
    this.table = new EdgeTable(requestEdgeKind(options.maxRoutes ?? 100), { maxSeries: options.maxEdges ?? 10_000 });
    const sink = (x: Exchange): void => this.exchange(x);
    this.http1 = new Http1Matcher(sink);
    this.h2 = new H2Tracker(sink);
    this.records = new L7Records({
      request: (r) => this.http1.request(r),
      response: (r) => this.http1.response(r),
      h2: (f) => this.h2.frame(f),
      close: (sk) => {
        this.http1.close(sk);
        this.h2.close(sk);
      },
      exec: (pid, comm) => this.openssl?.onExec(pid, comm),
      exit: (pid) => this.openssl?.onExit(pid),
    });
  }

  static start(options: L7Options): L7Monitor {
    const m = new L7Monitor(options);
    try {
      const aggregate = !options.records;
      m.tracer = L7Tracer.open({ selfPid: process.pid, aggregate, defaultOn: m.sw.defaultOn, cgroupFirst: m.sw.rules.some((r) => !r.on), ...(options.ringBytes ? { ringBytes: options.ringBytes } : {}), onEvents: (b) => m.records.handle(b) });
      if (aggregate) m.aggregates = new L7Aggregates(m.tracer.aggregates, m.records, (g) => m.counted(g));
      m.applySwitch();
      if (options.tls !== false) {
        m.openssl = new OpenSslProbes(m.tracer, { selfPid: process.pid, log: options.log, ...(options.releaseAfterMs !== undefined ? { releaseAfterMs: options.releaseAfterMs } : {}) });
        m.openssl.scanAll();
      }
    } catch (err) {
      m.stop();
      throw err;
    }
    for (const r of m.tracer.report) options.log.info({ group: r.group, hook: r.hook, fallbacks: r.fallbacks }, `l7 ${r.group}: ${r.hook ?? 'unavailable'}`);
    return m;
  }

  /**
   * The edge of a connection's exchanges, found once per connection, role and TLS (the identity
   * lookups are the costly part of an exchange) while no eviction happened since.
   */
  private readonly connEdges = new WeakMap<L7Conn, { key: string; generation: number; edge: RequestEdge; identity: RequestEdgeIdentity }>();
  private generation = 0;

  private edgeOf(conn: L7Conn, role: Exchange['role'], tls: boolean): { edge: RequestEdge; identity: RequestEdgeIdentity } {
    const key = `${role}${tls}`;
    const cached = this.connEdges.get(conn);
    if (cached && cached.key === key && cached.generation === this.generation) return cached;
    const o = this.options;
    const identity: RequestEdgeIdentity = {
      role,
      process: conn.comm,
      cgroup: o.cgroupName?.(conn.cgroupId) ?? String(conn.cgroupId),
      peer: conn.peer,
      port: role === 'server' ? conn.localPort : conn.peerPort,
      tls,
      local: o.localOf?.(conn.cgroupId) ?? NO_WORKLOAD,
      remote: o.remoteOf?.(conn.peer) ?? NO_WORKLOAD,
    };
    const entry = { key, generation: this.generation, edge: this.table.get(identity), identity };
    this.connEdges.set(conn, entry);
    return entry;
  }

  /** Exchanges the kernel counted since the last read (no records asked for: none are written). */
  private counted(g: AggregateGrowth): void {
    this.exchanges.http1 += g.count;
    this.edgeOf(g.conn, g.role, g.tls).edge.addCounted(g.method, g.status, g.path, g.pathTruncated, g.count, g.sumNs, g.buckets);
  }

  private exchange(x: Exchange): void {
    this.exchanges[x.protocol]++;
    const o = this.options;
    const { edge, identity } = this.edgeOf(x.conn, x.role, x.tls);
    edge.add(x);
    const cgroup = identity.cgroup;
    const port = identity.port;
    const out = o.records;
    if (!out) return;
    const rec: RequestRecord = {
      type: 'request',
      time: new Date(this.monoToWallMs + x.startNs / 1e6).toISOString(),
      role: x.role,
      protocol: x.protocol,
      tls: x.tls,
      method: x.method,
      route: routeOf(x.path, x.pathTruncated),
      status: x.status,
      duration_ms: Math.round((x.endNs - x.startNs) / 1e3) / 1e3,
      end: x.end,
      process: x.conn.comm,
      pid: x.conn.pid,
      cgroup,
      peer_addr: x.conn.peer,
      port,
    };
    if (x.grpc) {
      rec.grpc_service = x.grpc.service;
      rec.grpc_method = x.grpc.method;
      rec.grpc_code = x.grpc.code;
    }
    out(rec);
  }

  /** Writes the switch's outcome for cgroups whose outcome differs from the default (new ones each interval). */
  private applySwitch(): void {
    const t = this.tracer;
    const root = this.options.cgroupRoot;
    if (!t || !root || this.sw.rules.length === 0) return;
    const seen = new Set<number>();
    const walk = (dir: string, rel: string, depth: number): void => {
      let ino: number;
      try {
        ino = statSync(dir).ino;
      } catch {
        return;
      }
      seen.add(ino);
      const w = this.options.localOf?.(ino);
      const on = this.sw.decide(rel || '/', w ? { namespace: w.namespace, workload: w.workload } : undefined);
      if (this.switched.get(ino) !== on) {
        try {
          if (on === this.sw.defaultOn) t.clearCgroup(ino);
          else t.setCgroup(ino, on);
          this.switched.set(ino, on);
        } catch {
          this.switchErrors++;
        }
      }
      if (depth > 16 || seen.size > 100_000) return;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`, depth + 1);
    };
    walk(root, '', 0);
    for (const id of this.switched.keys()) if (!seen.has(id)) this.switched.delete(id);
  }

  /** Takes in what the kernel sent so far; called each interval. */
  async tick(): Promise<void> {
    await this.flush();
    this.applySwitch();
  }

  /** Delivers every record sent and every exchange counted before the call (tests, shutdown). */
  async flush(): Promise<void> {
    await this.tracer?.events.flush();
    this.aggregates?.read();
  }

  evictIdle(idleMs: number): void {
    if (this.table.evictIdle(idleMs) > 0) this.generation++;
  }

  /** l7_agg entries: credited by the agent and still in the kernel map, of connections on `port` when given (undefined when exchanges are sent as records). */
  countedEntries(port?: number): { agent: number; kernel: number } | undefined {
    return this.aggregates?.entriesOf(port);
  }

  /** The request edges, for the Prometheus exporter. */
  edges(): IterableIterator<RequestEdge> {
    return this.table.values();
  }

  get edgeCount(): number {
    return this.table.size;
  }

  private readonly self = {
    kernel: new Family(SELF_METRICS.l7Kernel),
    exchanges: new Family(SELF_METRICS.l7Exchanges),
    lost: new Family(SELF_METRICS.l7Lost),
    rolledUp: new Family(SELF_METRICS.l7RolledUp),
    tlsFiles: new Family(SELF_METRICS.l7TlsFiles),
  };

  /** The L7 part's self-metrics. */
  renderSelf(out: string[]): void {
    const t = this.tracer;
    const f = this.self;
    if (t) for (const [event, n] of Object.entries(t.counts())) f.kernel.set(n, { event });
    if (this.aggregates) f.kernel.set(this.aggregates.evictedIdle, { event: 'aggregates_idle_taken' });
    for (const [protocol, n] of Object.entries(this.exchanges)) f.exchanges.set(n, { protocol });
    const lost: Array<[string, number]> = [
      ['response_without_request', this.http1.unmatched],
      ['request_without_response', this.http1.unanswered],
      ['h2_header_state_lost', this.h2.desyncs],
      ['h2_stream_abandoned', this.h2.abandoned],
      ['malformed_record', this.records.malformed],
      ['ringbuf', t?.events.lost() ?? 0],
      ['counted_connection_unknown', this.aggregates?.unknownConn ?? 0],
    ];
    for (const [reason, n] of lost) f.lost.set(n, { reason });
    let routes = 0;
    for (const e of this.table.values()) routes += e.routes.overflowed;
    f.rolledUp.set(routes, { label: 'route' });
    f.rolledUp.set(this.table.rolledUp, { label: 'peer_addr' });
    f.tlsFiles.set(this.openssl?.capabilities().attached.length ?? 0);
    for (const fam of Object.values(f)) fam.render(out);
  }

  /** Run-time statistics of the L7 programs, for the agent's BPF run metrics. */
  bpfRuns(): BpfRunRow[] {
    return (this.tracer?.programStats() ?? []).map((p) => ({ component: 'l7', ...p }));
  }

  capabilities(bpfStats: boolean): {
    hooks: unknown;
    tls: OpenSslCapabilities | null;
    switch: { default: 'on' | 'off'; rules: unknown; cgroupsSwitched: number };
    privacy: string;
    overhead: unknown;
  } {
    const t = this.tracer;
    const counts = t?.counts() ?? {};
    const requests = this.exchanges.http1 + this.exchanges.http2;
    let overhead: unknown = { bpfStats: false, hint: 'run with --bpf-stats to measure the kernel-side cost per request' };
    if (t && bpfStats) {
      const stats = t.programStats();
      const ns = stats.reduce((a, p) => a + p.runTimeNs, 0);
      const runs = stats.reduce((a, p) => a + p.runCount, 0);
      overhead = { bpfStats: true, kernelSeconds: ns / 1e9, runs, requests, nsPerRequest: requests ? Math.round(ns / requests) : null };
    }
    return {
      hooks: t?.report ?? [],
      tls: this.openssl?.capabilities() ?? null,
      switch: { default: this.sw.defaultOn ? 'on' : 'off', rules: this.sw.rules, cgroupsSwitched: [...this.switched.values()].filter((on) => on !== this.sw.defaultOn).length },
      privacy:
        'HTTP/1 heads are parsed in the kernel: only method, path up to its query string, status and timestamps cross to the agent; ' +
        'HTTP/2 header blocks cross HPACK-encoded (the compression state needs every field) and only :method, :path (query removed), ' +
        ':status, grpc-status and content-type are kept; bodies and DATA frames never cross; only routes are written',
      overhead: { ...(overhead as object), syscallsInspected: counts.syscalls ?? 0, tlsCalls: counts.tls_calls ?? 0 },
    };
  }

  stop(): void {
    this.openssl?.close();
    this.openssl = undefined;
    this.tracer?.close();
    this.tracer = undefined;
  }
}
