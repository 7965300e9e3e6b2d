// The agent: follows every TCP connection on the node (and, with the packet part, flows, drops and
// DNS), names both ends, and exports per-edge metrics every interval. Extra sources (custom
// programs) are composed in by the command line; the agent does not know what they are.
import type { Logger } from 'pino';
import { hostname, release } from 'node:os';
import { enableBpfStats, features, trimNativeHeap } from '../bpf/index.js';
import { Every } from '../lib/clock.js';
import { startHttpServer, formatListen, type Endpoint, type ListenAddress } from '../lib/http.js';
import type { WebConfig } from '../lib/web-config.js';
import { startOrStop } from '../lib/lifecycle.js';
import type { BpfRunRow } from '../lib/metrics.js';
import { CgroupPaths } from '../lib/cgroups.js';
import { VERSION } from '../lib/version.js';
import type { AgentCapabilities } from '../model/capabilities.js';
import type { ConnectionsView } from '../model/connections.js';
import type { ConnEvent } from '../model/connection.js';
import type { TcpEdgeIdentity } from '../model/edge.js';
import { NO_WORKLOAD, type WorkloadEnd } from '../model/workload.js';
import { EdgeTable } from './edges/table.js';
import { Enricher, type EnrichOptions } from './enrich/enricher.js';
import type { K8sIndex } from './enrich/k8s-index.js';
import { connectionsView } from './export/connections.js';
import { lifecycleRecord, NdjsonWriter } from './export/ndjson.js';
import { PrometheusExporter } from './export/prometheus.js';
import { HubExport, type HubExportOptions } from './export/hub.js';
import { Owners } from './identity/owners.js';
import { Packets, type PacketOptions } from './packets.js';
import { SelfMetrics } from './self-metrics.js';
import { bootstrapListeners } from './tcp/bootstrap.js';
import { ConnTracker } from './tcp/conn-tracker.js';
import { tcpEdgeKind, type TcpEdge } from './tcp/edge.js';
import type { HookGroup, HookKind } from './tcp/hooks.js';
import { TcpTracer } from './tcp/tracer.js';
import { L7Monitor, type L7Options } from './l7/monitor.js';

/** What the agent shares with the sources composed into it. */
export interface AgentContext {
  log: Logger;
  /** Kernel BPF run-time statistics are on. */
  bpfStats(): boolean;
  /** Kubernetes is asked for or found; where to reach it. */
  kubernetes: { wanted: boolean; kubeconfig?: string; nodeName: string };
  /** The workload of a cgroup (container, pod) from the agent's identity sources. */
  workloadOfCgroup(cgroupId: number): WorkloadEnd;
  /** The pod view of the agent's Kubernetes index (for labels of other sources), when watched. */
  kubernetesIndex(): K8sIndex | undefined;
}

/** A source of metrics and capabilities composed into the agent (custom programs...). */
export interface AgentSource {
  /** Its key in /capabilities. */
  readonly name: string;
  start(ctx: AgentContext): Promise<void>;
  /** Its metrics, as exposition text (without the BPF run-time metrics: see bpfRuns). */
  render(): string;
  bpfRuns(): BpfRunRow[];
  capabilities(): unknown;
  stop(): Promise<void>;
}

export interface AgentOptions {
  intervalMs: number;
  listen: ListenAddress;
  /** TLS and credentials for the endpoint (--web.config.file). */
  web?: WebConfig;
  /** /capabilities and /connections also when listening beyond loopback. */
  enableDetails?: boolean;
  maxSeries: number;
  maxConnections: number;
  hooks: Partial<Record<HookGroup, HookKind>>;
  /** Lifecycle events as JSON lines on this stream. */
  ndjson?: NodeJS.WritableStream;
  bpfStats: boolean;
  /** Edges with no open connection and no activity for this long are forgotten. */
  edgeIdleMs: number;
  /** Packet-level flows, drops and DNS (undefined: off). */
  flows?: PacketOptions;
  log: Logger;
  /** Workload identity: containers, Kubernetes, NAT (defaults: auto-detected, NAT on). */
  enrich?: Omit<EnrichOptions, 'log' | 'onError'>;
  /** Further sources of metrics and capabilities (composed by the command line). */
  sources?: AgentSource[];
  /** Send each interval's edges to a hub (--hub). */
  hub?: Omit<HubExportOptions, 'intervalMs' | 'version'>;
  /** Observe only the connections of this network namespace (its inode; --netns). */
  netns?: number;
  /** HTTP/1, HTTP/2 and gRPC requests per edge, TLS included (undefined: off). */
  l7?: Pick<L7Options, 'switch' | 'maxRoutes' | 'tls'>;
}

/** How often maintenance runs, in time (whatever the interval). */
const EVICT_PERIOD_MS = 60_000;
const TRIM_PERIOD_MS = 60_000;
const LISTENER_COUNT_PERIOD_MS = 10_000;

export class Agent {
  private readonly self = new SelfMetrics();
  private readonly edges: EdgeTable<TcpEdgeIdentity, TcpEdge>;
  private readonly tracker: ConnTracker;
  private readonly owners: Owners;
  private readonly cgroups: CgroupPaths;
  private readonly enricher: Enricher;
  private readonly prometheus = new PrometheusExporter();
  private tracer: TcpTracer | undefined;
  private packets: Packets | undefined;
  private l7: L7Monitor | undefined;
  private l7Error: string | undefined;
  private server: Endpoint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stats: { close(): void } | undefined;
  private lastTickMs = 0;
  private intervals = 0;
  private lostSeen = 0;
  private listenersBootstrapped = 0;
  private readonly ndjson: NdjsonWriter | undefined;
  private readonly startedAt = new Date();
  private stopping = false;
  private readonly sources: AgentSource[];
  private readonly evictEvery = new Every(EVICT_PERIOD_MS);
  private readonly trimEvery = new Every(TRIM_PERIOD_MS);
  private readonly listenerCountEvery = new Every(LISTENER_COUNT_PERIOD_MS, 0);
  private hub: HubExport | undefined;

  private constructor(private readonly options: AgentOptions) {
    this.cgroups = new CgroupPaths(features.cgroup2Root());
    this.owners = new Owners(this.cgroups);
    this.enricher = new Enricher(this.owners, { kubernetes: 'auto', nat: true, ...options.enrich, log: options.log, onError: (source) => this.self.enrichErrors.inc({ source }) });
    this.edges = new EdgeTable(tcpEdgeKind, { maxSeries: options.maxSeries });
    this.ndjson = options.ndjson ? new NdjsonWriter(options.ndjson) : undefined;
    const ndjson = this.ndjson;
    this.tracker = new ConnTracker(this.edges, this.enricher, ndjson ? (ev: ConnEvent) => ndjson.write(lifecycleRecord(ev, this.owners)) : undefined);
    this.sources = options.sources ?? [];
  }

  static start(options: AgentOptions): Promise<Agent> {
    return startOrStop(new Agent(options), (a) => a.init());
  }

  private async init(): Promise<void> {
    const { log } = this.options;
    this.tracer = TcpTracer.open({
      maxConnections: this.options.maxConnections,
      // The ring's pages are mapped into the agent (resident). The flow path can hold the JavaScript
      // thread for hundreds of ms under heavy connection churn (a new flow per connection): with
      // flows on, the ring is sized to ride that out (4 MiB lost events at 14k conn/s; 16 MiB none).
      ringBytes: this.options.flows ? 16 << 20 : 4 << 20,
      hooks: this.options.hooks,
      onEvent: (ev) => {
        if (this.inNetns(ev.id.netns)) this.tracker.handleEvent(ev);
      },
      onEventError: (err) => {
        this.self.errors.inc({ stage: 'events' });
        log.error({ err }, 'handling lifecycle events failed');
      },
    });
    for (const r of this.tracer.report) {
      log.info({ group: r.group, hook: r.kind ?? 'none', fallbacks: r.fallbacks }, `tcp ${r.group}: ${r.kind ?? 'unavailable'}`);
    }
    this.listenersBootstrapped = bootstrapListeners(this.tracer, this.cgroups);
    // Loading the L7 programs takes the event loop for a second or two: before any source that waits
    // on an answer (container runtimes, Kubernetes) starts its clock.
    if (this.options.l7) this.startL7(this.options.l7);
    trimNativeHeap(); // the kernel BTF parsed while loading is freed but still resident
    await this.enricher.start();
    if (this.options.flows) this.packets = Packets.start({ ...this.options.flows, workloadOf: (addr) => this.enricher.byAddress(addr) }, this.options.maxSeries, log);
    if (this.options.bpfStats) this.stats = enableBpfStats();
    const ctx: AgentContext = {
      log,
      bpfStats: () => this.stats !== undefined,
      kubernetes: { wanted: this.enricher.kubernetesWanted, kubeconfig: this.options.enrich?.kubeconfig, nodeName: this.options.enrich?.nodeName ?? process.env.NODE_NAME ?? hostname() },
      workloadOfCgroup: (id) => (id ? this.enricher.localOf(id) : NO_WORKLOAD),
      kubernetesIndex: () => this.enricher.k8s?.index,
    };
    for (const s of this.sources) await s.start(ctx);
    const capacity = this.tracer.capacity;
    this.self.mapCapacity.set(capacity.conns, { map: 'conns' });
    this.self.mapCapacity.set(capacity.listeners, { map: 'listeners' });
    this.server = await startHttpServer(
      this.options.listen,
      {
        metrics: async () => this.renderMetrics(),
        health: () => this.health(),
        capabilities: () => this.capabilities(),
        connections: () => this.connections(),
      },
      log,
      { web: this.options.web, enableDetails: this.options.enableDetails, component: 'agent' },
    );
    log.info({ listen: formatListen(this.options.listen), intervalMs: this.options.intervalMs }, `serving metrics on ${this.server.tls ? 'https' : 'http'}://${formatListen(this.options.listen)}/metrics`);
    if (this.options.hub) {
      const node = this.options.hub.node;
      this.hub = new HubExport({ ...this.options.hub, zoneOf: () => this.enricher.nodeZone(node), intervalMs: this.options.intervalMs, version: VERSION }, () => this.capabilities(), log);
      log.info({ hub: this.options.hub.url, agent: this.options.hub.agent, node: this.options.hub.node, zone: this.options.hub.zone }, 'sending edges to the hub');
    }
    this.lastTickMs = Date.now();
    this.schedule();
  }

  /** Requests per edge: a part that cannot start is reported in /capabilities, not fatal. */
  private startL7(options: NonNullable<AgentOptions['l7']>): void {
    const ndjson = this.ndjson;
    try {
      this.l7 = L7Monitor.start({
        ...options,
        log: this.options.log,
        maxEdges: this.options.maxSeries,
        cgroupRoot: features.cgroup2Root(),
        cgroupName: (id) => this.cgroups.name(id),
        localOf: (id) => (id ? this.enricher.localOf(id) : NO_WORKLOAD),
        remoteOf: (addr) => this.enricher.byAddress(addr),
        ...(ndjson ? { records: (r) => ndjson.write(r) } : {}),
      });
    } catch (err) {
      this.l7Error = (err as Error).message.split('\n')[0];
      this.self.errors.inc({ stage: 'l7' });
      this.options.log.error({ err }, `requests (L7) are not traced: ${this.l7Error}`);
    }
  }

  private schedule(): void {
    if (this.stopping) return;
    const interval = this.options.intervalMs;
    const delay = interval - (Date.now() % interval);
    this.timer = setTimeout(() => {
      this.tick()
        .catch((err: unknown) => {
          this.self.errors.inc({ stage: 'interval' });
          this.options.log.error({ err }, 'interval failed');
        })
        .finally(() => this.schedule());
    }, delay);
  }

  /** One interval: take in pending events, read the connection table, update edges and self-metrics. */
  async tick(): Promise<void> {
    const tracer = this.tracer;
    if (!tracer) return;
    const end = this.self.interval.startTimer();
    await tracer.flushEvents();
    const lost = tracer.eventsLost();
    this.tracker.beginSnapshot(lost > this.lostSeen);
    this.lostSeen = lost;
    const conns = tracer.readConnections((c) => {
      if (this.inNetns(c.id.netns)) this.tracker.snapshot(c);
    });
    this.tracker.endSnapshot();
    tracer.drainOrphanResets((peer, port, n) => {
      // Resets sent for packets no socket owned: server-role edges of the closed port (their
      // namespace is unknown: an agent of one namespace leaves them).
      if (this.options.netns) return;
      const edge = this.edges.get({ role: 'server', process: '', cgroup: '', peer, port, local: NO_WORKLOAD, remote: NO_WORKLOAD });
      edge.resetsSent += n;
      edge.touch();
    });
    this.intervals++;
    const evict = this.evictEvery.due();
    if (evict) this.edges.evictIdle(this.options.edgeIdleMs);
    // Ring buffer batches are allocated on the consumer threads' malloc arenas and freed from this
    // one: under bursts the arenas keep the peak resident unless trimmed now and then.
    if (this.trimEvery.due()) trimNativeHeap();
    this.enricher.tick().catch((err: unknown) => {
      this.self.errors.inc({ stage: 'enrich' });
      this.options.log.error({ err }, 'enrichment failed');
    });
    this.updateSelfMetrics(tracer, conns, lost);
    if (this.l7) {
      try {
        await this.l7.tick();
        if (evict) this.l7.evictIdle(this.options.edgeIdleMs);
      } catch (err) {
        this.self.errors.inc({ stage: 'l7' });
        this.options.log.error({ err }, 'l7 interval failed');
      }
    }
    if (this.packets) {
      try {
        await this.packets.tick();
        if (evict) this.packets.evictIdle(this.options.edgeIdleMs);
      } catch (err) {
        this.self.errors.inc({ stage: 'flows' });
        this.options.log.error({ err }, 'flows interval failed');
      }
    }
    this.lastTickMs = Date.now();
    this.sendToHub(lost);
    end();
  }

  private inNetns(netns: number): boolean {
    return this.options.netns === undefined || netns === this.options.netns;
  }

  private sendToHub(lost: number): void {
    if (!this.hub) return;
    const tracer = this.packets?.tracer;
    this.hub.interval(
      { tcp: this.edges.values(), requests: this.l7?.edges(), flows: tracer?.edges.values(), drops: tracer?.drops.values(), dns: this.packets?.dns?.edges.values() },
      { events: { ringbuf: lost }, rolled_up: this.edges.rolledUp, flows: {} },
    );
  }

  private updateSelfMetrics(tracer: TcpTracer, conns: number, lost: number): void {
    const s = this.self;
    s.mapEntries.set(conns, { map: 'conns' });
    if (this.listenerCountEvery.due()) s.mapEntries.set(tracer.listenerCount(), { map: 'listeners' });
    s.eventsLost.set(lost, { source: 'ringbuf' });
    s.eventsLost.set(tracer.recursionMisses(), { source: 'recursion' });
    for (const [source, n] of Object.entries(tracer.dropCounts())) s.eventsLost.set(n, { source });
    if (this.ndjson) s.eventsLost.set(this.ndjson.dropped, { source: 'ndjson' });
    s.rolledUp.set(this.edges.rolledUp);
    s.inferred.set(this.tracker.stats.opensInferred, { event: 'open' });
    s.inferred.set(this.tracker.stats.closesInferred, { event: 'close' });
    s.edges.set(this.edges.size);
    s.tracked.set(this.tracker.size);
  }

  private bpfRuns(): BpfRunRow[] {
    const rows: BpfRunRow[] = [];
    for (const p of this.tracer?.programStats() ?? []) rows.push({ component: 'tcp', ...p });
    for (const p of this.packets?.programStats() ?? []) rows.push({ component: 'flows', ...p });
    rows.push(...(this.l7?.bpfRuns() ?? []));
    for (const s of this.sources) rows.push(...s.bpfRuns());
    return rows;
  }

  private renderMetrics(): string {
    const out: string[] = [];
    this.self.render(out);
    this.prometheus.renderTcp(out, this.edges.values());
    if (this.packets) this.prometheus.renderPackets(out, this.packets);
    if (this.l7) {
      this.prometheus.renderRequests(out, this.l7.edges());
      this.l7.renderSelf(out);
    }
    this.prometheus.renderBpfRuns(out, this.bpfRuns(), this.stats !== undefined);
    this.hub?.render(out);
    out.push('');
    return out.join('\n') + this.sources.map((s) => s.render()).join('');
  }

  private health(): { ok: boolean; detail: Record<string, unknown> } {
    const ageMs = Date.now() - this.lastTickMs;
    return {
      ok: this.tracer !== undefined && ageMs < this.options.intervalMs * 5 + 2000,
      detail: { lastIntervalAgeMs: ageMs, intervals: this.intervals, trackedConnections: this.tracker.size, edges: this.edges.size },
    };
  }

  connections(): ConnectionsView {
    return connectionsView(this.edges.values(), this.enricher.details);
  }

  capabilities(): AgentCapabilities {
    const tracer = this.tracer;
    const extra: Record<string, unknown> = {};
    for (const s of this.sources) extra[s.name] = s.capabilities();
    return {
      node: hostname(),
      kernel: release(),
      agent: { version: VERSION, startedAt: this.startedAt.toISOString(), intervalMs: this.options.intervalMs },
      tcp: {
        hooks: tracer?.hookReports() ?? [],
        serverOwner: tracer?.report.find((r) => r.group === 'accept')?.kind ? 'accepting process (accept hooks)' : "listening socket's owner (accept hooks unavailable)",
        mapReads: tracer ? { conns: tracer.readMode } : {},
        listenersBootstrapped: this.listenersBootstrapped,
      },
      flows: this.packets?.capabilities() ?? null,
      l7: this.l7 ? this.l7.capabilities(this.stats !== undefined) : { status: this.options.l7 ? 'error' : 'off', ...(this.l7Error ? { error: this.l7Error } : {}) },
      bpfStats: this.stats !== undefined,
      ...extra,
      identity: this.enricher.capabilities(),
      limits: { maxSeries: this.options.maxSeries, maxConnections: this.options.maxConnections },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    // A last read, so that what was counted up to now is in the final state.
    if (this.tracer) {
      try {
        await this.tick();
      } catch {
        // stopping anyway
      }
    }
    await this.hub?.stop();
    await this.server?.close();
    for (const s of this.sources) await s.stop().catch(() => undefined);
    this.enricher.stop();
    this.stats?.close();
    await this.packets?.stop();
    this.packets = undefined;
    this.l7?.stop();
    this.l7 = undefined;
    this.tracer?.close();
    this.tracer = undefined;
  }
}
