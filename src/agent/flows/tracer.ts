// FlowTracer: the packet-level flow agent. Loads bpf/flows.bpf.o, attaches the TC classifier to the
// interfaces as they come and go, reads the flow map every interval (batch lookups, no deletion),
// turns per-flow counter growth into per-edge counters, evicts idle flows, and counts drops by the
// kernel's reason. Started and stopped by the agent; renders into the agent's /metrics.
import type { Logger } from 'pino';
import { BpfObject, BpfError, VerifierError, codec, type MapReader, type Program, type ProgramRunStats, type RingBufReader, type RecordBatch } from '../../bpf/index.js';
import { onlineCpus } from '../../bpf/features.js';
import { probeRunOnCpu } from '../../bpf/probes.js';
import { repoPath } from '../../util/paths.js';
import { monotonicNowNs, monotonicToEpochMs } from '../../util/clock.js';
import { layout, FlowCounter, FlowDirection, FlowKeyView, FlowSpillView, DropKeyView, EdgeKeyView, DropOverflowLayout, DropProtoClass, EdgeCacheFlushResult, EdgeCacheLayout } from '../../bpf/gen/flows.gen.js';
import { formatAddr } from '../net/addr.js';
import { header, labelString, sample } from '../metrics/exposition.js';
import { FlowEdgeTable, type FlowEdge } from './edges.js';
import { workloadLabels, type AddressWorkload, type WorkloadOf } from './workload.js';
import { InterfaceWatcher, type InterfaceReport } from './interfaces.js';
import { ephemeralRange, servicePort, type PortRange } from './ports.js';
import { DropReasons } from './drop-reasons.js';
import { FLOW_METRICS, protocolName } from './metrics.js';
import { FlowIndex, KEY_SIZE, keyHash, keyProto, keyWords, PackedKeys, type Indexed } from './flow-index.js';

export const FLOWS_OBJECT = repoPath('bpf/.output/flows.bpf.o');
const TC_PROGRAMS = ['flow_in', 'flow_out', 'flow_l3_in', 'flow_l3_out'];
const CACHE_FLUSH = 'edge_cache_flush';

export interface FlowRecord {
  start: string;
  end: string;
  interface: string;
  ifindex: number;
  direction: 'ingress' | 'egress';
  protocol: string;
  proto: number;
  family: 4 | 6;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  packets: number;
  bytes: number;
  tcp_flags: number;
  /** The flow's first and last packet, CLOCK_MONOTONIC ns (for exporters that want them exact). */
  first_ns: number;
  last_ns: number;
  /**
   * false: an active-timeout record of a flow still going; packets and bytes are those since the
   * flow's previous record (IPFIX delta counts), and `start` is that record's end.
   */
  final: boolean;
}

export interface FlowTracerOptions {
  /** Interfaces to watch (default: every interface of this network namespace). */
  interfaces?: RegExp;
  tcMode?: 'auto' | 'tcx' | 'legacy';
  /** Flows in the kernel map (beyond: spilled to the agent through a ring buffer); also the edge map's size. */
  maxFlows?: number;
  /**
   * Count per flow (5-tuple) in the kernel, for flow records (default); false: count per edge only,
   * which is all the metrics need (fewer entries, fewer cache misses per packet, less to read).
   */
  trackFlows?: boolean;
  /**
   * Edge mode: count through the per-CPU edge cache in front of the edge map (default: where the
   * kernel can run the cache's flush on each CPU, Linux 5.10+).
   */
  edgeCache?: boolean;
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

interface FlowState extends Indexed {
  edge: FlowEdge;
  packets: number;
  bytes: number;
  firstNs: number;
  lastNs: number;
  flags: number;
  /** Counted in the kernel map (else only from spilled packets). */
  inKernel: boolean;
  /** Packets and bytes that arrived spilled before the flow found room in the kernel map. */
  spilledPackets: number;
  spilledBytes: number;
  /** Counts and time of the flow's last record. */
  exportedPackets: number;
  exportedBytes: number;
  exportedNs: number;
  tick: number;
}

/** An entry of the kernel's edge map (edge mode), with what was taken from it so far. */
interface EdgeState extends Indexed {
  edge: FlowEdge;
  packets: number;
  bytes: number;
  tick: number;
}

const EDGE_KEY_SIZE = 28;

const IPPROTO_TCP = 6;
const TCP_FIN = 0x01;
const TCP_RST = 0x04;
/** How long a finished TCP flow stays in the kernel map without packets (its last ACKs). */
const CLOSED_QUIET_NS = 2e9;
/** Map fill (fraction of max entries) from which idle flows leave after 2 s, then after 0.5 s. */
const PRESSURE_LOW = 0.5;
const PRESSURE_LOW_IDLE_NS = 2e9;
const PRESSURE_HIGH = 0.75;
const PRESSURE_HIGH_IDLE_NS = 0.5e9;

interface DropEdge {
  labels: string;
  packets: number;
  lastMs: number;
}

/** Adds what a kernel entry's totals grew by since the last interval to its edge. */
function creditEdge(st: { edge: FlowEdge; packets: number; bytes: number }, packets: number, bytes: number, nowMs: number): void {
  const dp = packets - st.packets;
  const db = bytes - st.bytes;
  if (dp > 0 || db > 0) {
    st.edge.packets += dp;
    st.edge.bytes += db;
    st.edge.lastActivityMs = nowMs;
    st.packets = packets;
    st.bytes = bytes;
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof VerifierError) return `rejected by the verifier: ${err.reason}`;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

const ZERO_KEY = Buffer.alloc(4);

/** The labels of a drop series: reason, direction, protocol, peer and port, and both ends' names when known. */
function dropLabels(reason: string, received: boolean, protocol: string, peer: string, port: number, local: AddressWorkload | undefined, remote: AddressWorkload | undefined): string {
  return labelString([
    ['reason', reason],
    ['direction', received ? 'received' : 'sent'],
    ['protocol', protocol],
    ['peer_addr', peer],
    ['port', String(port)],
    ...workloadLabels(local),
    ...workloadLabels(remote, 'peer_'),
  ]);
}

/** Protocol label of a drop_overflow slot's protocol class (enum drop_proto_class). */
const OVERFLOW_PROTOCOLS: Record<number, string> = {
  [DropProtoClass.DPC_OTHER]: 'other',
  [DropProtoClass.DPC_TCP]: 'tcp',
  [DropProtoClass.DPC_UDP]: 'udp',
  [DropProtoClass.DPC_ICMP]: 'icmp',
  [DropProtoClass.DPC_ICMPV6]: 'icmpv6',
};

export class FlowTracer {
  private readonly flowsMap: MapReader<Uint8Array, Uint8Array>;
  private readonly dropsMap: MapReader<Uint8Array, Uint8Array> | undefined;
  private readonly counters: MapReader<number, number>;
  private readonly spills: RingBufReader;
  readonly dnsRing: RingBufReader | undefined;
  readonly interfaces: InterfaceWatcher;
  readonly edges: FlowEdgeTable;
  private readonly flowState = new FlowIndex<FlowState>();
  private readonly edgeState = new FlowIndex<EdgeState>(EDGE_KEY_SIZE / 4);
  private readonly edgesMap: MapReader<Uint8Array, Uint8Array>;
  private readonly edgeKeyView = new EdgeKeyView();
  readonly trackFlows: boolean;
  private readonly dropEdges = new Map<string, DropEdge>();
  private readonly reasons: DropReasons;
  private readonly ports: PortRange;
  private readonly idleNs: number;
  private readonly activeNs: number;
  private readonly keyView = new FlowKeyView();
  private readonly recordKeyView = new FlowKeyView();
  private readonly spillView = new FlowSpillView();
  private readonly dropView = new DropKeyView();
  private readonly dropDrains: MapReader<Uint8Array, Uint8Array> | undefined;
  private readonly dropOverflow: MapReader<Uint8Array, Uint8Array> | undefined;
  private drainGeneration = 0;
  private readonly drainValue = Buffer.alloc(8);
  /** Packets of each drop_overflow slot (summed over CPUs) already credited. */
  private readonly overflowCredited = new Float64Array(DropOverflowLayout.DROP_OVERFLOW_SLOTS);
  private overflowSeen = 0;
  private ticks = 0;
  evicted = 0;
  private underPressure = false;
  private pressureWarnedMs = 0;
  /** Intervals in which the flow map's fill shortened the idle timeout. */
  pressureIntervals = 0;
  /** Flows and edges leaving the kernel maps this interval, their keys packed for one batch delete. */
  private readonly flowEvictions = new PackedKeys<FlowState>(KEY_SIZE);
  private readonly edgeEvictions = new PackedKeys<EdgeState>(EDGE_KEY_SIZE);
  private readonly kernelCounters = new Float64Array(8);
  /** The edge cache's flush program (edge mode with the cache on), and its CPUs. */
  private readonly cacheFlush: Program | undefined;
  private cacheCpus: number[] = [];
  cacheRetries = 0;
  cacheDeferred = 0;
  cachePending = 0;
  cacheFlushErrors = 0;
  private constructor(
    private readonly obj: BpfObject,
    readonly dropHook: { program: string | undefined; fallbacks: string[] },
    private readonly options: FlowTracerOptions,
    readonly edgeCache: { on: boolean; why: string },
  ) {
    this.cacheFlush = edgeCache.on ? obj.program(CACHE_FLUSH) : undefined;
    if (this.cacheFlush) this.cacheCpus = onlineCpus();
    this.flowsMap = obj.map('flows');
    this.edgesMap = obj.map('edges');
    this.trackFlows = options.trackFlows !== false;
    this.counters = obj.map('flow_counters', codec.u32, codec.u64);
    this.dropsMap = dropHook.program ? obj.map('drops') : undefined;
    this.dropDrains = dropHook.program ? obj.map('drop_drains') : undefined;
    this.dropOverflow = dropHook.program ? obj.map('drop_overflow') : undefined;
    // A batch whose handling fails is logged (the first, then every 1000th) and counted as lost.
    const failed = (ring: string) => (err: unknown) => {
      const n = ring === 'flow_spills' ? this.spills.handlerErrors : (this.dnsRing?.handlerErrors ?? 0);
      if (n === 1 || n % 1000 === 0) options.log.error({ err, ring, failures: n }, `flows: handling a ${ring} batch failed`);
    };
    this.spills = obj.ringBuffer('flow_spills', { handler: (b) => this.onSpills(b), onHandlerError: failed('flow_spills'), maxPendingBatches: 64 });
    this.dnsRing = options.dns && options.onDns ? obj.ringBuffer('dns_packets', { handler: options.onDns, onHandlerError: failed('dns_packets'), maxPendingBatches: 256, overflow: 'drop' }) : undefined;
    this.edges = new FlowEdgeTable(options.maxSeries ?? 10000);
    this.reasons = new DropReasons();
    this.ports = ephemeralRange();
    this.idleNs = (options.idleTimeoutMs ?? 15_000) * 1e6;
    this.activeNs = (options.activeTimeoutMs ?? 0) * 1e6;
    this.interfaces = new InterfaceWatcher(obj, {
      include: options.interfaces,
      tcMode: options.tcMode ?? 'auto',
      onAttach: (i) => options.log.info({ interface: i.name, ifindex: i.ifindex, mode: i.mode }, `flows: attached to ${i.name} (${i.mode})`),
      onDetach: (i) => options.log.info({ interface: i.name }, `flows: released ${i.name}`),
    });
  }

  static open(options: FlowTracerOptions): FlowTracer {
    const fallbacks: string[] = [];
    const ports = ephemeralRange();
    const trackFlows = options.trackFlows !== false;
    const maxFlows = options.maxFlows ?? 65536;
    const dropCandidates = options.drops === false ? [undefined] : ['drop_btf', 'drop_raw', undefined];
    let cache = FlowTracer.edgeCacheChoice(options, trackFlows);
    for (let i = 0; i < dropCandidates.length; ) {
      const drop = dropCandidates[i];
      const programs = [...TC_PROGRAMS, ...(drop ? [drop] : []), ...(cache.on ? [CACHE_FLUSH] : [])];
      const obj = BpfObject.open(FLOWS_OBJECT, {
        name: 'flowscope_flows',
        layout,
        programs,
        globals: { enable_dns: options.dns === false ? 0 : 1, track_flows: trackFlows ? 1 : 0, edge_cache: cache.on ? 1 : 0, eph_low: ports.low, eph_high: ports.high },
        // Only the maps this mode counts in get their size (the others are never written).
        maxEntries: { flows: trackFlows ? maxFlows : 1, edges: trackFlows ? 1 : maxFlows, ...(cache.on ? {} : { edge_slots: 1 }) },
      });
      try {
        obj.load();
        if (drop === 'drop_btf') obj.program(drop).attachTrace();
        else if (drop === 'drop_raw') obj.program(drop).attachRawTracepoint('kfree_skb');
        const tracer = new FlowTracer(obj, { program: drop, fallbacks }, options, cache);
        tracer.interfaces.scan();
        return tracer;
      } catch (err) {
        obj.close();
        if (cache.on && err instanceof VerifierError && err.program === CACHE_FLUSH) {
          cache = { on: false, why: `its flush program was ${reasonOf(err)}` };
          options.log.warn({ err: reasonOf(err) }, 'flows: the edge cache\'s flush cannot load; counting edges without the cache');
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

  private static edgeCacheChoice(options: FlowTracerOptions, trackFlows: boolean): { on: boolean; why: string } {
    if (trackFlows) return { on: false, why: 'counting per flow (flow records are on): the cache is for edges' };
    if (options.edgeCache === false) return { on: false, why: 'turned off' };
    const probe = probeRunOnCpu();
    if (!probe.ok) {
      options.log.warn({ probe: probe.detail }, 'flows: this kernel cannot run a program on a chosen CPU (Linux 5.10+); counting edges without the per-CPU edge cache');
      return { on: false, why: `the kernel cannot run its flush on a chosen CPU (${probe.detail}; needs Linux 5.10+)` };
    }
    return { on: true, why: `${EdgeCacheLayout.EDGE_CACHE_SLOTS} slots per CPU, flushed into the edge map every interval` };
  }

  /**
   * Moves the edge cache's counts into the edge map: the flush program runs on each CPU (in an
   * interrupt there, or right here on the agent's own CPU). A try that interrupted the classifier
   * does nothing and is tried again; after that the flush waits for the next interval (counted).
   */
  private flushEdgeCache(prog: Program): void {
    let refresh = false;
    for (const cpu of this.cacheCpus) {
      let r: number = EdgeCacheFlushResult.ECF_BUSY;
      try {
        for (let tries = 0; tries < 8 && r & EdgeCacheFlushResult.ECF_BUSY; tries++) {
          if (tries) this.cacheRetries++;
          r = prog.testRun({ cpu }).retval;
        }
      } catch (err) {
        // ENXIO: the CPU went offline (its slots wait until it is back).
        if (err instanceof BpfError && err.code === 'ENXIO') {
          refresh = true;
          continue;
        }
        this.cacheFlushErrors++;
        if (this.cacheFlushErrors === 1 || this.cacheFlushErrors % 1000 === 0) this.options.log.error({ err, cpu, failures: this.cacheFlushErrors }, 'flows: flushing the edge cache failed');
        continue;
      }
      if (r & EdgeCacheFlushResult.ECF_BUSY) this.cacheDeferred++;
      if (r & EdgeCacheFlushResult.ECF_PENDING) this.cachePending++;
    }
    if (refresh || this.ticks % 60 === 0) this.cacheCpus = onlineCpus();
  }

  private identity(k: FlowKeyView): FlowEdge {
    const ingress = k.direction === FlowDirection.DIR_INGRESS;
    const peerBytes = ingress ? k.saddr : k.daddr;
    const peer = formatAddr(k.family, peerBytes);
    const icmp = k.proto === 1 || k.proto === 58;
    const local = ingress ? k.dport : k.sport;
    const remote = ingress ? k.sport : k.dport;
    return this.edges.get({
      direction: ingress ? 'ingress' : 'egress',
      protocol: protocolName(k.proto),
      interface: this.interfaces.nameOf(k.ifindex),
      peer,
      port: icmp || (k.proto !== 6 && k.proto !== 17 && k.proto !== 132) ? 0 : servicePort(local, remote, this.ports),
      peerDns: this.options.dnsName?.(peer) ?? '',
    });
  }

  private onSpills(batch: RecordBatch): void {
    const nowMs = Date.now();
    batch.forEach((view, off) => {
      const s = this.spillView.at(view, off);
      if (!this.trackFlows) {
        // Edge mode: the packet's edge counts it; no flow is followed.
        const edge = this.identity(this.keyView.at(view, off));
        edge.packets += s.stats.packets;
        edge.bytes += s.stats.bytes;
        edge.lastActivityMs = nowMs;
        return;
      }
      const hash = keyHash(view, off);
      let st = this.flowState.get(view, off, hash);
      if (!st) {
        st = { keyWords: keyWords(view, off), hash, next: undefined, edge: this.identity(this.keyView.at(view, off)), packets: 0, bytes: 0, firstNs: s.stats.first_ns, lastNs: 0, flags: 0, inKernel: false, spilledPackets: 0, spilledBytes: 0, exportedPackets: 0, exportedBytes: 0, exportedNs: 0, tick: this.ticks };
        this.flowState.add(st);
      }
      const p = s.stats.packets;
      const b = s.stats.bytes;
      st.packets += p;
      st.bytes += b;
      st.lastNs = Math.max(st.lastNs, s.stats.last_ns);
      st.flags |= s.stats.tcp_flags;
      if (!st.inKernel) st.tick = this.ticks;
      st.edge.packets += p;
      st.edge.bytes += b;
      st.edge.lastActivityMs = nowMs;
    });
  }

  /** One interval: interfaces, flows (deltas into edges), idle eviction, drops. */
  async tick(): Promise<void> {
    this.ticks++;
    this.interfaces.scan();
    await this.spills.flush();
    if (this.trackFlows) this.readFlows();
    else {
      if (this.cacheFlush) this.flushEdgeCache(this.cacheFlush);
      this.readEdges();
    }
    if (this.dropsMap) this.readDrops(this.dropsMap);
    for (let c = 0; c < 6; c++) this.kernelCounters[c] = this.counters.sumPerCpuU64(c);
    // Read only when drops found the map full since the last read (the array is per CPU, 4,096 slots).
    if (this.dropOverflow && this.kernelCounters[FlowCounter.FC_DROP_MAP_FULL]! > this.overflowSeen) {
      this.overflowSeen = this.kernelCounters[FlowCounter.FC_DROP_MAP_FULL]!;
      this.readDropOverflow(this.dropOverflow);
    }
    if (this.ticks % 60 === 0) {
      this.edges.evictIdle(10 * 60_000);
      const now = Date.now();
      for (const [k, d] of this.dropEdges) if (now - d.lastMs > 10 * 60_000) this.dropEdges.delete(k);
    }
  }

  private readFlows(): void {
    const batch = this.flowsMap.readAll();
    const keys = Buffer.from(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
    const vals = batch.values;
    const cpus = batch.cpus;
    const nowMs = Date.now();
    const nowNs = monotonicNowNs();
    const tick = this.ticks;
    const idleNs = this.idleUnderPressure(batch.count);
    for (let i = 0; i < batch.count; i++) {
      const ko = batch.keyOffset(i);
      const hash = keyHash(batch.keys, ko);
      let packets = 0;
      let bytes = 0;
      let first = 0;
      let last = 0;
      let flags = 0;
      for (let cpu = 0; cpu < cpus; cpu++) {
        const o = batch.valueOffset(i, cpu);
        packets += codec.readU64(vals, o);
        bytes += codec.readU64(vals, o + 8);
        const f = codec.readU64(vals, o + 16);
        if (f && (!first || f < first)) first = f;
        const l = codec.readU64(vals, o + 24);
        if (l > last) last = l;
        flags |= vals.getUint16(o + 32, true);
      }
      let st = this.flowState.get(batch.keys, ko, hash);
      if (!st || !st.inKernel) {

        // A spilled flow that later found room in the map: its spilled packets stay counted.
        const base = st;
        if (base) this.flowState.remove(base);
        st = {
          keyWords: base?.keyWords ?? keyWords(batch.keys, ko),
          hash,
          next: undefined,
          edge: base?.edge ?? this.identity(this.keyView.at(batch.keys, ko)),
          packets: base?.packets ?? 0,
          bytes: base?.bytes ?? 0,
          firstNs: base ? Math.min(base.firstNs || first, first || base.firstNs) : first,
          lastNs: last,
          flags: base?.flags ?? 0,
          inKernel: true,
          spilledPackets: base?.packets ?? 0,
          spilledBytes: base?.bytes ?? 0,
          exportedPackets: base?.exportedPackets ?? 0,
          exportedBytes: base?.exportedBytes ?? 0,
          exportedNs: base?.exportedNs ?? 0,
          tick,
        };
        this.flowState.add(st);
      }
      creditEdge(st, packets + st.spilledPackets, bytes + st.spilledBytes, nowMs);
      st.lastNs = last;
      st.flags |= flags;
      st.tick = tick;
      if (this.activeNs && st.packets > st.exportedPackets && nowNs - (st.exportedNs || st.firstNs) > this.activeNs) this.finish(st, false);
      // A TCP flow that saw FIN or RST is over: it leaves the map after a short quiet spell instead
      // of the idle timeout, so that connection churn (one flow per connection) cannot fill the map
      // and push every packet through the spill ring. A late packet simply starts a new flow.
      const quietNs = keyProto(st.keyWords) === IPPROTO_TCP && st.flags & (TCP_FIN | TCP_RST) ? Math.min(idleNs, CLOSED_QUIET_NS) : idleNs;
      if (last && nowNs - last > quietNs) this.flowEvictions.push(keys, ko, st);
    }
    // Evict idle flows: delete from the kernel in one call, export the records. (A packet arriving
    // between the read above and the delete is not counted: the flow was idle for the whole timeout,
    // so this is rare.)
    this.flowEvictions.deleteFrom(this.flowsMap, (st) => {
      this.flowState.remove(st);
      this.evicted++;
      this.finish(st);
    });
    // Flows gone from the map without us (or only ever spilled) and idle: finish them too.
    let gone: FlowState[] | undefined;
    for (const st of this.flowState.values()) {
      if (st.tick !== tick && (st.inKernel || nowNs - st.lastNs > this.idleNs)) (gone ??= []).push(st);
    }
    if (gone) {
      for (const st of gone) {
        this.flowState.remove(st);
        this.finish(st);
      }
    }
  }

  /** Edge mode: per-edge counter growth into the edges; idle entries leave the kernel map. */
  private readEdges(): void {
    const batch = this.edgesMap.readAll();
    const keys = Buffer.from(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
    const vals = batch.values;
    const nowMs = Date.now();
    const nowNs = monotonicNowNs();
    const tick = this.ticks;
    const idleNs = this.idleUnderPressure(batch.count, this.edgesMap.maxEntries);
    for (let i = 0; i < batch.count; i++) {
      const ko = batch.keyOffset(i);
      let packets = 0;
      let bytes = 0;
      let last = 0;
      for (let cpu = 0; cpu < batch.cpus; cpu++) {
        const o = batch.valueOffset(i, cpu);
        packets += codec.readU64(vals, o);
        bytes += codec.readU64(vals, o + 8);
        const l = codec.readU64(vals, o + 16);
        if (l > last) last = l;
      }
      const hash = keyHash(batch.keys, ko, EDGE_KEY_SIZE / 4);
      let st = this.edgeState.get(batch.keys, ko, hash);
      if (!st) {
        st = { keyWords: keyWords(batch.keys, ko, EDGE_KEY_SIZE / 4), hash, next: undefined, edge: this.edgeIdentity(this.edgeKeyView.at(batch.keys, ko)), packets: 0, bytes: 0, tick };
        this.edgeState.add(st);
      }
      creditEdge(st, packets, bytes, nowMs);
      st.tick = tick;
      if (last && nowNs - last > idleNs) this.edgeEvictions.push(keys, ko, st);
    }
    // The edge's counters live on in the agent; a later packet starts a new kernel entry from 0.
    this.edgeEvictions.deleteFrom(this.edgesMap, (st) => {
      this.edgeState.remove(st);
      this.evicted++;
    });
    let gone: EdgeState[] | undefined;
    for (const st of this.edgeState.values()) if (st.tick !== tick) (gone ??= []).push(st);
    if (gone) for (const st of gone) this.edgeState.remove(st);
  }

  private edgeIdentity(k: EdgeKeyView): FlowEdge {
    const peer = formatAddr(k.family, k.peer);
    return this.edges.get({
      direction: k.direction === FlowDirection.DIR_INGRESS ? 'ingress' : 'egress',
      protocol: protocolName(k.proto),
      interface: this.interfaces.nameOf(k.ifindex),
      peer,
      port: k.port,
      peerDns: this.options.dnsName?.(peer) ?? '',
    });
  }

  /**
   * The idle timeout for this interval. A map that fills up pushes every new flow through the spill
   * ring, one record per packet (a flood of new sources can do that within the idle timeout):
   * before that happens, idle flows leave sooner, as conntrack drops early under pressure.
   */
  private idleUnderPressure(flowsInMap: number, maxEntries = this.flowsMap.maxEntries): number {
    const fill = flowsInMap / maxEntries;
    const idleNs = fill >= PRESSURE_HIGH ? Math.min(this.idleNs, PRESSURE_HIGH_IDLE_NS) : fill >= PRESSURE_LOW ? Math.min(this.idleNs, PRESSURE_LOW_IDLE_NS) : this.idleNs;
    const under = idleNs < this.idleNs;
    if (under && !this.underPressure && Date.now() - this.pressureWarnedMs > 5 * 60_000) {
      this.pressureWarnedMs = Date.now();
      this.options.log.warn({ entries: flowsInMap, maxEntries, idleTimeoutMs: idleNs / 1e6 }, `flows: the ${this.trackFlows ? 'flow' : 'edge'} map is filling up; idle flows leave sooner until it empties (raise --max-flows if this persists; said at most every 5 minutes, counted in flowscope_agent_flow_map_pressure_intervals_total)`);
    }
    if (under) this.pressureIntervals++;
    this.underPressure = under;
    return idleNs;
  }

  private finish(st: FlowState, final = true): void {
    if (!this.options.onFlowEnd || st.packets <= st.exportedPackets) return;
    this.options.onFlowEnd(this.record(st, final));
    st.exportedPackets = st.packets;
    st.exportedBytes = st.bytes;
    st.exportedNs = st.lastNs;
  }

  record(st: FlowState, final = true): FlowRecord {
    // Decoded from the words kept for the index (no decoded key is kept per flow).
    const k = this.recordKeyView.at(new DataView(st.keyWords.buffer, st.keyWords.byteOffset, KEY_SIZE), 0);
    const startNs = st.exportedNs || st.firstNs;
    return {
      start: new Date(monotonicToEpochMs(startNs)).toISOString(),
      end: new Date(monotonicToEpochMs(st.lastNs)).toISOString(),
      interface: this.interfaces.nameOf(k.ifindex),
      ifindex: k.ifindex,
      direction: k.direction === FlowDirection.DIR_INGRESS ? 'ingress' : 'egress',
      protocol: protocolName(k.proto),
      proto: k.proto,
      family: k.family === 2 ? 4 : 6,
      saddr: formatAddr(k.family, k.saddr),
      daddr: formatAddr(k.family, k.daddr),
      sport: k.sport,
      dport: k.dport,
      packets: st.packets - st.exportedPackets,
      bytes: st.bytes - st.exportedBytes,
      tcp_flags: st.flags,
      first_ns: startNs,
      last_ns: st.lastNs,
      final,
    };
  }

  private readDrops(map: MapReader<Uint8Array, Uint8Array>): void {
    // Drained every interval: drops are rare enough that each (reason, addresses) entry lives briefly.
    const batch = map.readAll({ drain: true });
    // The map has room again: CPUs that found it full go back to inserting new keys.
    this.drainGeneration++;
    this.drainValue.writeBigUInt64LE(BigInt(this.drainGeneration));
    this.dropDrains?.set(ZERO_KEY, this.drainValue);
    const nowMs = Date.now();
    for (let i = 0; i < batch.count; i++) {
      const k = this.dropView.at(batch.keys, batch.keyOffset(i));
      let packets = 0;
      for (let cpu = 0; cpu < batch.cpus; cpu++) packets += codec.readU64(batch.values, batch.valueOffset(i, cpu));
      if (packets === 0) continue;
      const received = k.received === 1;
      const ip = k.family === 2 || k.family === 10;
      const peer = ip ? formatAddr(k.family, received ? k.saddr : k.daddr) : '';
      // Both ends named where the addresses allow: the local one (the packet's destination when it
      // came in, its source when it went out) and the peer.
      const local = ip && this.options.workloadOf ? this.options.workloadOf(formatAddr(k.family, received ? k.daddr : k.saddr)) : undefined;
      const remote = ip && this.options.workloadOf ? this.options.workloadOf(peer) : undefined;
      const tcpudp = k.proto === 6 || k.proto === 17;
      const port = tcpudp ? servicePort(received ? k.dport : k.sport, received ? k.sport : k.dport, this.ports) : 0;
      const labels = dropLabels(this.reasons.name(k.reason), received, ip ? protocolName(k.proto) : 'other', peer, port, local, remote);
      this.creditDrop(labels, packets, nowMs);
    }
  }

  /** Drops that found the drop map full, by reason, protocol class and direction (cumulative per slot). */
  private readDropOverflow(map: MapReader<Uint8Array, Uint8Array>): void {
    const batch = map.readAll();
    const nowMs = Date.now();
    const keys = batch.keys;
    for (let i = 0; i < batch.count; i++) {
      const slot = keys.getUint32(batch.keyOffset(i), true);
      let packets = 0;
      for (let cpu = 0; cpu < batch.cpus; cpu++) packets += codec.readU64(batch.values, batch.valueOffset(i, cpu));
      const delta = packets - this.overflowCredited[slot]!;
      if (delta <= 0) continue;
      this.overflowCredited[slot] = packets;
      const reason = slot >>> DropOverflowLayout.DROP_SLOT_REASON_SHIFT;
      const reasonName = reason === DropOverflowLayout.DROP_REASON_SLOTS - 1 ? 'other' : this.reasons.name(reason);
      const protocol = OVERFLOW_PROTOCOLS[(slot >>> DropOverflowLayout.DROP_SLOT_CLASS_SHIFT) & 7] ?? 'other';
      const labels = dropLabels(reasonName, (slot & 1) === 1, protocol, 'other', 0, undefined, undefined);
      this.creditDrop(labels, delta, nowMs);
    }
  }

  private creditDrop(labels: string, packets: number, nowMs: number): void {
    let d = this.dropEdges.get(labels);
    if (!d) {
      if (this.dropEdges.size >= (this.options.maxSeries ?? 10000)) {
        const rolled = labels.replace(/peer_addr="[^"]*"/, 'peer_addr="other"').replace(/port="\d+"/, 'port="0"');
        d = this.dropEdges.get(rolled) ?? { labels: rolled, packets: 0, lastMs: nowMs };
        this.dropEdges.set(rolled, d);
      } else {
        d = { labels, packets: 0, lastMs: nowMs };
        this.dropEdges.set(labels, d);
      }
    }
    d.packets += packets;
    d.lastMs = nowMs;
  }

  /** The flow, drop and self metrics, appended to the agent's exposition. */
  render(out: string[]): void {
    this.edges.render(out);
    header(out, FLOW_METRICS.drops);
    for (const d of this.dropEdges.values()) sample(out, FLOW_METRICS.drops.name, d.labels, d.packets);
    const M = FLOW_METRICS;
    const c = this.kernelCounters;
    header(out, M.spilled);
    sample(out, M.spilled.name, '', c[FlowCounter.FC_SPILLED]!);
    header(out, M.lost);
    sample(out, M.lost.name, 'source="spill_ring"', c[FlowCounter.FC_SPILL_LOST]!);
    sample(out, M.lost.name, 'source="spill_reader"', this.spills.stats().dropped);
    sample(out, M.lost.name, 'source="dns_ring"', c[FlowCounter.FC_DNS_LOST]!);
    sample(out, M.lost.name, 'source="dns_reader"', this.dnsRing?.stats().dropped ?? 0);
    sample(out, M.lost.name, 'source="spill_handler"', this.spills.handlerErrors);
    sample(out, M.lost.name, 'source="dns_handler"', this.dnsRing?.handlerErrors ?? 0);
    header(out, M.dropsWithoutAddresses);
    sample(out, M.dropsWithoutAddresses.name, '', c[FlowCounter.FC_DROP_MAP_FULL]!);
    header(out, M.nonIp);
    sample(out, M.nonIp.name, '', c[FlowCounter.FC_NON_IP]!);
    header(out, M.flows);
    sample(out, M.flows.name, '', this.flowState.size);
    header(out, M.edgeEntries);
    sample(out, M.edgeEntries.name, '', this.edgeState.size);
    header(out, M.evicted);
    sample(out, M.evicted.name, '', this.evicted);
    header(out, M.pressure);
    sample(out, M.pressure.name, '', this.pressureIntervals);
    if (this.cacheFlush) {
      header(out, M.cacheRetries);
      sample(out, M.cacheRetries.name, '', this.cacheRetries);
      header(out, M.cacheDeferred);
      sample(out, M.cacheDeferred.name, '', this.cacheDeferred);
      header(out, M.cachePending);
      sample(out, M.cachePending.name, '', this.cachePending);
      header(out, M.cacheFlushErrors);
      sample(out, M.cacheFlushErrors.name, '', this.cacheFlushErrors);
    }
    header(out, M.interfaces);
    sample(out, M.interfaces.name, '', this.interfaces.count);
    header(out, M.rolledUp);
    sample(out, M.rolledUp.name, '', this.edges.rolledUp);
  }

  capabilities(): { interfaces: InterfaceReport[]; hiddenTrafficPossible: boolean; drops: unknown; flowMap: unknown } {
    const interfaces = this.interfaces.report();
    return {
      interfaces,
      hiddenTrafficPossible: interfaces.some((i) => i.others?.some((o) => o.canHide)),
      drops: { hook: this.dropHook.program ?? null, fallbacks: this.dropHook.fallbacks, reasons: this.reasons.source },
      flowMap: { type: 'percpu_hash', counting: this.trackFlows ? 'per flow (5-tuple): flow records are on' : 'per edge (peer, service port, protocol, interface, direction): no flow records asked for', maxEntries: (this.trackFlows ? this.flowsMap : this.edgesMap).maxEntries, reads: this.flowsMap.mode, idleTimeoutMs: this.idleNs / 1e6, activeTimeoutMs: this.activeNs / 1e6, edgeCache: { enabled: this.edgeCache.on, detail: this.edgeCache.why, cpus: this.cacheCpus.length } },
    };
  }

  /** Kernel run-time statistics of the attached programs. */
  programStats(): ProgramRunStats[] {
    const names = [...TC_PROGRAMS, ...(this.dropHook.program ? [this.dropHook.program] : [])];
    return names.map((p) => this.obj.program(p).runStats());
  }

  /** Final state: every flow still open is exported as a record. */
  flushRecords(): void {
    for (const st of this.flowState.values()) this.finish(st);
    this.flowState.clear();
  }

  close(): void {
    this.interfaces.close();
    this.spills.close();
    this.dnsRing?.close();
    this.obj.close();
  }
}

