// The TCP tracer's kernel records read as model types: the one place that touches the generated
// views of bpf/tcp.bpf.o's events and connection map. Each reader is one reused object over the
// current record (no allocation per record): copy what you keep.
import { ConnEventType, ConnFlags, ConnRole, ConnEventView, ConnValueView, ConnIdLayout, type ConnIdView, type ConnStatsView } from '../../bpf/gen/tcp.gen.js';
import { formatAddr, ipVersion } from '../../model/addr.js';
import type { ConnEvent, ConnEventKind, ConnIdentity, ConnSnapshot, ConnStats } from '../../model/connection.js';
import { FAIL_REASONS, type FailReason, type Role } from '../../model/edge.js';

/** A 53-bit key from a socket's kernel address: exact, unlike a u64 read as a double. */
function socketKeyAt(view: DataView, offsetOfSk: number): number {
  return (view.getUint32(offsetOfSk + 4, true) & 0x1fffff) * 2 ** 32 + view.getUint32(offsetOfSk, true);
}

const EVENT_KINDS: Record<number, ConnEventKind> = {
  [ConnEventType.EV_OPEN]: 'open',
  [ConnEventType.EV_CLOSE]: 'close',
  [ConnEventType.EV_CONNECT_FAIL]: 'connect_failure',
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
  /** Whether the record is an event this version knows. */
  get known(): boolean {
    return this.view.type in EVENT_KINDS;
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

/** An entry of the kernel's connection map as a ConnSnapshot. */
export class ConnSnapshotReader extends ConnRecordReader<ConnValueView> implements ConnSnapshot {
  constructor() {
    super(new ConnValueView());
  }
}
