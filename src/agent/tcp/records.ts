// The TCP tracer's kernel records read as model types: the one place that touches the generated
// views of bpf/tcp.bpf.o's events and connection map. Each reader is one reused object over the
// current record (no allocation per record): copy what you keep.
import { ConnEventType, ConnFlags, ConnRole, ConnEventView, ConnValueView, ConnIdLayout, TcpEdgeCountsLayout, TcpEdgeKeyView, TcpHistLayout, type ConnIdView, type ConnStatsView } from '../../bpf/gen/tcp.gen.js';
import { formatAddr, ipVersion } from '../../model/addr.js';
import type { ConnEvent, ConnEventKind, ConnIdentity, ConnSnapshot, ConnStats, EdgeTally } from '../../model/connection.js';
import { CONNECT_BUCKETS, DURATION_BUCKETS, RTT_BUCKETS, type Distribution } from '../../model/distribution.js';
import { FAIL_REASONS, type FailReason, type Role } from '../../model/edge.js';

/** A 53-bit key from a socket's kernel address: exact, unlike a u64 read as a double. */
function socketKeyAt(view: DataView, offsetOfSk: number): number {
  return (view.getUint32(offsetOfSk + 4, true) & 0x1fffff) * 2 ** 32 + view.getUint32(offsetOfSk, true);
}

const EVENT_KINDS: Record<number, ConnEventKind> = {
  [ConnEventType.EV_OPEN]: 'open',
  [ConnEventType.EV_CLOSE]: 'close',
  [ConnEventType.EV_CONNECT_FAIL]: 'connect_failure',
  [ConnEventType.EV_ADOPT]: 'adopt',
};

class IdReader implements ConnIdentity {
  private v!: ConnIdView;
  private skOffset = 0;

  at(v: ConnIdView): this {
    this.v = v;
    this.skOffset = v.offset + ConnIdLayout.fields.sk.offset;
    return this;
  }
  get socket(): number {
    return socketKeyAt(this.v.view, this.skOffset);
  }
  get startNs(): number {
    return this.v.start_ns;
  }
  get cgroupId(): number {
    return this.v.cgroup_id;
  }
  get socketInode(): number {
    return this.v.sock_ino;
  }
  get pid(): number {
    return this.v.pid;
  }
  get netns(): number {
    return this.v.netns;
  }
  get comm(): string {
    return this.v.comm;
  }
  get ipVersion(): 4 | 6 {
    return ipVersion(this.v.family, this.v.daddr);
  }
  get localAddr(): string {
    return formatAddr(this.v.family, this.v.saddr);
  }
  get remoteAddr(): string {
    return formatAddr(this.v.family, this.v.daddr);
  }
  get localPort(): number {
    return this.v.sport;
  }
  get remotePort(): number {
    return this.v.dport;
  }
  get role(): Role | undefined {
    const r = this.v.role;
    return r === ConnRole.ROLE_CLIENT ? 'client' : r === ConnRole.ROLE_SERVER ? 'server' : undefined;
  }
  get preexisting(): boolean {
    return (this.v.flags & ConnFlags.CONN_F_PREEXISTING) !== 0;
  }
  get openReported(): boolean {
    return (this.v.flags & ConnFlags.CONN_F_OPEN_EMITTED) !== 0;
  }
}

class StatsReader implements ConnStats {
  private v!: ConnStatsView;
  at(v: ConnStatsView): this {
    this.v = v;
    return this;
  }
  get bytesSent(): number {
    return this.v.bytes_sent;
  }
  get bytesReceived(): number {
    return this.v.bytes_received;
  }
  get segsOut(): number {
    return this.v.segs_out;
  }
  get segsIn(): number {
    return this.v.segs_in;
  }
  get connectNs(): number {
    return this.v.connect_ns;
  }
  get readNs(): number {
    return this.v.last_ns;
  }
  get retransmits(): number {
    return this.v.retrans;
  }
  get srttUs(): number {
    return this.v.srtt_us;
  }
  get resetsSent(): number {
    return this.v.resets_sent;
  }
  get resetsReceived(): number {
    return this.v.resets_received;
  }
}

/** A kernel record that holds a connection's id and stats, read through its generated view. */
abstract class ConnRecordReader<V extends { at(view: DataView, offset: number): V; readonly id: ConnIdView; readonly stats: ConnStatsView }> {
  private readonly idReader = new IdReader();
  private readonly statsReader = new StatsReader();

  constructor(protected readonly view: V) {}

  at(data: DataView, offset: number): this {
    this.view.at(data, offset);
    this.idReader.at(this.view.id);
    this.statsReader.at(this.view.stats);
    return this;
  }
  get id(): ConnIdentity {
    return this.idReader;
  }
  get stats(): ConnStats {
    return this.statsReader;
  }
}

/** A lifecycle event of the ring buffer as a ConnEvent. */
export class ConnEventReader extends ConnRecordReader<ConnEventView> implements ConnEvent {
  static readonly size = ConnEventView.size;

  constructor() {
    super(new ConnEventView());
  }
  get kind(): ConnEventKind {
    return EVENT_KINDS[this.view.type] ?? 'close';
  }
  /** Whether the record is a connection event this version knows. */
  get known(): boolean {
    return this.view.type in EVENT_KINDS;
  }
  /** The record of a new kernel edge entry (its first connection: names the owner), not an event. */
  get edgeRecord(): boolean {
    return this.view.type === ConnEventType.EV_EDGE;
  }
  get reason(): FailReason {
    return FAIL_REASONS[Math.min(this.view.reason, FAIL_REASONS.length - 1)]!;
  }
  get error(): number {
    return this.view.error;
  }
  get tsNs(): number {
    return this.view.ts_ns;
  }
}

/** A connection as the kernel listed it (struct conn_value) as a ConnSnapshot. */
export class ConnSnapshotReader extends ConnRecordReader<ConnValueView> implements ConnSnapshot {
  static readonly size = ConnValueView.size;
  constructor() {
    super(new ConnValueView());
  }
}

/** Index of each u64 of struct tcp_edge_counts in a tally's values. */
const F = Object.fromEntries(Object.entries(TcpEdgeCountsLayout.fields).map(([k, f]) => [k, f.offset / 8])) as Record<keyof typeof TcpEdgeCountsLayout.fields, number>;
export const TALLY_WORDS = TcpEdgeCountsLayout.size / 8;
const LAST = F.last_ns;

if (CONNECT_BUCKETS.length !== TcpHistLayout.CONNECT_BOUNDS || RTT_BUCKETS.length !== TcpHistLayout.RTT_BOUNDS || DURATION_BUCKETS.length !== TcpHistLayout.DURATION_BOUNDS) {
  throw new Error('bpf/include/tcp.h enum tcp_hist_layout and src/model/distribution.ts disagree on bucket counts: change both');
}

/** The bucket bounds the kernel compares with, in its units (ns for times, µs for RTT). */
export function kernelBounds(): { connect: bigint[]; rtt: bigint[]; duration: bigint[] } {
  const ns = (s: number): bigint => BigInt(Math.round(s * 1e9));
  return { connect: CONNECT_BUCKETS.map(ns), rtt: RTT_BUCKETS.map((s) => BigInt(Math.round(s * 1e6))), duration: DURATION_BUCKETS.map(ns) };
}

/** A distribution over a slice of a tally's values: buckets (the last one above every bound) and a sum in kernel units. */
class TallyDistribution implements Distribution {
  readonly counts: Float64Array;
  constructor(
    private readonly values: Float64Array,
    readonly bounds: readonly number[],
    private readonly sumAt: number,
    bucketsAt: number,
    private readonly unit: number,
  ) {
    this.counts = values.subarray(bucketsAt, bucketsAt + bounds.length + 1);
  }
  get sum(): number {
    return this.values[this.sumAt]! * this.unit;
  }
  get count(): number {
    let n = 0;
    for (let i = 0; i < this.counts.length; i++) n += this.counts[i]!;
    return n;
  }
}

/**
 * An entry of the kernel's edge map (key and per-CPU counts) as an EdgeTally: the counts summed over
 * CPUs into `values` (struct tcp_edge_counts' u64s in order, raw units). One reused object.
 */
export class EdgeTallyReader implements EdgeTally {
  static readonly fields = F;
  readonly values = new Float64Array(TALLY_WORDS);
  private readonly key = new TcpEdgeKeyView();
  readonly connect = new TallyDistribution(this.values, CONNECT_BUCKETS, F.connect_sum_ns, F.connect_buckets, 1e-9);
  readonly rtt = new TallyDistribution(this.values, RTT_BUCKETS, F.rtt_sum_us, F.rtt_buckets, 1e-6);
  readonly duration = new TallyDistribution(this.values, DURATION_BUCKETS, F.duration_sum_ns, F.duration_buckets, 1e-9);

  /** Positions on the key at `keyOffset` and sums the `cpus` value slots from `valueOffset` (each `cpuStride` bytes). */
  at(keys: DataView, keyOffset: number, values: DataView, valueOffset: number, cpus: number, cpuStride: number): this {
    this.key.at(keys, keyOffset);
    const v = this.values;
    v.fill(0);
    let last = 0;
    for (let cpu = 0; cpu < cpus; cpu++) {
      const base = valueOffset + cpu * cpuStride;
      for (let w = 0; w < TALLY_WORDS; w++) {
        const o = base + w * 8;
        v[w]! += values.getUint32(o, true) + values.getUint32(o + 4, true) * 2 ** 32;
      }
      last = Math.max(last, values.getUint32(base + LAST * 8, true) + values.getUint32(base + LAST * 8 + 4, true) * 2 ** 32);
    }
    v[LAST] = last; /* a time, not a count: the latest CPU's */
    return this;
  }

  /** The raw key bytes (to tell entries apart). */
  keyBytes(): Uint8Array {
    return new Uint8Array(this.key.view.buffer, this.key.view.byteOffset + this.key.offset, TcpEdgeKeyView.size);
  }

  get role(): Role {
    return this.key.role === ConnRole.ROLE_SERVER ? 'server' : 'client';
  }
  get pid(): number {
    return this.key.pid;
  }
  get comm(): string {
    return this.key.comm;
  }
  get cgroupId(): number {
    return this.key.cgroup_id;
  }
  get peer(): string {
    return formatAddr(this.key.family, this.key.peer);
  }
  get port(): number {
    return this.key.port;
  }
  get localAddr(): string {
    return formatAddr(this.key.family, this.key.local);
  }
  get opened(): number {
    return this.values[F.opened]!;
  }
  get adopted(): number {
    return this.values[F.adopted]!;
  }
  get closed(): number {
    return this.values[F.closed]!;
  }
  get untracked(): number {
    return this.values[F.untracked]!;
  }
  failures(reason: number): number {
    return this.values[F.failures + reason]!;
  }
  get sentBytes(): number {
    return this.values[F.bytes_sent]!;
  }
  get receivedBytes(): number {
    return this.values[F.bytes_received]!;
  }
  get retransmits(): number {
    return this.values[F.retrans]!;
  }
  get resetsSent(): number {
    return this.values[F.resets_sent]!;
  }
  get resetsReceived(): number {
    return this.values[F.resets_received]!;
  }
  get lastNs(): number {
    return this.values[F.last_ns]!;
  }
}

/** A role's overflow slot (connections whose edge found the edge map full), as an EdgeTally without an owner or peer. */
export class OverflowTallyReader extends EdgeTallyReader {
  private slotRole: Role = 'client';
  atSlot(role: Role, values: DataView, valueOffset: number, cpus: number, cpuStride: number): this {
    this.slotRole = role;
    const empty = new DataView(new ArrayBuffer(TcpEdgeKeyView.size));
    return this.at(empty, 0, values, valueOffset, cpus, cpuStride);
  }
  override get role(): Role {
    return this.slotRole;
  }
  override get localAddr(): string {
    return '';
  }
}
