// Edge mode (no flow records asked for): the kernel counts per edge; every interval the edge map's
// counter growth goes into the edges, and idle entries leave the kernel map (the edge's counters
// live on in the agent; a later packet starts a new kernel entry from 0).
import { codec, type MapReader } from '../../bpf/index.js';
import { EdgeKeyView, FlowKeyView } from '../../bpf/gen/flows.gen.js';
import { monotonicNowNs } from '../../lib/clock.js';
import { creditEdge, type FlowEdge } from './edge.js';
import { EntryReader } from './entry-reader.js';
import { keyHash, keyWords, type Indexed } from './flow-index.js';
import type { FlowEdges, MapPressure } from './identity.js';

/** An entry of the kernel's edge map, with what was taken from it so far. */
interface EdgeState extends Indexed {
  edge: FlowEdge;
  packets: number;
  bytes: number;
  read: number;
}

const EDGE_KEY_SIZE = 28;

export class EdgeReader extends EntryReader<EdgeState> {
  private readonly keyView = new EdgeKeyView();
  private readonly flowKeyView = new FlowKeyView();

  constructor(map: MapReader<Uint8Array, Uint8Array>, edges: FlowEdges, pressure: MapPressure) {
    super(map, edges, pressure, EDGE_KEY_SIZE);
  }

  /** A packet whose edge found the map full, through the spill ring: its edge counts it. */
  override onSpill(view: DataView, off: number, nowMs: number): void {
    const s = this.spillView.at(view, off);
    const edge = this.edges.ofFlow(this.flowKeyView.at(view, off), nowMs);
    edge.packets += s.stats.packets;
    edge.bytes += s.stats.bytes;
    edge.lastActivityMs = nowMs;
  }

  override read(): void {
    const read = ++this.reads;
    const batch = this.map.readAll();
    const keys = Buffer.from(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
    const vals = batch.values;
    const nowMs = Date.now();
    const nowNs = monotonicNowNs();
    const idleNs = this.pressure.idleTimeoutNs(batch.count, this.map.maxEntries, nowMs);
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
      let st = this.entries.get(batch.keys, ko, hash);
      if (!st) {
        st = { keyWords: keyWords(batch.keys, ko, EDGE_KEY_SIZE / 4), hash, next: undefined, edge: this.edges.ofEdgeKey(this.keyView.at(batch.keys, ko), nowMs), packets: 0, bytes: 0, read };
        this.entries.add(st);
      }
      creditEdge(st, packets, bytes, nowMs);
      st.read = read;
      if (last && nowNs - last > idleNs) this.evictions.push(keys, ko, st);
    }
    this.evictions.deleteFrom(this.map, (st) => {
      this.entries.remove(st);
      this.evicted++;
    });
    let gone: EdgeState[] | undefined;
    for (const st of this.entries.values()) if (st.read !== read) (gone ??= []).push(st);
    if (gone) for (const st of gone) this.entries.remove(st);
  }
}
