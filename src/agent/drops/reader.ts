// Drops from the kernel's drop hook (skb:kfree_skb): the drop map, drained every interval, and the
// per-CPU overflow array that counts drops which found that map full. The one place that reads
// their kernel records; drops land in the drop table with both ends named where addresses allow.
import { codec, type MapReader } from '../../bpf/index.js';
import { DropKeyView, DropOverflowLayout, DropProtoClass } from '../../bpf/gen/flows.gen.js';
import { formatAddr } from '../../model/addr.js';
import { protocolName, ROLLUP_PEER, type DropIdentity } from '../../model/edge.js';
import { NO_WORKLOAD, podLevel, type WorkloadOf } from '../../model/workload.js';
import type { EdgeTable } from '../edges/table.js';
import { servicePort, type PortRange } from '../edges/ports.js';
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

export interface DropMaps {
  drops: MapReader<Uint8Array, Uint8Array>;
  drains: MapReader<Uint8Array, Uint8Array>;
  overflow: MapReader<Uint8Array, Uint8Array>;
}

export class DropReader {
  readonly reasons = new DropReasons();
  private readonly view = new DropKeyView();
  private drainGeneration = 0;
  private readonly drainValue = Buffer.alloc(8);
  /** Packets of each drop_overflow slot (summed over CPUs) already credited. */
  private readonly overflowCredited = new Float64Array(DropOverflowLayout.DROP_OVERFLOW_SLOTS);
  private overflowSeen = 0;

  constructor(
    private readonly maps: DropMaps,
    private readonly table: EdgeTable<DropIdentity, DropEdge>,
    private readonly ports: PortRange,
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
    // Drained every interval: drops are rare enough that each (reason, addresses) entry lives briefly.
    const batch = this.maps.drops.readAll({ drain: true });
    // The map has room again: CPUs that found it full go back to inserting new keys.
    this.drainGeneration++;
    this.drainValue.writeBigUInt64LE(BigInt(this.drainGeneration));
    this.maps.drains.set(ZERO_KEY, this.drainValue);
    for (let i = 0; i < batch.count; i++) {
      const k = this.view.at(batch.keys, batch.keyOffset(i));
      let packets = 0;
      for (let cpu = 0; cpu < batch.cpus; cpu++) packets += codec.readU64(batch.values, batch.valueOffset(i, cpu));
      if (packets === 0) continue;
      const received = k.received === 1;
      const ip = k.family === 2 || k.family === 10;
      const peer = ip ? formatAddr(k.family, received ? k.saddr : k.daddr) : '';
      // Both ends named where the addresses allow: the local one (the packet's destination when it
      // came in, its source when it went out) and the peer.
      const local = ip && this.workloadOf ? podLevel(this.workloadOf(formatAddr(k.family, received ? k.daddr : k.saddr))) : NO_WORKLOAD;
      const remote = ip && this.workloadOf ? podLevel(this.workloadOf(peer)) : NO_WORKLOAD;
      const tcpudp = k.proto === 6 || k.proto === 17;
      const port = tcpudp ? servicePort(received ? k.dport : k.sport, received ? k.sport : k.dport, this.ports) : 0;
      this.credit({ reason: this.reasons.name(k.reason), direction: received ? 'received' : 'sent', protocol: ip ? protocolName(k.proto) : 'other', peer, port, local, remote }, packets, nowMs);
    }
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
