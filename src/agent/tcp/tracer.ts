// TcpTracer: loads bpf/tcp.bpf.o with the best hooks this kernel offers, attaches them, and gives
// access to the connection map, the lifecycle event stream and the loss counters.
import { BpfObject, BpfError, VerifierError, NotSupportedError, codec, type Link, type MapReader, type ProgramRunStats, type RingBufReader, type RecordBatch } from '../../bpf/index.js';
import { repoPath } from '../../lib/paths.js';
import { layout, listenerKeyCodec, listenerOwnerCodec, DropReason, OrphanResetKeyView, type ListenerKey, type ListenerOwner } from '../../bpf/gen/tcp.gen.js';
import { formatAddr } from '../../model/addr.js';
import type { ConnEvent, ConnSnapshot } from '../../model/connection.js';
import type { TcpHookReport } from '../../model/capabilities.js';
import { TCP_HOOKS, candidatesFor, type Candidate, type GroupReport, type HookGroup, type HookKind } from './hooks.js';
import { ConnEventReader, ConnSnapshotReader } from './records.js';

export const TCP_OBJECT = repoPath('bpf/.output/tcp.bpf.o');

export interface TcpTracerOptions {
  /** Connections tracked at once (the kernel map's size). Beyond it, totals still arrive at close. */
  maxConnections?: number;
  /** Ring buffer size in bytes (a power of two). */
  ringBytes?: number;
  /** Start these groups at a given hook kind (fallback testing, troubleshooting). */
  hooks?: Partial<Record<HookGroup, HookKind>>;
  /** Receives each lifecycle event as it arrives (the object is reused: copy what you keep). */
  onEvent: (event: ConnEvent) => void;
  /** A batch of events could not be handled (the handler threw); the batch's events are lost. */
  onEventError?: (err: unknown) => void;
}

const ALL_PROGRAMS = [...new Set(TCP_HOOKS.flatMap((g) => g.candidates.flatMap((c) => c.programs)))];

function reasonOf(err: unknown): string {
  if (err instanceof VerifierError) return `rejected by the verifier: ${err.reason}`;
  if (err instanceof BpfError) return `${err.message.split('\n')[0]}`;
  if (err instanceof NotSupportedError) return err.message;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

export const DROP_SOURCES: Record<number, string> = {
  [DropReason.DROP_CONN_MAP_FULL]: 'conn_map_full',
  [DropReason.DROP_LISTENER_MAP_FULL]: 'listener_map_full',
  [DropReason.DROP_RESET_MAP_FULL]: 'reset_map_full',
};

export class TcpTracer {
  readonly report: GroupReport[];
  private readonly conns: MapReader<Uint8Array, Uint8Array>;
  private readonly listeners: MapReader<ListenerKey, ListenerOwner>;
  private readonly orphanResets: MapReader<Uint8Array, number>;
  private readonly events: RingBufReader;
  private readonly drops: MapReader<number, number>;
  private readonly links: Link[];
  private readonly eventReader = new ConnEventReader();
  private readonly snapshotReader = new ConnSnapshotReader();
  private readonly orphanView = new OrphanResetKeyView();

  private constructor(
    private readonly obj: BpfObject,
    report: GroupReport[],
    links: Link[],
    options: TcpTracerOptions,
  ) {
    this.report = report;
    this.links = links;
    this.conns = obj.map('conns');
    this.listeners = obj.map('listeners', listenerKeyCodec, listenerOwnerCodec);
    this.orphanResets = obj.map('orphan_resets', undefined, codec.u64);
    this.drops = obj.map('drops', codec.u32, codec.u64);
    const reader = this.eventReader;
    const onEvent = options.onEvent;
    const handler = (batch: RecordBatch): void =>
      batch.forEach((view, offset, length) => {
        if (length < ConnEventReader.size) return;
        reader.at(view, offset);
        if (reader.known) onEvent(reader);
      });
    this.events = obj.ringBuffer('events', { lostMap: 'events_lost', handler, maxPendingBatches: 64, ...(options.onEventError ? { onHandlerError: options.onEventError } : {}) });
  }

  /** Delivers the events the kernel has written so far (their handlers have run when this resolves). */
  flushEvents(): Promise<void> {
    return this.events.flush();
  }

  /** Reads the kernel's connection table: `each` sees every live connection (one reused object). */
  readConnections(each: (c: ConnSnapshot) => void): number {
    const batch = this.conns.readAll();
    const r = this.snapshotReader;
    for (let i = 0; i < batch.count; i++) each(r.at(batch.values, batch.valueOffset(i)));
    return batch.count;
  }

  /** Resets sent for packets no socket owned (connection attempts to closed ports), taken out of the kernel map. */
  drainOrphanResets(each: (peer: string, localPort: number, count: number) => void): void {
    const b = this.orphanResets.readAll({ drain: true });
    for (let i = 0; i < b.count; i++) {
      const k = this.orphanView.at(b.keys, b.keyOffset(i));
      each(formatAddr(k.family, k.raddr), k.lport, codec.readU64(b.values, b.valueOffset(i)));
    }
  }

  /** Entries of the listener table now. */
  listenerCount(): number {
    return this.listeners.readAll().count;
  }

  get capacity(): { conns: number; listeners: number } {
    return { conns: this.conns.maxEntries, listeners: this.listeners.maxEntries };
  }

  /** How the connection table is read (batch operations or per-key iteration). */
  get readMode(): string {
    return this.conns.mode;
  }

  /** Each hook group with the hook in use and the fallbacks taken. */
  hookReports(): TcpHookReport[] {
    return this.report.map((r) => ({ group: r.group, what: r.what, hook: r.kind ?? null, programs: r.programs, fallbacks: r.fallbacks }));
  }

  /**
   * Loads every candidate program (dropping, one at a time, those the kernel rejects), then attaches
   * the best candidate of each group, falling back on attach errors.
   */
  static open(options: TcpTracerOptions): TcpTracer {
    const rejected = new Map<string, string>();
    let obj: BpfObject | undefined;
    for (let attempt = 0; attempt <= ALL_PROGRAMS.length; attempt++) {
      const programs = ALL_PROGRAMS.filter((p) => !rejected.has(p));
      const candidate = BpfObject.open(TCP_OBJECT, {
        name: 'flowscope_tcp',
        layout,
        programs,
        maxEntries: { conns: options.maxConnections ?? 65536, ...(options.ringBytes ? { events: options.ringBytes } : {}) },
      });
      try {
        candidate.load();
        obj = candidate;
        break;
      } catch (err) {
        candidate.close();
        const failing = err instanceof VerifierError ? err.program : programs.find((p) => err instanceof Error && err.message.includes(`'${p}'`));
        if (!failing || !programs.includes(failing)) throw err;
        rejected.set(failing, reasonOf(err));
      }
    }
    if (!obj) throw new Error('could not load the TCP tracer: every program was rejected');

    const report: GroupReport[] = [];
    const links: Link[] = [];
    const loadedObj = obj;
    try {
      for (const spec of TCP_HOOKS) {
        const { usable, skipped } = candidatesFor(spec, options.hooks?.[spec.group]);
        const entry: GroupReport = { group: spec.group, what: spec.what, kind: undefined, programs: [], fallbacks: [...skipped] };
        for (const c of usable) {
          const notLoaded = c.programs.find((p) => rejected.has(p));
          if (notLoaded) {
            entry.fallbacks.push({ kind: c.kind, reason: `load failed: ${rejected.get(notLoaded)}` });
            continue;
          }
          const attached = tryAttach(loadedObj, c);
          if (attached.ok) {
            links.push(...attached.links);
            entry.kind = c.kind;
            entry.programs = c.programs;
            break;
          }
          entry.fallbacks.push({ kind: c.kind, reason: `attach failed: ${attached.reason}` });
        }
        if (!entry.kind && spec.required) {
          throw new NotSupportedError(
            `TCP ${spec.group} hook`,
            `none of ${usable.map((c) => c.kind).join(', ')} works here (${entry.fallbacks.map((f) => `${f.kind}: ${f.reason}`).join('; ')}); run \`flowscope doctor\``,
          );
        }
        report.push(entry);
      }
      const accept = report.find((r) => r.group === 'accept');
      loadedObj.setGlobal('open_at_accept', accept?.kind ? 1 : 0);
      return new TcpTracer(loadedObj, report, links, options);
    } catch (err) {
      loadedObj.close();
      throw err;
    }
  }

  /** Records lost on the way from the kernel (ring buffer full) and in the consumer. */
  eventsLost(): number {
    return this.events.lost();
  }

  /** Kernel-side drop counters by source. */
  dropCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [reason, source] of Object.entries(DROP_SOURCES)) out[source] = this.drops.sumPerCpuU64(Number(reason));
    return out;
  }

  /** Attached programs with their kernel statistics. */
  programStats(): ProgramRunStats[] {
    return this.report.flatMap((r) => r.programs.map((p) => this.obj.program(p).runStats()));
  }

  /**
   * Hook invocations the kernel skipped because the program was already running on that CPU (a
   * softirq state change interrupting one in process context). Each may be a lost lifecycle event.
   */
  recursionMisses(): number {
    let n = 0;
    for (const p of this.programStats()) n += p.recursionMisses;
    return Math.max(0, n - this.nestedHandled());
  }

  /** State changes the companion program handled for the lifecycle program the kernel skipped. */
  nestedHandled(): number {
    return this.drops.sumPerCpuU64(DropReason.COUNT_NESTED_HANDLED);
  }

  /** Records the owner of a listening socket that existed before the tracer (bootstrap from /proc). */
  addListener(key: ListenerKey, owner: ListenerOwner): void {
    this.listeners.set(key, owner, 1 /* BPF_NOEXIST: the kernel's own record wins */);
  }

  close(): void {
    for (const l of this.links) {
      try {
        l.destroy();
      } catch {
        // detached with the object below
      }
    }
    this.obj.close();
  }
}

function tryAttach(obj: BpfObject, c: Candidate): { ok: true; links: Link[] } | { ok: false; reason: string } {
  const links: Link[] = [];
  try {
    // A candidate's programs attach together or not at all.
    for (const attach of c.attach) links.push(attach((name) => obj.program(name)));
    return { ok: true, links };
  } catch (err) {
    for (const l of links) l.destroy();
    return { ok: false, reason: reasonOf(err) };
  }
}
