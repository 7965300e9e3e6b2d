// FlowTracer: the packet-level tracer. Loads bpf/flows.bpf.o (TC classifier, drop hook, DNS
// capture), attaches the classifier to the interfaces as they come and go, and every interval
// hands the kernel's counts to the readers: per flow or per edge, drops, DNS. Counts land in the
// flow and drop tables; the Prometheus exporter renders them.
import type { Logger } from 'pino';
import { BpfObject, VerifierError, codec, type MapReader, type ProgramRunStats, type RingBufReader, type RecordBatch } from '../../bpf/index.js';
import { repoPath } from '../../lib/paths.js';
import { layout, FlowCounter, EdgeTableLayout, edgeRetireArgsCodec } from '../../bpf/gen/flows.gen.js';
import type { DropIdentity, FlowEdgeIdentity } from '../../model/edge.js';
import type { FlowCapabilities } from '../../model/capabilities.js';
import type { FlowRecord } from '../../model/records.js';
import type { WorkloadOf } from '../../model/workload.js';
import { EdgeTable } from '../edges/table.js';
import { dropEdgeKind, type DropEdge } from '../drops/edge.js';
import { DropReader } from '../drops/reader.js';
import { flowEdgeKind, type FlowEdge } from './edge.js';
import { CACHE_FLUSH_PROGRAM, EdgeCacheFlusher, edgeCacheChoice, type EdgeCacheChoice } from './edge-cache.js';
import { EdgeReader } from './edge-reader.js';
import { EDGE_TABLE_RETIRE_PROGRAM, EdgeTableReader, edgeTableSlots } from './edge-table.js';
import { FlowReader } from './flow-reader.js';
import { FlowEdges, MapPressure } from './identity.js';
import { InterfaceWatcher } from './interfaces.js';
import { ephemeralRangeIn, type PortRange } from '../edges/ports.js';

export const FLOWS_OBJECT = repoPath('bpf/.output/flows.bpf.o');
const TC_PROGRAMS = ['flow_in', 'flow_out', 'flow_l3_in', 'flow_l3_out'];

export interface FlowTracerOptions {
  /** Interfaces to watch (default: every interface of this network namespace but loopback). */
  interfaces?: RegExp;
  /**
   * Another network namespace (--netns): the classifier goes on its interfaces, and the drop hook
   * counts only its drops (`inode` filters them in the kernel). DNS comes from the classifier.
   */
  netns?: { path: string; inode: number };
  tcMode?: 'auto' | 'tcx' | 'legacy';
  /** Flows in the kernel map (beyond: spilled to the agent through a ring buffer); also the edge map's size. */
  maxFlows?: number;
  /**
   * Count per flow (5-tuple) in the kernel, for flow records (default); false: count per edge only,
   * which is all the metrics need (fewer entries, fewer cache misses per packet, less to read).
   */
  trackFlows?: boolean;
  /**
   * Edge mode: count through the per-CPU edge cache in front of the edge map (default: without the
   * edge table, where the kernel can run the cache's flush on each CPU, Linux 5.10+; true: also in
   * front of the table).
   */
  edgeCache?: boolean;
  /**
   * Edge mode: count in the edge table (one slot per edge and CPU in an open-addressed array, the per-CPU
   * hash as its overflow) (default: where its eviction program loads, Linux 5.17+ for bpf_loop).
   */
  edgeTable?: boolean;
  /** A flow without packets for this long leaves the kernel map (and is exported as a record). */
  idleTimeoutMs?: number;
  /** A flow still going is exported (counts since its last record) at least this often (0: only at its end). */
  activeTimeoutMs?: number;
  maxSeries?: number;
  drops?: boolean;
  dns?: boolean;
  /** Receives each finished flow (idle, or at stop). */
  onFlowEnd?: (r: FlowRecord) => void;
  /** Receives DNS packets as they arrive (decoder: dns/). */
  onDns?: (batch: RecordBatch) => void;
  /** The DNS name of an address, when known (peer_dns). */
  dnsName?: (addr: string) => string;
  /** The workload that owns an address (pod IP, service IP...), when known: names both ends of a drop. */
  workloadOf?: WorkloadOf;
  log: Logger;
}

/** The flow tracer's own counts, for self-metrics. */
export interface FlowTracerStats {
  spilled: number;
  lost: Record<string, number>;
  dropsWithoutAddresses: number;
  /** The drop map's entries and those taken out after idling; undefined without the drop hook. */
  dropEntries?: { live: number; evicted: number };
  nonIp: number;
  flows: number;
  edgeEntries: number;
  evicted: number;
  pressureIntervals: number;
  cache: { retries: number; deferred: number; pending: number; errors: number } | undefined;
  table: { slots: number; live: number; retireErrors: number } | undefined;
  interfaces: number;
  linkOverruns: number;
  rolledUp: number;
}

function reasonOf(err: unknown): string {
  if (err instanceof VerifierError) return `rejected by the verifier: ${err.reason}`;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

export class FlowTracer {
  readonly edges: EdgeTable<FlowEdgeIdentity, FlowEdge>;
  readonly drops: EdgeTable<DropIdentity, DropEdge>;
  readonly interfaces: InterfaceWatcher;
  readonly dnsRing: RingBufReader | undefined;
  readonly trackFlows: boolean;
  private readonly counters: MapReader<number, number>;
  private readonly spills: RingBufReader;
  private readonly flowReader: FlowReader | undefined;
  private readonly edgeReader: EdgeReader | undefined;
  private readonly tableReader: EdgeTableReader | undefined;
  private readonly tablePressure: MapPressure;
  private readonly dropReader: DropReader | undefined;
  private readonly cache: EdgeCacheFlusher | undefined;
  private readonly pressure: MapPressure;
  private readonly kernelCounters = new Float64Array(8);
  private readonly idleNs: number;
  private readonly activeNs: number;
  private readonly countingMap: MapReader<Uint8Array, Uint8Array>;

  private constructor(
    private readonly obj: BpfObject,
    readonly dropHook: { program: string | undefined; fallbacks: string[] },
    private readonly options: FlowTracerOptions,
    readonly edgeCache: EdgeCacheChoice,
    readonly edgeTable: { on: boolean; why: string },
    ports: PortRange,
  ) {
    const log = options.log;
    this.trackFlows = options.trackFlows !== false;
    this.idleNs = (options.idleTimeoutMs ?? 15_000) * 1e6;
    this.activeNs = (options.activeTimeoutMs ?? 0) * 1e6;
    this.counters = obj.map('flow_counters', codec.u32, codec.u64);
    const maxSeries = options.maxSeries ?? 10000;
    this.edges = new EdgeTable(flowEdgeKind, { maxSeries });
    this.drops = new EdgeTable(dropEdgeKind, { maxSeries });
    this.interfaces = new InterfaceWatcher(obj, {
      include: options.interfaces,
      netns: options.netns?.path,
      tcMode: options.tcMode ?? 'auto',
      onAttach: (i) => log.info({ interface: i.name, ifindex: i.ifindex, mode: i.mode }, `flows: attached to ${i.name} (${i.mode})`),
      onDetach: (i) => log.info({ interface: i.name }, `flows: released ${i.name}`),
    });
    const interfaceName = (ifindex: number): string => this.interfaces.nameOf(ifindex);
    const flowEdges = new FlowEdges(this.edges, ports, interfaceName, options.dnsName);
    this.pressure = new MapPressure(this.idleNs, (entries, maxEntries, idleTimeoutMs) =>
      log.warn({ entries, maxEntries, idleTimeoutMs }, `flows: the ${this.trackFlows ? 'flow' : 'edge'} map is filling up; idle flows leave sooner until it empties (raise --max-flows if this persists; said at most every 5 minutes, counted in flowscope_agent_flow_map_pressure_intervals_total)`),
    );
    // The table's own pressure (its fill shortens its idle timeout), warned about as the map's.
    this.tablePressure = new MapPressure(this.idleNs, (entries, maxEntries, idleTimeoutMs) =>
      log.warn({ entries, maxEntries, idleTimeoutMs }, 'flows: the edge table is filling up; idle edges leave sooner until it empties (raise --max-flows if this persists; said at most every 5 minutes, counted in flowscope_agent_flow_map_pressure_intervals_total)'),
    );
    this.countingMap = obj.map(this.trackFlows ? 'flows' : 'edges');
    if (this.trackFlows) this.flowReader = new FlowReader(this.countingMap, flowEdges, this.pressure, { idleNs: this.idleNs, activeNs: this.activeNs, onFlowEnd: options.onFlowEnd, interfaceName });
    else this.edgeReader = new EdgeReader(this.countingMap, flowEdges, this.pressure);
    if (!this.trackFlows && edgeTable.on)
      this.tableReader = new EdgeTableReader(obj.map('edge_table'), obj.map('edge_retire', codec.u32, edgeRetireArgsCodec), obj.program(EDGE_TABLE_RETIRE_PROGRAM), flowEdges, this.tablePressure);
    this.cache = edgeCache.on ? new EdgeCacheFlusher(obj.program(CACHE_FLUSH_PROGRAM), log) : undefined;
    this.dropReader = dropHook.program ? new DropReader({ drops: obj.map('drops'), drains: obj.map('drop_drains'), overflow: obj.map('drop_overflow') }, this.drops, options.workloadOf) : undefined;
    // A batch whose handling fails is logged (the first, then every 1000th) and counted as lost.
    const failed = (ring: string) => (err: unknown) => {
      const n = ring === 'flow_spills' ? this.spills.handlerErrors : (this.dnsRing?.handlerErrors ?? 0);
      if (n === 1 || n % 1000 === 0) log.error({ err, ring, failures: n }, `flows: handling a ${ring} batch failed`);
    };
    const reader = this.flowReader ?? this.edgeReader!;
    const onSpills = (batch: RecordBatch): void => {
      const nowMs = Date.now();
      batch.forEach((view, off) => reader.onSpill(view, off, nowMs));
    };
    this.spills = obj.ringBuffer('flow_spills', { handler: onSpills, onHandlerError: failed('flow_spills'), maxPendingBatches: 64 });
    this.dnsRing = options.dns && options.onDns ? obj.ringBuffer('dns_packets', { handler: options.onDns, onHandlerError: failed('dns_packets'), maxPendingBatches: 256, overflow: 'drop' }) : undefined;
  }

  static open(options: FlowTracerOptions): FlowTracer {
    const fallbacks: string[] = [];
    // The service port of a flow is told apart from ephemeral ones by its namespace's range.
    const ports = ephemeralRangeIn(options.netns?.path);
    const trackFlows = options.trackFlows !== false;
    const maxFlows = options.maxFlows ?? 65536;
    const dropCandidates = options.drops === false ? [undefined] : ['drop_btf', 'drop_raw', undefined];
    let table = trackFlows
      ? { on: false, why: 'counting per flow (flow records are on): the table is for edges' }
      : options.edgeTable === false
        ? { on: false, why: 'turned off' }
        : { on: true, why: `${edgeTableSlots(maxFlows)} slots of 64 bytes, a slot per edge and CPU, open addressing (${EdgeTableLayout.EDGE_PROBE} probes), the per-CPU edge map as its overflow` };
    let cache = edgeCacheChoice(trackFlows, options.edgeCache, table.on, options.log);
    // Benchmarks only: a pinned map switches the classifier and the drop hook on and off (bench/flows-pps.ts).
    const benchGate = process.env.FLOWSCOPE_BENCH_GATE;
    for (let i = 0; i < dropCandidates.length; ) {
      const drop = dropCandidates[i];
      const programs = [...TC_PROGRAMS, ...(drop ? [drop] : []), ...(cache.on ? [CACHE_FLUSH_PROGRAM] : []), ...(table.on ? [EDGE_TABLE_RETIRE_PROGRAM] : [])];
      const slots = table.on ? edgeTableSlots(maxFlows) : 1;
      const obj = BpfObject.open(FLOWS_OBJECT, {
        name: 'flowscope_flows',
        layout,
        programs,
        globals: { enable_dns: options.dns === false ? 0 : 1, track_flows: trackFlows ? 1 : 0, edge_cache: cache.on ? 1 : 0, eph_low: ports.low, eph_high: ports.high, bench_gated: benchGate ? 1 : 0, only_netns: options.netns?.inode ?? 0, edge_table_mask: table.on ? slots - 1 : 0 },
        ...(benchGate ? { reuseMaps: { bench_gate: benchGate } } : {}),
        // Only the maps this mode counts in get their size (the others are never written).
        maxEntries: { flows: trackFlows ? maxFlows : 1, edges: trackFlows ? 1 : maxFlows, edge_table: slots, ...(cache.on ? {} : { edge_slots: 1 }) },
      });
      try {
        obj.load();
        if (drop === 'drop_btf') obj.program(drop).attachTrace();
        else if (drop === 'drop_raw') obj.program(drop).attachRawTracepoint('kfree_skb');
        const tracer = new FlowTracer(obj, { program: drop, fallbacks }, options, cache, table, ports);
        tracer.interfaces.scan();
        return tracer;
      } catch (err) {
        obj.close();
        if (cache.on && err instanceof VerifierError && err.program === CACHE_FLUSH_PROGRAM) {
          cache = { on: false, why: `its flush program was ${reasonOf(err)}` };
          options.log.warn({ err: reasonOf(err) }, "flows: the edge cache's flush cannot load; counting edges without the cache");
          continue;
        }
        if (table.on && err instanceof VerifierError && err.program === EDGE_TABLE_RETIRE_PROGRAM) {
          table = { on: false, why: `its eviction program was ${reasonOf(err)}` };
          options.log.warn({ err: reasonOf(err) }, "flows: the edge table's eviction cannot load; counting edges in the per-CPU edge map");
          cache = edgeCacheChoice(trackFlows, options.edgeCache, false, options.log);
          continue;
        }
        if (drop === undefined) throw err;
        fallbacks.push(`${drop}: ${reasonOf(err)}`);
        options.log.warn({ program: drop, err: reasonOf(err) }, 'flows: drop hook unavailable, trying the next');
        i++;
      }
    }
    throw new Error('unreachable');
  }

  /** One interval: interfaces, flows or edges (deltas into edges, idle eviction), drops. */
  async tick(): Promise<void> {
    this.interfaces.scan();
    await this.spills.flush();
    if (this.flowReader) this.flowReader.read();
    else {
      this.cache?.flush();
      this.edgeReader!.read();
      this.tableReader?.read();
    }
    for (let c = 0; c < 6; c++) this.kernelCounters[c] = this.counters.sumPerCpuU64(c);
    this.dropReader?.read(this.kernelCounters[FlowCounter.FC_DROP_MAP_FULL]!);
  }

  /** Forgets edges and drops without traffic for `idleMs` (their series disappear, as Prometheus expects of gone peers). */
  evictIdle(idleMs: number): void {
    this.edges.evictIdle(idleMs);
    this.drops.evictIdle(idleMs);
  }

  stats(): FlowTracerStats {
    const c = this.kernelCounters;
    const spills = this.spills.stats();
    return {
      spilled: c[FlowCounter.FC_SPILLED]!,
      lost: {
        spill_ring: c[FlowCounter.FC_SPILL_LOST]!,
        spill_reader: spills.dropped,
        dns_ring: c[FlowCounter.FC_DNS_LOST]!,
        dns_reader: this.dnsRing?.stats().dropped ?? 0,
        spill_handler: this.spills.handlerErrors,
        dns_handler: this.dnsRing?.handlerErrors ?? 0,
      },
      dropsWithoutAddresses: c[FlowCounter.FC_DROP_MAP_FULL]!,
      dropEntries: this.dropReader ? { live: this.dropReader.live, evicted: this.dropReader.evicted } : undefined,
      nonIp: c[FlowCounter.FC_NON_IP]!,
      flows: this.flowReader?.size ?? 0,
      edgeEntries: (this.edgeReader?.size ?? 0) + (this.tableReader?.live ?? 0),
      evicted: (this.flowReader?.evicted ?? 0) + (this.edgeReader?.evicted ?? 0) + (this.tableReader?.evicted ?? 0),
      pressureIntervals: this.pressure.intervals + this.tablePressure.intervals,
      cache: this.cache ? { retries: this.cache.retries, deferred: this.cache.deferred, pending: this.cache.pending, errors: this.cache.errors } : undefined,
      table: this.tableReader ? { slots: this.tableReader.size, live: this.tableReader.live, retireErrors: this.tableReader.errors } : undefined,
      interfaces: this.interfaces.count,
      linkOverruns: this.interfaces.linkEvents()?.overruns ?? 0,
      rolledUp: this.edges.rolledUp,
    };
  }

  capabilities(): Omit<FlowCapabilities, 'dns' | 'records'> {
    const interfaces = this.interfaces.report();
    const ns = this.options.netns;
    return {
      namespace: ns ? { path: ns.path, inode: ns.inode } : null,
      interfaces,
      hiddenTrafficPossible: interfaces.some((i) => i.others?.some((o) => o.canHide)),
      drops: { hook: this.dropHook.program ?? null, fallbacks: this.dropHook.fallbacks, reasons: this.dropReader?.reasons.source ?? 'drops off' },
      flowMap: {
        type: 'percpu_hash',
        counting: this.trackFlows ? 'per flow (5-tuple): flow records are on' : 'per edge (peer, service port, protocol, interface, direction): no flow records asked for',
        maxEntries: this.countingMap.maxEntries,
        reads: this.countingMap.mode,
        idleTimeoutMs: this.idleNs / 1e6,
        activeTimeoutMs: this.activeNs / 1e6,
        edgeCache: { enabled: this.edgeCache.on, detail: this.edgeCache.why, cpus: this.cache?.cpuCount ?? 0 },
        edgeTable: { enabled: this.tableReader !== undefined, detail: this.edgeTable.why, slots: this.tableReader?.size ?? 0, live: this.tableReader?.live ?? 0 },
      },
      linkEvents: this.interfaces.linkEvents() ?? null,
    };
  }

  /** Kernel run-time statistics of the attached programs. */
  programStats(): ProgramRunStats[] {
    const names = [...TC_PROGRAMS, ...(this.dropHook.program ? [this.dropHook.program] : [])];
    return names.map((p) => this.obj.program(p).runStats());
  }

  /** Final state: every flow still open is exported as a record. */
  flushRecords(): void {
    this.flowReader?.flushRecords();
  }

  close(): void {
    this.interfaces.close();
    this.spills.close();
    this.dnsRing?.close();
    this.obj.close();
  }
}
