// Drops from the kernel's drop hook (skb:kfree_skb): the drop map, read every interval (growth since
// the last read is credited; idle entries are taken out, a bounded number per read), and the per-CPU
// overflow array that counts drops which found that map full. The one place that reads their kernel
// records; drops land in the drop table with both ends named where addresses allow.
import { codec, type MapReader } from '../../bpf/index.js';
import { DropKeyView, DropOverflowLayout, DropProtoClass } from '../../bpf/gen/flows.gen.js';
import { formatAddr } from '../../model/addr.js';
import { protocolName, ROLLUP_PEER, type DropIdentity } from '../../model/edge.js';
import { NO_WORKLOAD, podLevel, type WorkloadOf } from '../../model/workload.js';
import type { EdgeTable } from '../edges/table.js';
import type { DropEdge } from './edge.js';
import { DropReasons } from './reasons.js';

/** Protocol label of a drop_overflow slot's protocol class (enum drop_proto_class). */
const OVERFLOW_PROTOCOLS: Record<number, string> = {
  [DropProtoClass.DPC_OTHER]: 'other',
  [DropProtoClass.DPC_TCP]: 'tcp',
  [DropProtoClass.DPC_UDP]: 'udp',
  [DropProtoClass.DPC_ICMP]: 'icmp',
  [DropProtoClass.DPC_ICMPV6]: 'icmpv6',
};

const ZERO_KEY = Buffer.alloc(4);

/** Reads without growth after which a drop map entry is taken out of the kernel map. */
export const DROP_IDLE_READS = 2;
/**
 * Idle entries taken out per read, at most. Every entry taken out makes room for one insert, and an
 * insert is the costly part of the hook (a refill of the whole map after each drain cost ~1 % of the
 * sender's CPU under a flood of distinct drops, perf at 65,536 peers); a bounded number keeps that
 * cost bounded while the map still turns over to new keys.
 */
export const DROP_EVICTIONS_PER_READ = 1024;

/** A drop map entry the agent has seen: packets credited so far, reads without growth, the last read that saw it. */
interface KnownDrop {
  credited: number;
  idle: number;
  seen: number;
}

export interface DropMaps {
  drops: MapReader<Uint8Array, Uint8Array>;
  drains: MapReader<Uint8Array, Uint8Array>;
  overflow: MapReader<Uint8Array, Uint8Array>;
}

export class DropReader {
  readonly reasons = new DropReasons();
  private readonly view = new DropKeyView();
  private readonly drainValue = Buffer.alloc(8);
  /** Packets of each drop_overflow slot (summed over CPUs) already credited. */
  private readonly overflowCredited = new Float64Array(DropOverflowLayout.DROP_OVERFLOW_SLOTS);
  private overflowSeen = 0;
  /** Entries of the drop map by their key's bytes. */
  private readonly known = new Map<string, KnownDrop>();
  private reads = 0;
  private takeBuf: Buffer | undefined;
  /** Entries taken out of the kernel map after they idled (their last counts credited). */
  evicted = 0;
  /** Entries of the kernel map at the last read, less those taken out then. */
  live = 0;

  constructor(
    private readonly maps: DropMaps,
    private readonly table: EdgeTable<DropIdentity, DropEdge>,
    private readonly workloadOf: WorkloadOf | undefined,
  ) {}

  /** Drains the drop map; reads the overflow array when `overflowTotal` (drops that found the map full) grew. */
  read(overflowTotal: number, nowMs = Date.now()): void {
    this.readDrops(nowMs);
    // Read only when drops found the map full since the last read (the array is per CPU, 4,096 slots).
    if (overflowTotal > this.overflowSeen) {
      this.overflowSeen = overflowTotal;
      this.readOverflow(nowMs);
    }
  }

  private credit(identity: DropIdentity, packets: number, nowMs: number): void {
    const e = this.table.get(identity, nowMs);
    e.packets += packets;
    e.lastActivityMs = nowMs;
  }

  private readDrops(nowMs: number): void {
    // Read in place, not drained: an entry stays while its key keeps dropping, so a steady source of
    // drops is one lookup per packet in the kernel, not an insert after every drain.
    const batch = this.maps.drops.readAll();
    const read = ++this.reads;
    const bytes = Buffer.from(batch.keys.buffer, batch.keys.byteOffset, batch.keys.byteLength);
    const idle: string[] = [];
    for (let i = 0; i < batch.count; i++) {
      const off = batch.keyOffset(i);
      const id = bytes.toString('latin1', off, off + batch.keySize);
      let packets = 0;
      for (let cpu = 0; cpu < batch.cpus; cpu++) packets += codec.readU64(batch.values, batch.valueOffset(i, cpu));
      let k = this.known.get(id);
      if (!k) {
        k = { credited: 0, idle: 0, seen: read };
        this.known.set(id, k);
      }
      k.seen = read;
      if (packets > k.credited) {
        // Named now, not at first sight: an entry may outlive its addresses' owners.
        this.credit(this.identityOf(batch.keys, off), packets - k.credited, nowMs);
        k.credited = packets;
        k.idle = 0;
      } else if (++k.idle >= DROP_IDLE_READS && idle.length < DROP_EVICTIONS_PER_READ) idle.push(id);
    }
    for (const [id, k] of this.known) if (k.seen !== read) this.known.delete(id); // gone from the map (not by us)
    this.evict(idle, batch.cpus, nowMs);
    this.live = this.known.size;
    // Room again (taken out, or inserts now fail only where the map is still full): CPUs that found
    // it full try inserting new keys again.
    this.drainValue.writeBigUInt64LE(BigInt(read));
    this.maps.drains.set(ZERO_KEY, this.drainValue);
  }

  /** Takes idle entries out of the kernel map, atomically each, crediting what came since the read. */
  private evict(ids: string[], cpus: number, nowMs: number): void {
    if (ids.length === 0) return;
    const take = (this.takeBuf ??= Buffer.alloc(this.maps.drops.valueStride));
    const cpuStride = this.maps.drops.cpuStride || this.maps.drops.valueStride;
    for (const id of ids) {
      const k = this.known.get(id)!;
      this.known.delete(id);
      const key = Buffer.from(id, 'latin1');
      if (!this.maps.drops.takeRaw(key, take)) continue;
      this.evicted++;
      let packets = 0;
      for (let cpu = 0; cpu < cpus; cpu++) packets += Number(take.readBigUInt64LE(cpu * cpuStride));
      if (packets > k.credited) this.credit(this.identityOf(new DataView(key.buffer, key.byteOffset, key.byteLength), 0), packets - k.credited, nowMs);
    }
  }

  private identityOf(keys: DataView, offset: number): DropIdentity {
    const k = this.view.at(keys, offset);
    const received = k.received === 1;
    const ip = k.family === 2 || k.family === 10;
    const peer = ip ? formatAddr(k.family, received ? k.saddr : k.daddr) : '';
    // Both ends named where the addresses allow: the local one (the packet's destination when it
    // came in, its source when it went out) and the peer.
    const local = ip && this.workloadOf ? podLevel(this.workloadOf(formatAddr(k.family, received ? k.daddr : k.saddr))) : NO_WORKLOAD;
    const remote = ip && this.workloadOf ? podLevel(this.workloadOf(peer)) : NO_WORKLOAD;
    // The kernel chose the port (the service port; for NO_SOCKET the port the sender tried).
    return { reason: this.reasons.name(k.reason), direction: received ? 'received' : 'sent', protocol: ip ? protocolName(k.proto) : 'other', peer, port: k.port, local, remote };
  }

  /** Drops that found the drop map full, by reason, protocol class and direction (cumulative per slot). */
  private readOverflow(nowMs: number): void {
    const batch = this.maps.overflow.readAll();
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
      this.credit({ reason: reasonName, direction: (slot & 1) === 1 ? 'received' : 'sent', protocol, peer: ROLLUP_PEER, port: 0, local: NO_WORKLOAD, remote: NO_WORKLOAD }, delta, nowMs);
    }
  }
}
