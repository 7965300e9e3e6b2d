// The agent: follows every TCP connection on the node and exports per-edge metrics every interval.
import type http from 'node:http';
import type { Logger } from 'pino';
import { hostname, release } from 'node:os';
import { enableBpfStats, features, codec, trimNativeHeap } from '../bpf/index.js';
import { ConnTracker } from './tcp/conn-tracker.js';
import { EdgeTable } from './tcp/edges.js';
import { TcpTracer } from './tcp/tracer.js';
import { bootstrapListeners } from './tcp/bootstrap.js';
import type { HookGroup, HookKind } from './tcp/hooks.js';
import { CgroupPaths } from './identity/cgroups.js';
import { Owners } from './identity/owners.js';
import { Enricher, type EnrichOptions } from './enrich/enricher.js';
import { SelfMetrics } from './self-metrics.js';
import { startHttpServer, formatListen, type ListenAddress } from './export/http.js';
import { lifecycleRecord, NdjsonWriter } from './export/ndjson.js';
import { OrphanResetKeyView } from '../bpf/gen/tcp.gen.js';
import { formatAddr } from './net/addr.js';
import { VERSION } from '../util/version.js';
import type { ProgramRegistry } from '../programs/exporter.js';
import type { BpfProgramWatcher } from '../programs/watch.js';
import { FlowAgent, type FlowAgentOptions } from './flows/flow-agent.js';

export interface AgentOptions {
  intervalMs: number;
  listen: ListenAddress;
  maxSeries: number;
  maxConnections: number;
  hooks: Partial<Record<HookGroup, HookKind>>;
  /** Lifecycle events as JSON lines on this stream. */
  ndjson?: NodeJS.WritableStream;
  bpfStats: boolean;
  /** Custom eBPF programs (YAML files or directories) whose maps are exported with the agent's metrics. */
  programs?: string[];
  /** Edges with no open connection and no activity for this long are forgotten. */
  edgeIdleMs: number;
  /** Packet-level flows, drops and DNS (undefined: off). */
  flows?: FlowAgentOptions;
  log: Logger;
  /** Workload identity: containers, Kubernetes, NAT (defaults: auto-detected, NAT on). */
  enrich?: Omit<EnrichOptions, 'log' | 'registry'>;
}

export class Agent {
  private readonly self = new SelfMetrics();
  private readonly edges: EdgeTable;
  private readonly tracker: ConnTracker;
  private readonly owners: Owners;
  private readonly cgroups: CgroupPaths;
  private readonly enricher: Enricher;
  private tracer: TcpTracer | undefined;
  private flows: FlowAgent | undefined;
  private server: http.Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stats: { close(): void } | undefined;
  private lastTickMs = 0;
  private ticks = 0;
  private lostSeen = 0;
  private listenersBootstrapped = 0;
  private readonly ndjson: NdjsonWriter | undefined;
  private readonly startedAt = new Date();
  private stopping = false;
  private programs: ProgramRegistry | undefined;
  private programWatcher: BpfProgramWatcher | undefined;

  private constructor(private readonly options: AgentOptions) {
    this.cgroups = new CgroupPaths(features.cgroup2Root());
    this.owners = new Owners(this.cgroups);
    this.enricher = new Enricher(this.owners, { kubernetes: 'auto', nat: true, ...options.enrich, log: options.log, registry: this.self.registry });
    this.edges = new EdgeTable({ maxSeries: options.maxSeries });
    this.ndjson = options.ndjson ? new NdjsonWriter(options.ndjson) : undefined;
    this.tracker = new ConnTracker(this.edges, this.enricher, this.ndjson ? (ev) => this.ndjson!.write(lifecycleRecord(ev, this.owners)) : undefined);
  }

  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    try {
      await agent.init();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
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
      onEvents: (batch) => {
        try {
          this.tracker.handleEvents(batch);
        } catch (err) {
          this.self.errors.inc({ stage: 'events' });
          log.error({ err }, 'handling lifecycle events failed');
        }
      },
    });
    for (const r of this.tracer.report) {
      log.info({ group: r.group, hook: r.kind ?? 'none', fallbacks: r.fallbacks }, `tcp ${r.group}: ${r.kind ?? 'unavailable'}`);
    }
    this.listenersBootstrapped = bootstrapListeners(this.tracer, this.cgroups);
    trimNativeHeap(); // the kernel BTF parsed while loading is freed but still resident
    await this.enricher.start();
    if (this.options.flows) this.flows = await FlowAgent.start({ ...this.options.flows, workloadOf: (addr) => this.enricher.byAddress(addr) }, this.options.maxSeries, log);
    if (this.options.bpfStats) this.stats = enableBpfStats();
    await this.startPrograms();
    this.self.mapCapacity.set({ map: 'conns' }, this.tracer.conns.maxEntries);
    this.self.mapCapacity.set({ map: 'listeners' }, this.tracer.listeners.maxEntries);
    this.server = await startHttpServer(this.options.listen, {
      metrics: () => this.renderMetrics(),
      health: () => this.health(),
      capabilities: () => this.capabilities(),
      connections: () => this.enricher.connections(this.edges.values()),
    }, log);
    log.info({ listen: formatListen(this.options.listen), intervalMs: this.options.intervalMs }, `serving metrics on http://${formatListen(this.options.listen)}/metrics`);
    this.lastTickMs = Date.now();
    this.schedule();
  }

  /**
   * Custom programs: from --programs, and in a Kubernetes cluster from BpfProgram resources. Loaded
   * lazily, so that an agent without them does not carry their code.
   */
  private async startPrograms(): Promise<void> {
    const { log } = this.options;
    // BpfProgram resources are watched where Kubernetes is (the same decision as for labels).
    if (!this.options.programs?.length && !this.enricher.kubernetesWanted) return;
    let connection;
    if (this.enricher.kubernetesWanted) {
      const kubeconfig = this.options.enrich?.kubeconfig;
      try {
        connection = kubeconfig ? await kubeconfigConnection(kubeconfig) : await (await import('../programs/watch.js')).inClusterConnection();
      } catch (err) {
        log.warn({ err: (err as Error).message }, `BpfProgram resources are not watched: ${(err as Error).message}`);
      }
    }
    if (!this.options.programs?.length && !connection) return;
    const { startPrograms } = await import('../programs/exporter.js');
    const { EnricherPodIndex } = await import('./enrich/program-pods.js');
    const pods = new EnricherPodIndex(() => this.enricher.k8s?.index);
    this.programs = startPrograms(this.options.programs ?? [], log, () => this.stats !== undefined, pods);
    if (connection) {
      const { BpfProgramWatcher } = await import('../programs/watch.js');
      this.programWatcher = new BpfProgramWatcher({ connection, node: this.options.enrich?.nodeName ?? process.env.NODE_NAME ?? hostname(), registry: this.programs, log });
      this.programWatcher.start();
      log.info({ server: connection.server }, 'watching BpfProgram resources');
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

  /** One interval: take in pending events, read the connection map, update edges and self-metrics. */
  async tick(): Promise<void> {
    const tracer = this.tracer;
    if (!tracer) return;
    const end = this.self.intervalSeconds.startTimer();
    await tracer.events.flush();
    const lost = tracer.eventsLost();
    const sweep = lost > this.lostSeen;
    this.lostSeen = lost;
    const batch = tracer.conns.readAll();
    this.tracker.handleSnapshot(batch, sweep);
    this.readOrphanResets(tracer);
    this.ticks++;
    if (this.ticks % 60 === 0) {
      this.edges.evictIdle(this.options.edgeIdleMs);
      // Ring buffer batches are allocated on the consumer threads' malloc arenas and freed from this
      // one: under bursts the arenas keep the peak resident unless trimmed now and then.
      trimNativeHeap();
    }
    this.enricher.tick().catch((err: unknown) => {
      this.self.errors.inc({ stage: 'enrich' });
      this.options.log.error({ err }, 'enrichment failed');
    });
    this.updateSelfMetrics(tracer, batch.count, lost);
    if (this.flows) {
      try {
        await this.flows.tick(this.stats !== undefined);
      } catch (err) {
        this.self.errors.inc({ stage: 'flows' });
        this.options.log.error({ err }, 'flows interval failed');
      }
    }
    this.lastTickMs = Date.now();
    end();
  }

  private readonly orphanView = new OrphanResetKeyView();

  /** Resets sent for packets no socket owned: drained each interval into server-role edges. */
  private readOrphanResets(tracer: TcpTracer): void {
    const b = tracer.orphanResets.readAll({ drain: true });
    for (let i = 0; i < b.count; i++) {
      const k = this.orphanView.at(b.keys, b.keyOffset(i));
      const n = codec.readU64(b.values, b.valueOffset(i));
      const edge = this.edges.get({ role: 'server', process: '', cgroup: '', peer: formatAddr(k.family, k.raddr), port: k.lport });
      edge.resetsSent += n;
      edge.touch();
    }
  }

  private updateSelfMetrics(tracer: TcpTracer, conns: number, lost: number): void {
    const s = this.self;
    s.mapEntries.set({ map: 'conns' }, conns);
    if (this.ticks % 10 === 1) s.mapEntries.set({ map: 'listeners' }, tracer.listeners.readAll().count);
    s.mirror(s.eventsLost, { source: 'ringbuf' }, lost);
    s.mirror(s.eventsLost, { source: 'recursion' }, tracer.recursionMisses());
    for (const [source, n] of Object.entries(tracer.dropCounts())) s.mirror(s.eventsLost, { source }, n);
    if (this.ndjson) s.mirror(s.eventsLost, { source: 'ndjson' }, this.ndjson.dropped);
    s.mirror(s.rolledUp, {}, this.edges.rolledUp);
    s.mirror(s.inferred, { event: 'open' }, this.tracker.stats.opensInferred);
    s.mirror(s.inferred, { event: 'close' }, this.tracker.stats.closesInferred);
    s.edges.set(this.edges.size);
    s.tracked.set(this.tracker.size);
    if (this.stats) {
      for (const p of tracer.programStats()) {
        s.mirror(s.bpfRunSeconds, { program: p.program }, p.runTimeNs / 1e9);
        s.mirror(s.bpfRuns, { program: p.program }, p.runCount);
      }
    }
  }

  private async renderMetrics(): Promise<string> {
    const out: string[] = [];
    this.edges.render(out);
    this.flows?.render(out);
    out.push('');
    return (await this.self.registry.metrics()) + out.join('\n') + (this.programs?.render() ?? '');
  }

  private health(): { ok: boolean; detail: Record<string, unknown> } {
    const ageMs = Date.now() - this.lastTickMs;
    return {
      ok: this.tracer !== undefined && ageMs < this.options.intervalMs * 5 + 2000,
      detail: { lastIntervalAgeMs: ageMs, intervals: this.ticks, trackedConnections: this.tracker.size, edges: this.edges.size },
    };
  }

  capabilities(): unknown {
    const tracer = this.tracer;
    return {
      node: hostname(),
      kernel: release(),
      agent: { version: VERSION, startedAt: this.startedAt.toISOString(), intervalMs: this.options.intervalMs },
      tcp: {
        hooks: tracer?.report.map((r) => ({ group: r.group, what: r.what, hook: r.kind ?? null, programs: r.programs, fallbacks: r.fallbacks })) ?? [],
        serverOwner: tracer?.report.find((r) => r.group === 'accept')?.kind
          ? 'accepting process (accept hooks)'
          : "listening socket's owner (accept hooks unavailable)",
        mapReads: tracer ? { conns: tracer.conns.mode } : {},
        listenersBootstrapped: this.listenersBootstrapped,
      },
      flows: this.flows?.capabilities() ?? null,
      bpfStats: this.stats !== undefined,
      ...(this.programs ? { programs: this.programs.statuses() } : {}),
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
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.programWatcher?.stop();
    this.programs?.close();
    this.enricher.stop();
    this.stats?.close();
    await this.flows?.stop();
    this.flows = undefined;
    this.tracer?.close();
    this.tracer = undefined;
  }
}

/** The API server and bearer token of a kubeconfig's current context, for the BpfProgram watcher. */
async function kubeconfigConnection(path: string): Promise<{ server: string; token?: string }> {
  const { loadKubeConfig } = await import('./enrich/k8s.js');
  const kc = loadKubeConfig(path);
  const server = kc.getCurrentCluster()!.server;
  const token = kc.getCurrentUser()?.token;
  return { server, ...(token ? { token } : {}) };
}
