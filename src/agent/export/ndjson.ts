// Lifecycle events as JSON lines (open, close with totals, connect failure).
import { ConnEventType, ConnRole, type ConnEventView } from '../../bpf/gen/tcp.gen.js';
import { formatAddr } from '../net/addr.js';
import { FAIL_REASONS } from '../tcp/metrics.js';
import { errnoName } from '../../bpf/errors.js';
import type { OwnerResolver } from '../tcp/conn-tracker.js';
import { monotonicToEpochMs } from '../../util/clock.js';

export interface LifecycleRecord {
  time: string;
  event: 'open' | 'close' | 'connect_failure';
  role: 'client' | 'server';
  pid: number;
  process: string;
  cgroup: string;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  connect_ms?: number;
  reason?: string;
  error?: string;
  bytes_sent?: number;
  bytes_received?: number;
  segs_out?: number;
  segs_in?: number;
  retransmits?: number;
  resets_sent?: number;
  resets_received?: number;
  srtt_ms?: number;
  duration_ms?: number;
}

const EVENT_NAMES: Record<number, LifecycleRecord['event']> = {
  [ConnEventType.EV_OPEN]: 'open',
  [ConnEventType.EV_CLOSE]: 'close',
  [ConnEventType.EV_CONNECT_FAIL]: 'connect_failure',
};

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function lifecycleRecord(ev: ConnEventView, owners: OwnerResolver): LifecycleRecord {
  const id = ev.id;
  const st = ev.stats;
  const r: LifecycleRecord = {
    time: new Date(monotonicToEpochMs(ev.ts_ns)).toISOString(),
    event: EVENT_NAMES[ev.type] ?? 'close',
    role: id.role === ConnRole.ROLE_SERVER ? 'server' : 'client',
    pid: id.pid,
    process: owners.process(id.pid, id.comm, id.sock_ino),
    cgroup: owners.cgroup(id.cgroup_id),
    laddr: formatAddr(id.family, id.saddr),
    lport: id.sport,
    raddr: formatAddr(id.family, id.daddr),
    rport: id.dport,
  };
  if (st.connect_ns > 0) r.connect_ms = round3(st.connect_ns / 1e6);
  if (ev.type === ConnEventType.EV_CONNECT_FAIL) {
    r.reason = FAIL_REASONS[ev.reason] ?? 'other';
    if (ev.error) r.error = errnoName(ev.error);
    r.retransmits = st.retrans;
  }
  if (ev.type === ConnEventType.EV_CLOSE) {
    r.bytes_sent = st.bytes_sent;
    r.bytes_received = st.bytes_received;
    r.segs_out = st.segs_out;
    r.segs_in = st.segs_in;
    r.retransmits = st.retrans;
    r.resets_sent = st.resets_sent;
    r.resets_received = st.resets_received;
    r.srtt_ms = round3(st.srtt_us / 1000);
    r.duration_ms = round3((ev.ts_ns - id.start_ns) / 1e6);
  }
  return r;
}

/** Writes records to a stream, dropping (and counting) when the reader cannot keep up. */
export class NdjsonWriter {
  dropped = 0;
  constructor(
    private readonly out: NodeJS.WritableStream & { writableLength?: number },
    private readonly maxBufferedBytes = 16 << 20,
  ) {}

  write(record: unknown): void {
    if ((this.out.writableLength ?? 0) > this.maxBufferedBytes) {
      this.dropped++;
      return;
    }
    this.out.write(`${JSON.stringify(record)}\n`);
  }
}
