// Lifecycle events as JSON lines (open, close with totals, connect failure).
import type { ConnEvent } from '../../model/connection.js';
import type { LifecycleRecord } from '../../model/records.js';
import { errnoName } from '../../bpf/errors.js';
import { monotonicToEpochMs } from '../../lib/clock.js';
import type { OwnerResolver } from '../tcp/conn-tracker.js';

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function lifecycleRecord(ev: ConnEvent, owners: Pick<OwnerResolver, 'process' | 'cgroup'>): LifecycleRecord {
  const id = ev.id;
  const st = ev.stats;
  const r: LifecycleRecord = {
    time: new Date(monotonicToEpochMs(ev.tsNs)).toISOString(),
    event: ev.kind,
    role: id.role ?? 'client',
    pid: id.pid,
    process: owners.process(id.pid, id.comm, id.socketInode),
    cgroup: owners.cgroup(id.cgroupId),
    laddr: id.localAddr,
    lport: id.localPort,
    raddr: id.remoteAddr,
    rport: id.remotePort,
  };
  if (st.connectNs > 0) r.connect_ms = round3(st.connectNs / 1e6);
  if (ev.kind === 'connect_failure') {
    r.reason = ev.reason;
    if (ev.error) r.error = errnoName(ev.error);
    r.retransmits = st.retransmits;
  }
  if (ev.kind === 'close') {
    r.bytes_sent = st.bytesSent;
    r.bytes_received = st.bytesReceived;
    r.segs_out = st.segsOut;
    r.segs_in = st.segsIn;
    r.retransmits = st.retransmits;
    r.resets_sent = st.resetsSent;
    r.resets_received = st.resetsReceived;
    r.srtt_ms = round3(st.srttUs / 1000);
    r.duration_ms = round3((ev.tsNs - id.startNs) / 1e6);
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
