// Per-flow mode (flow records asked for): reads the kernel flow map every interval (batch lookups,
// no deletion), turns per-flow counter growth into per-edge counters, exports records of flows that
// end (idle, FIN/RST) or run past the active timeout, and takes in packets spilled through the ring
// buffer when the map was full.
import { codec, type MapReader } from '../../bpf/index.js';
import { FlowDirection, FlowKeyView } from '../../bpf/gen/flows.gen.js';
import { monotonicNowNs, monotonicToEpochMs } from '../../lib/clock.js';
import { formatAddr } from '../../model/addr.js';
import { protocolName } from '../../model/edge.js';
import type { FlowRecord } from '../../model/records.js';
import { creditEdge, type FlowEdge } from './edge.js';
import { EntryReader } from './entry-reader.js';
import { KEY_SIZE, keyHash, keyProto, keyWords, type Indexed } from './flow-index.js';
import type { FlowEdges, MapPressure } from './identity.js';

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
  /** The read that last saw it. */
  read: number;
}

const IPPROTO_TCP = 6;
const TCP_FIN = 0x01;
const TCP_RST = 0x04;
/** How long a finished TCP flow stays in the kernel map without packets (its last ACKs). */
const CLOSED_QUIET_NS = 2e9;

export interface FlowReaderOptions {
  idleNs: number;
  /** A flow still going is exported (counts since its last record) at least this often (0: only at its end). */
  activeNs: number;
  onFlowEnd?: (r: FlowRecord) => void;
  interfaceName: (ifindex: number) => string;
}

export class FlowReader extends EntryReader<FlowState> {
  private readonly keyView = new FlowKeyView();
  private readonly recordKeyView = new FlowKeyView();

  constructor(
    map: MapReader<Uint8Array, Uint8Array>,
    edges: FlowEdges,
    pressure: MapPressure,
    private readonly options: FlowReaderOptions,
  ) {
    super(map, edges, pressure, KEY_SIZE);
  }

  /** Packets that found the flow map full, as they arrive through the spill ring. */
  override onSpill(view: DataView, off: number, nowMs: number): void {
    const s = this.spillView.at(view, off);
    const hash = keyHash(view, off);
    let st = this.entries.get(view, off, hash);
    if (!st) {
      st = { keyWords: keyWords(view, off), hash, next: undefined, edge: this.edges.ofFlow(this.keyView.at(view, off), nowMs), packets: 0, bytes: 0, firstNs: s.stats.first_ns, lastNs: 0, flags: 0, inKernel: false, spilledPackets: 0, spilledBytes: 0, exportedPackets: 0, exportedBytes: 0, exportedNs: 0, read: this.reads };
      this.entries.add(st);
    }
    const p = s.stats.packets;
    const b = s.stats.bytes;
    st.packets += p;
    st.bytes += b;
    st.lastNs = Math.max(st.lastNs, s.stats.last_ns);
    st.flags |= s.stats.tcp_flags;
    if (!st.inKernel) st.read = this.reads;
    st.edge.packets += p;
    st.edge.bytes += b;
    st.edge.lastActivityMs = nowMs;
  }

  override read(): void {
    const read = ++this.reads;
    const batch = this.map.readAll();
    const keys = Buffer.from(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
    const vals = batch.values;
    const cpus = batch.cpus;
    const nowMs = Date.now();
    const nowNs = monotonicNowNs();
    const idleNs = this.pressure.idleTimeoutNs(batch.count, this.map.maxEntries, nowMs);
    const activeNs = this.options.activeNs;
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
      let st = this.entries.get(batch.keys, ko, hash);
      if (!st || !st.inKernel) {
        // A spilled flow that later found room in the map: its spilled packets stay counted.
        const base = st;
        if (base) this.entries.remove(base);
        st = {
          keyWords: base?.keyWords ?? keyWords(batch.keys, ko),
          hash,
          next: undefined,
          edge: base?.edge ?? this.edges.ofFlow(this.keyView.at(batch.keys, ko), nowMs),
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
          read,
        };
        this.entries.add(st);
      }
      creditEdge(st, packets + st.spilledPackets, bytes + st.spilledBytes, nowMs);
      st.lastNs = last;
      st.flags |= flags;
      st.read = read;
      if (activeNs && st.packets > st.exportedPackets && nowNs - (st.exportedNs || st.firstNs) > activeNs) this.finish(st, false);
      // A TCP flow that saw FIN or RST is over: it leaves the map after a short quiet spell instead
      // of the idle timeout, so that connection churn (one flow per connection) cannot fill the map
      // and push every packet through the spill ring. A late packet simply starts a new flow.
      const quietNs = keyProto(st.keyWords) === IPPROTO_TCP && st.flags & (TCP_FIN | TCP_RST) ? Math.min(idleNs, CLOSED_QUIET_NS) : idleNs;
      if (last && nowNs - last > quietNs) this.evictions.push(keys, ko, st);
    }
    // Evict idle flows: delete from the kernel in one call, export the records. (A packet arriving
    // between the read above and the delete is not counted: the flow was idle for the whole timeout,
    // so this is rare.)
    this.evictions.deleteFrom(this.map, (st) => {
      this.entries.remove(st);
      this.evicted++;
      this.finish(st);
    });
    // Flows gone from the map without us (or only ever spilled) and idle: finish them too.
    let gone: FlowState[] | undefined;
    for (const st of this.entries.values()) {
      if (st.read !== read && (st.inKernel || nowNs - st.lastNs > this.options.idleNs)) (gone ??= []).push(st);
    }
    if (gone) {
      for (const st of gone) {
        this.entries.remove(st);
        this.finish(st);
      }
    }
  }

  private finish(st: FlowState, final = true): void {
    if (!this.options.onFlowEnd || st.packets <= st.exportedPackets) return;
    this.options.onFlowEnd(this.record(st, final));
    st.exportedPackets = st.packets;
    st.exportedBytes = st.bytes;
    st.exportedNs = st.lastNs;
  }

  private record(st: FlowState, final: boolean): FlowRecord {
    // Decoded from the words kept for the index (no decoded key is kept per flow).
    const k = this.recordKeyView.at(new DataView(st.keyWords.buffer, st.keyWords.byteOffset, KEY_SIZE), 0);
    const startNs = st.exportedNs || st.firstNs;
    return {
      start: new Date(monotonicToEpochMs(startNs)).toISOString(),
      end: new Date(monotonicToEpochMs(st.lastNs)).toISOString(),
      interface: this.options.interfaceName(k.ifindex),
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

  /** Final state: every flow still open is exported as a record. */
  flushRecords(): void {
    for (const st of this.entries.values()) this.finish(st);
    this.entries.clear();
  }
}
