// What the two counting modes' readers share: an index of the kernel map's entries by key (no
// string per entry), the batch of entries to evict, the spill ring's record view, a read counter.
import type { MapReader } from '../../bpf/index.js';
import { FlowSpillView } from '../../bpf/gen/flows.gen.js';
import { FlowIndex, PackedKeys, type Indexed } from './flow-index.js';
import type { FlowEdges, MapPressure } from './identity.js';

export abstract class EntryReader<S extends Indexed> {
  protected readonly entries: FlowIndex<S>;
  protected readonly evictions: PackedKeys<S>;
  protected readonly spillView = new FlowSpillView();
  protected reads = 0;
  /** Entries removed from the kernel map after being idle. */
  evicted = 0;

  constructor(
    protected readonly map: MapReader<Uint8Array, Uint8Array>,
    protected readonly edges: FlowEdges,
    protected readonly pressure: MapPressure,
    keySize: number,
  ) {
    this.entries = new FlowIndex<S>(keySize / 4);
    this.evictions = new PackedKeys<S>(keySize);
  }

  /** Entries followed now. */
  get size(): number {
    return this.entries.size;
  }

  /** A packet that found the kernel map full, through the spill ring. */
  abstract onSpill(view: DataView, off: number, nowMs: number): void;

  /** Reads the kernel map: counter growth into edges, idle entries out. */
  abstract read(): void;
}
