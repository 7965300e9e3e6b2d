// From accepted batches to stored samples. A batch is accepted once (per agent run and seq) and
// durably (the inbox) before the agent hears back; its address claims count at once. Its records
// are joined a little later, when every agent that reports has reported past its interval (or
// after maxWaitMs), so that both sides of a connection meet whatever order agents send in.
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { wire } from '../../model/index.js';
import { EdgeDictionary, type FineEdge } from '../graph/edges.js';
import { EndpointDictionary, type Endpoint } from '../graph/endpoint.js';
import { DEFAULT_JOIN, Joiner, type Contribution, type JoinOptions } from '../graph/join.js';
import { SampleBlock } from '../graph/sample-block.js';
import type { DuckStore, InboxEntry } from '../store/duckdb.js';
import type { HubMetrics } from '../metrics.js';
import type { BatchIn, HelloIn } from './schema.js';
import { RunRegistry, type RunState } from './runs.js';
import { storedMessages } from './stored-body.js';

export interface IngestOptions {
  join: JoinOptions;
  /** The longest a batch waits for the other agents (ms). */
  maxWaitMs: number;
  /** An agent silent this long no longer holds the join back (ms; at least three of its intervals). */
  staleMs: number;
  /** After a hub start, agents that reported before it hold the join back this long, while they catch up (ms). */
  startGraceMs: number;
}

export const DEFAULT_INGEST: IngestOptions = { join: DEFAULT_JOIN, maxWaitMs: 30_000, staleMs: 10_000, startGraceMs: 30_000 };

export interface AcceptResult {
  applied: number;
  duplicates: number;
  /** Runs the hub does not know: their agents must send hello, then the batches again. */
  unknownRuns: Array<{ agent: string; start: string }>;
}

/** What one finalize step added: the stream's per-interval changes. */
export interface Finalized {
  /** The latest interval end among them, ms. */
  t: number;
  /** The joined samples as columns (what the store wrote and the live windows summed). */
  samples: SampleBlock;
  /** The same rows as objects, their values views into `samples` (made when first read). */
  readonly contributions: readonly Contribution[];
  /** The DNS records of the batches joined (alerting watches them per client and server). */
  dns: Array<{ t: number; node: string; zone: string; records: wire.DnsV1[] }>;
}

interface Pending {
  /** The inbox request it came in. */
  request: number;
  run: RunState;
  batch: wire.BatchV1;
  /** Its TCP records, as records or read from its columns. */
  rows: wire.TcpRows;
  /** The reporting processes' endpoint ids of its TCP records (the join's observe). */
  locals: Int32Array;
  from: number;
  to: number;
  receivedMs: number;
}

const CLAIMS_META = 'claims';

/** The batch as the JSON form has it (a frame's typed columns as arrays). */
function plainBatch(b: wire.BatchV1): wire.BatchV1 {
  return b.tcp_columns ? { ...b, tcp_columns: wire.plainColumns(b.tcp_columns) } : b;
}

export class Ingest {
  readonly endpoints = new EndpointDictionary();
  readonly edges = new EdgeDictionary();
  readonly runs = new RunRegistry();
  readonly joiner: Joiner;
  /** Per endpoint id, the last interval end it was part of (ms). */
  readonly endpointSeen: number[] = [];
  private pending: Pending[] = [];
  private finalizing: Promise<void> | undefined;
  private readonly listeners = new Set<(f: Finalized) => void>();
  private readonly startedMs = Date.now();
  /** Runs that were reporting when the hub last stopped: they hold the join back while they catch up. */
  private readonly resuming = new Set<RunState>();
  /** Inbox requests: how many of their batches wait to be joined. */
  private readonly requestPending = new Map<number, number>();
  /** Ids of inbox requests: time-based, so they grow across restarts. */
  private nextRequest = Date.now() * 1000;

  private constructor(
    private readonly store: DuckStore,
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
    readonly options: IngestOptions,
  ) {
    this.joiner = new Joiner(this.endpoints, this.edges, options.join);
  }

  /** Restores dictionaries, runs, the join's claims and the batches accepted but not joined. */
  static async open(store: DuckStore, metrics: HubMetrics, log: Logger, options: IngestOptions = DEFAULT_INGEST): Promise<Ingest> {
    const claimsText = await store.meta(CLAIMS_META);
    const ingest = new Ingest(store, metrics, log, options);
    if (claimsText) ingest.joiner.restoreClaims(JSON.parse(claimsText) as { servers: unknown; clients: unknown });
    const now = Date.now();
    for (const [id, e] of await store.loadEndpoints()) {
      ingest.endpoints.restore(id, e);
      ingest.endpointSeen[id] = now;
    }
    for (const e of await store.loadEdges()) ingest.edges.restore(e);
    for (const body of await store.loadRuns()) ingest.runs.restore(body);
    for (const run of ingest.runs.current()) if (run.lastHeardMs >= now - 10 * options.staleMs) ingest.resuming.add(run);
    const inbox = await store.loadInbox();
    let replayed = 0;
    for (const entry of inbox) {
      const wanted = new Set(entry.batches.map(([agent, start, seq]) => `${agent}\u0000${start}\u0000${seq}`));
      for (const m of storedMessages(entry.body, entry.encoding) as wire.MessageV1[]) {
        if (m.kind !== 'batch' || !wanted.has(`${m.run.agent}\u0000${m.run.start}\u0000${m.seq}`)) continue;
        // Checked when it was accepted; records as columns come without `tcp`.
        m.tcp ??= [];
        const run = ingest.runs.get(m.run.agent, m.run.start);
        if (!run) continue;
        ingest.queue(entry.id, run, m, entry.receivedMs);
        replayed++;
      }
      ingest.nextRequest = Math.max(ingest.nextRequest, entry.id + 1);
    }
    if (replayed) log.info({ batches: replayed }, 'resuming batches accepted before the restart');
    return ingest;
  }

  onFinalized(listener: (f: Finalized) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get pendingBatches(): number {
    return this.pending.length;
  }

  private queue(request: number, run: RunState, batch: wire.BatchV1, receivedMs: number): void {
    const from = Date.parse(batch.from);
    const to = Date.parse(batch.to);
    const rows = wire.batchTcpRows(batch);
    const locals = this.joiner.observe(run, batch, { from, to }, rows);
    this.pending.push({ request, run, batch, rows, locals, from, to, receivedMs });
    this.requestPending.set(request, (this.requestPending.get(request) ?? 0) + 1);
  }

  /**
   * Applies hellos and batches (each batch once); durable before it returns. `raw` is the request
   * body as it came: kept as the inbox entry (without it, the applied batches are encoded anew).
   */
  async accept(messages: Array<HelloIn | BatchIn>, nowMs = Date.now(), raw?: { body: Buffer; encoding: string }): Promise<AcceptResult> {
    const result: AcceptResult = { applied: 0, duplicates: 0, unknownRuns: [] };
    const changed = new Set<RunState>();
    const applied: wire.BatchV1[] = [];
    const request = this.nextRequest++;
    for (const m of messages) {
      if (m.kind === 'hello') {
        changed.add(this.runs.hello(m, nowMs));
        continue;
      }
      const run = this.runs.get(m.run.agent, m.run.start);
      if (!run) {
        if (!result.unknownRuns.some((u) => u.agent === m.run.agent && u.start === m.run.start)) result.unknownRuns.push({ agent: m.run.agent, start: m.run.start });
        continue;
      }
      if (!this.runs.apply(run, m.seq)) {
        result.duplicates++;
        this.metrics.batches.inc({ agent: run.agent, result: 'duplicate' });
        continue;
      }
      const batch = m as wire.BatchV1;
      // Records as columns come without `tcp` (parseMessages adds it; other callers may not).
      batch.tcp ??= [];
      const to = Date.parse(batch.to);
      run.lastHeardMs = nowMs;
      run.lastTo = Math.max(run.lastTo, to);
      run.batches++;
      run.losses = batch.losses;
      this.resuming.delete(run);
      changed.add(run);
      applied.push(batch);
      this.queue(request, run, batch, nowMs);
      result.applied++;
      this.metrics.batches.inc({ agent: run.agent, result: 'applied' });
      this.metrics.records.inc({ kind: 'tcp' }, batch.tcp.length + (batch.tcp_columns?.role.length ?? 0));
      this.metrics.records.inc({ kind: 'flows' }, batch.flows.length);
      this.metrics.records.inc({ kind: 'drops' }, batch.drops.length);
      this.metrics.records.inc({ kind: 'dns' }, batch.dns.length);
      this.metrics.lag.set({ agent: run.agent }, Math.max(0, (nowMs - to) / 1000));
      this.metrics.lastBatch.set({ agent: run.agent, node: run.node }, to / 1000);
      this.metrics.agentDropped.set({ agent: run.agent }, batch.losses.batches_dropped);
    }
    if (changed.size || applied.length) {
      const entry: InboxEntry | undefined = applied.length
        ? {
            id: request,
            receivedMs: nowMs,
            encoding: raw?.encoding ?? 'gzip',
            body: raw?.body ?? gzipSync(JSON.stringify(applied.map(plainBatch))),
            batches: applied.map((b) => [b.run.agent, b.run.start, b.seq]),
          }
        : undefined;
      await this.store.accept(
        entry,
        [...changed].map((r) => ({ agent: r.agent, start: r.start, body: RunRegistry.serialize(r) })),
      );
    }
    // Their rows were read into typed columns when queued (wire.TcpColumnRows): the parsed arrays are not kept while they wait.
    for (const b of applied) b.tcp_columns = undefined;
    this.metrics.pending.set(this.pending.length);
    return result;
  }

  /** How far every reporting agent has reported (ms): the join waits for this. */
  watermark(nowMs: number): number {
    let mark = Infinity;
    for (const run of this.runs.current()) {
      const stale = Math.max(this.options.staleMs, 3 * run.intervalMs);
      const live = nowMs - run.lastHeardMs <= stale || (this.resuming.has(run) && nowMs - this.startedMs <= this.options.startGraceMs);
      if (live) mark = Math.min(mark, run.lastTo);
    }
    return mark;
  }

  /** Everything up to this time is joined and written (ms). */
  finalTo(nowMs: number): number {
    let t = Math.min(this.watermark(nowMs), nowMs);
    for (const p of this.pending) t = Math.min(t, p.to - 1);
    return t;
  }

  /** Joins the batches whose interval every agent has reported past (all of them with `all`), and writes them. */
  async finalize(nowMs = Date.now(), all = false): Promise<number> {
    // One at a time: a caller that comes while a step runs waits for it, then takes its own turn.
    while (this.finalizing) await this.finalizing;
    if (this.pending.length === 0) return 0;
    const step = this.finalizeStep(nowMs, all);
    this.finalizing = step.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await step;
    } finally {
      this.finalizing = undefined;
    }
  }

  private async finalizeStep(nowMs: number, all: boolean): Promise<number> {
    const mark = this.watermark(nowMs);
    const slack = this.options.join.slackMs;
    const ready: Pending[] = [];
    const waiting: Pending[] = [];
    for (const p of this.pending) {
      if (all || p.to + slack <= mark || nowMs - p.receivedMs >= this.options.maxWaitMs) ready.push(p);
      else waiting.push(p);
    }
    if (ready.length === 0) return 0;
    this.pending = waiting;
    ready.sort((a, b) => a.to - b.to);
    // The joined samples, as the store writes them and the live windows sum them.
    let records = 0;
    for (const p of ready) records += p.rows.length;
    const samples = new SampleBlock(records);
    const before = { ...this.joiner.resolved };
    const seen = this.endpointSeen;
    for (const p of ready) {
      const first = samples.size;
      this.joiner.resolveInto(samples, p.run, p.batch, { from: p.from, to: p.to }, p.locals, p.rows);
      for (let i = first; i < samples.size; i++) {
        const edge = this.edges.get(samples.edge[i]!);
        if (!(seen[edge.client]! >= p.to)) seen[edge.client] = p.to;
        if (!(seen[edge.server]! >= p.to)) seen[edge.server] = p.to;
      }
    }
    for (const k of Object.keys(before) as Array<keyof typeof before>) this.metrics.joins.inc({ result: k }, this.joiner.resolved[k] - before[k]);
    try {
      const left = new Map<number, number>();
      for (const p of ready) left.set(p.request, (left.get(p.request) ?? this.requestPending.get(p.request) ?? 0) - 1);
      const done = [...left].filter(([, n]) => n <= 0).map(([id]) => id);
      await this.store.write(samples, done, this.endpoints.list(), this.edges.values());
      for (const [id, n] of left) {
        if (n <= 0) this.requestPending.delete(id);
        else this.requestPending.set(id, n);
      }
    } catch (err) {
      // Kept in the inbox and in memory: the next step tries again.
      this.pending.push(...ready);
      this.log.error({ err }, 'writing joined samples failed; will retry');
      return 0;
    }
    this.metrics.pending.set(this.pending.length);
    this.metrics.graphSize.set({ what: 'edges' }, this.edges.size);
    this.metrics.graphSize.set({ what: 'endpoints' }, this.endpoints.size);
    const dns = ready.filter((p) => p.batch.dns.length).map((p) => ({ t: p.to, node: p.run.node, zone: p.run.zone, records: p.batch.dns }));
    const f: Finalized = {
      t: ready[ready.length - 1]!.to,
      samples,
      get contributions() {
        return samples.rows();
      },
      dns,
    };
    for (const l of this.listeners) {
      try {
        l(f);
      } catch (err) {
        this.log.warn({ err }, 'a stream listener failed');
      }
    }
    return ready.length;
  }

  /** Saves what the join remembers (claims), so that a restart resolves peers as before. */
  async saveClaims(nowMs = Date.now()): Promise<void> {
    this.joiner.prune(nowMs);
    const body = JSON.stringify(this.joiner.claimsJSON());
    await this.store.setMeta(CLAIMS_META, body);
  }

  /** Addresses each endpoint held, from the claims (for search). */
  addressesByEndpoint(): Map<number, Set<string>> {
    return this.joiner.claimedAddresses();
  }

  endpoint(id: number): Endpoint {
    return this.endpoints.get(id);
  }

  edge(id: number): FineEdge {
    return this.edges.get(id);
  }
}
