// The edge table (bpf/include/flows.h, struct edge_entry): the edges' home in edge mode, one slot
// per edge in an open-addressed array the classifier counts into. Every interval the agent reads it
// through a mapping, in chunks (counter growth into the edges), then runs edge_table_retire, which frees the slots it
// made DRAINING one run earlier (their last counts were just read) and makes idle slots DRAINING.
import { codec, type MapReader, type Program } from '../../bpf/index.js';
import { EdgeEntryLayout, EdgeEntryState, EdgeKeyView, type EdgeRetireArgs } from '../../bpf/gen/flows.gen.js';
import { creditEdge, type FlowEdge } from './edge.js';
import type { FlowEdges, MapPressure } from './identity.js';

export const EDGE_TABLE_RETIRE_PROGRAM = 'edge_table_retire';

/** Slots read at a time: 2,048 slots are 128 KiB, so a large table needs no buffer (nor mapping) of its size. */
const CHUNK_SLOTS = 2048;

/**
 * At most 2^20 slots (64 MiB of kernel memory): beyond that the edge map behind the table holds the
 * rest, so a large --max-flows does not also cost a table of its size (1 GiB at the largest).
 */
export const MAX_EDGE_TABLE_SLOTS = 1 << 20;

/**
 * The table's slot count for `maxEdges` edges: a power of two (the probe mask needs one) at or above
 * twice that, capped. At half load a new edge almost always finds a slot in its probe window; at
 * full load many go to the edge map behind, after walking the window twice.
 */
export function edgeTableSlots(maxEdges: number): number {
  let n = 1;
  while (n < 2 * maxEdges && n < MAX_EDGE_TABLE_SLOTS) n *= 2;
  return n;
}

/** A slot's edge and what was taken from it so far. draining: seen DRAINING (its counts are final). */
interface SlotState {
  edge: FlowEdge;
  packets: number;
  bytes: number;
  draining: boolean;
}

const SLOT = EdgeEntryLayout.size;
const STATE = EdgeEntryLayout.fields.state.offset;
const PACKETS = EdgeEntryLayout.fields.packets.offset;
const BYTES = EdgeEntryLayout.fields.bytes.offset;

export class EdgeTableReader {
  private readonly slots: Array<SlotState | undefined>;
  private readonly keyView = new EdgeKeyView();
  private runs = 0;
  /** LIVE slots at the last read. */
  live = 0;
  /** Slots freed after their edge was idle (edges that left the kernel table). */
  evicted = 0;
  /** Retire runs that failed (the slots stay DRAINING and are freed by a later run; nothing is read twice). */
  errors = 0;
  /** Slots freed by the retire runs (DRAINING slots whose last counts were read). */
  freed = 0;

  constructor(
    private readonly table: MapReader<Uint8Array, Uint8Array>,
    private readonly retireArgs: MapReader<number, EdgeRetireArgs>,
    private readonly retire: Program,
    private readonly edges: FlowEdges,
    private readonly pressure: MapPressure,
  ) {
    this.slots = new Array<SlotState | undefined>(table.maxEntries);
  }

  get size(): number {
    return this.table.maxEntries;
  }

  /** Reads every slot (counter growth into the edges), then retires idle ones. */
  read(): void {
    const nowMs = Date.now();
    let live = 0;
    const n = this.table.maxEntries;
    for (let start = 0; start < n; start += CHUNK_SLOTS) {
      const vals = this.table.readMapped(start, CHUNK_SLOTS);
      const count = Math.min(CHUNK_SLOTS, n - start);
      for (let i = 0; i < count; i++) {
        const idx = start + i;
        const off = i * SLOT;
        const state = vals.getUint32(off + STATE, true);
        let s = this.slots[idx];
        if (state !== EdgeEntryState.EES_LIVE && state !== EdgeEntryState.EES_DRAINING) {
          // Empty, freed or being claimed: whatever edge it held has been read to its end.
          if (s) this.slots[idx] = undefined;
          continue;
        }
        // A DRAINING slot never turns LIVE again: LIVE after DRAINING is a new claim, from zero.
        if (!s || (s.draining && state === EdgeEntryState.EES_LIVE)) {
          s = { edge: this.edges.ofEdgeKey(this.keyView.at(vals, off), nowMs), packets: 0, bytes: 0, draining: false };
          this.slots[idx] = s;
        }
        creditEdge(s, codec.readU64(vals, off + PACKETS), codec.readU64(vals, off + BYTES), nowMs);
        if (state === EdgeEntryState.EES_DRAINING) {
          if (!s.draining) this.evicted++;
          s.draining = true;
        } else live++;
      }
    }
    this.live = live;
    this.retireIdle(nowMs);
  }

  private retireIdle(nowMs: number): void {
    const idleNs = this.pressure.idleTimeoutNs(this.live, this.table.maxEntries, nowMs);
    try {
      this.retireArgs.set(0, { gen: ++this.runs, idle_ns: Math.round(idleNs), live: 0, drained: 0, freed: 0 });
      this.retire.testRun();
      this.freed += this.retireArgs.get(0)?.freed ?? 0;
    } catch {
      this.errors++;
    }
  }
}
