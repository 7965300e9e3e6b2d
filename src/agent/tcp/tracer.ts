// TcpTracer: loads bpf/tcp.bpf.o with the best hooks this kernel offers, attaches them, adopts the
// connections already open, and gives access to what the kernel counted per edge, the ring's
// records (first sight of each edge entry; per-connection events when asked for) and the losses.
import { BpfObject, BpfError, VerifierError, NotSupportedError, codec, features, type IterLink, type Link, type MapReader, type ProgramRunStats, type RingBufReader, type RecordBatch } from '../../bpf/index.js';
import { repoPath } from '../../lib/paths.js';
import { netnsPath, ownNetns } from '../../lib/netns.js';
import { layout, listenerKeyCodec, listenerOwnerCodec, TcpCounter, OrphanResetKeyView, TcpEdgeKeyView, type ListenerKey, type ListenerOwner } from '../../bpf/gen/tcp.gen.js';
import { formatAddr } from '../../model/addr.js';
import type { ConnEvent, ConnIdentity, ConnSnapshot } from '../../model/connection.js';
import type { Role } from '../../model/edge.js';
import type { TcpAdoption, TcpHookReport, TcpStateStore } from '../../model/capabilities.js';
import { TCP_HOOKS, candidatesFor, storageAllowed, type Candidate, type GroupReport, type HookGroup, type HookKind, type StateStore } from './hooks.js';
import { ConnEventReader, ConnSnapshotReader, EdgeTallyReader, OverflowTallyReader, kernelBounds } from './records.js';

export const TCP_OBJECT = repoPath('bpf/.output/tcp.bpf.o');

export interface TcpTracerOptions {
  /**
   * Connections whose state a preallocated table holds (the fastest place); beyond it socket
   * storage (no limit) where the hooks can reach it, else they are counted untracked.
   */
  maxConnections?: number;
  /** Kernel edge entries (owner, peer, port, role) at once; beyond, connections count in a roll-up. */
  maxEdges?: number;
  /** Ring buffer size in bytes (a power of two). */
  ringBytes?: number;
  /** Start these groups at a given hook kind (fallback testing, troubleshooting). */
  hooks?: Partial<Record<HookGroup, HookKind>>;
  /** A record per connection event (open, close, failure, adoption) through the ring (NDJSON, live tools). */
  connectionEvents?: boolean;
  /** Receives each connection event as it arrives (the object is reused: copy what you keep). */
  onEvent?: (event: ConnEvent) => void;
  /** Receives the first connection of each new kernel edge entry (names its owner). */
  onEdgeSeen?: (id: ConnIdentity) => void;
  /** A batch of records could not be handled (the handler threw); the batch's records are lost. */
  onEventError?: (err: unknown) => void;
  /** Load the program that lists every connection (flowscope top). */
  listConnections?: boolean;
  /** Follow only the sockets of the network namespace with this inode (--netns). */
  netns?: number;
}

const ALL_PROGRAMS = [...new Set(TCP_HOOKS.flatMap((g) => g.candidates.flatMap((c) => c.programs)))];

function reasonOf(err: unknown): string {
  if (err instanceof VerifierError) return `rejected by the verifier: ${err.reason}`;
  if (err instanceof BpfError) return `${err.message.split('\n')[0]}`;
  if (err instanceof NotSupportedError) return err.message;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** Kernel counters that are losses, by the self-metric source they are reported under. */
export const LOSS_SOURCES: Record<string, number> = {
  listener_map_full: TcpCounter.TC_LISTENER_MAP_FULL,
  reset_map_full: TcpCounter.TC_RESET_MAP_FULL,
  state_unavailable: TcpCounter.TC_STATE_UNAVAILABLE,
  owner_map_full: TcpCounter.TC_OWNER_MAP_FULL,
  // a state change's claim pushed out of a full claim table: were it live, that change counted twice
  claim_evicted: TcpCounter.TC_CLAIM_EVICTED,
};

function u64Array(values: bigint[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
  return b;
}

export class TcpTracer {
  readonly report: GroupReport[];
  readonly state: TcpStateStore;
  adoption: TcpAdoption | null = null;
  private readonly edges: MapReader<Uint8Array, Uint8Array>;
  private readonly overflow: MapReader<Uint8Array, Uint8Array>;
  private readonly listeners: MapReader<ListenerKey, ListenerOwner>;
  private readonly orphanResets: MapReader<Uint8Array, number>;
  private readonly counters: MapReader<number, number>;
  private readonly events: RingBufReader;
  private readonly links: Link[];
  private readonly eventReader = new ConnEventReader();
  private readonly tally = new EdgeTallyReader();
  private readonly overflowTally = new OverflowTallyReader();
  private readonly orphanView = new OrphanResetKeyView();
  private readonly takeBuf: Buffer;
  private dumpLink: IterLink | undefined;
  private readonly netns: number | undefined;

  private constructor(
    private readonly obj: BpfObject,
    report: GroupReport[],
    links: Link[],
    state: TcpStateStore,
    options: TcpTracerOptions,
  ) {
    this.report = report;
    this.links = links;
    this.state = state;
    this.netns = options.netns;
    this.edges = obj.map('edges');
    this.edges.initialEntries = 256;
    this.overflow = obj.map('edge_overflow');
    this.listeners = obj.map('listeners', listenerKeyCodec, listenerOwnerCodec);
    this.orphanResets = obj.map('orphan_resets', undefined, codec.u64);
    this.counters = obj.map('tcp_counters', codec.u32, codec.u64);
    this.takeBuf = Buffer.alloc(this.edges.valueStride);
    const reader = this.eventReader;
    const onEvent = options.onEvent;
    const onEdgeSeen = options.onEdgeSeen;
    const handler = (batch: RecordBatch): void =>
      batch.forEach((view, offset, length) => {
        if (length < ConnEventReader.size) return;
        reader.at(view, offset);
        if (reader.edgeRecord) onEdgeSeen?.(reader.id);
        else if (reader.known) onEvent?.(reader);
      });
    this.events = obj.ringBuffer('events', { lostMap: 'events_lost', handler, maxPendingBatches: 64, ...(options.onEventError ? { onHandlerError: options.onEventError } : {}) });
  }

  /** Delivers the records the kernel has written so far (their handlers have run when this resolves). */
  flushEvents(): Promise<void> {
    return this.events.flush();
  }

  /** Reads the kernel's edge map: `each` sees every entry, with its key as a string (one reused tally). */
  readEdges(each: (key: string, t: EdgeTallyReader) => void): number {
    const b = this.edges.readAll();
    const keys = Buffer.from(b.keys.buffer, b.keys.byteOffset, b.keys.byteLength);
    for (let i = 0; i < b.count; i++) {
      const ko = b.keyOffset(i);
      const t = this.tally.at(b.keys, ko, b.values, b.valueOffset(i), b.cpus, b.cpuStride);
      each(keys.toString('latin1', ko, ko + TcpEdgeKeyView.size), t);
    }
    return b.count;
  }

  /** Takes an entry out of the edge map (atomically, with its last counts), or undefined when gone. */
  takeEdge(key: string): EdgeTallyReader | undefined {
    const k = Buffer.from(key, 'latin1');
    if (!this.edges.takeRaw(k, this.takeBuf)) return undefined;
    const view = new DataView(this.takeBuf.buffer, this.takeBuf.byteOffset, this.takeBuf.byteLength);
    return this.tally.at(new DataView(k.buffer, k.byteOffset, k.byteLength), 0, view, 0, this.edges.cpus, this.edges.cpuStride);
  }

  /** The roles' overflow slots (connections whose edge found the edge map full). */
  readOverflow(each: (role: Role, t: OverflowTallyReader) => void): void {
    const b = this.overflow.readAll();
    for (let i = 0; i < b.count; i++) {
      const slot = b.keys.getUint32(b.keyOffset(i), true);
      each(slot === 1 ? 'server' : 'client', this.overflowTally.atSlot(slot === 1 ? 'server' : 'client', b.values, b.valueOffset(i), b.cpus, b.cpuStride));
    }
  }

  /** Every TCP connection a process holds now, with its counters (flowscope top; needs listConnections). */
  readConnections(each: (c: ConnSnapshot) => void): number {
    if (!this.dumpLink) throw new Error('the TCP tracer was opened without listConnections');
    const out = this.dumpLink.run({ keep: true });
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const r = new ConnSnapshotReader();
    let n = 0;
    for (let off = 0; off + ConnSnapshotReader.size <= out.length; off += ConnSnapshotReader.size, n++) each(r.at(view, off));
    return n;
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

  get capacity(): { edges: number; listeners: number; conns: number } {
    return { edges: this.edges.maxEntries, listeners: this.listeners.maxEntries, conns: this.state.table };
  }

  /** How the edge map is read (batch operations or per-key iteration). */
  get readMode(): string {
    return this.edges.mode;
  }

  /** Each hook group with the hook in use and the fallbacks taken. */
  hookReports(): TcpHookReport[] {
    return this.report.map((r) => ({ group: r.group, what: r.what, hook: r.kind ?? null, programs: r.programs, fallbacks: r.fallbacks }));
  }

  private counter(c: number): number {
    return this.counters.sumPerCpuU64(c);
  }

  /** Closes of connections never seen open (not adopted: their namespace unreachable, say). */
  closesUnseen(): number {
    return this.counter(TcpCounter.TC_CLOSE_UNSEEN);
  }

  /** Closes the kernel skipped, counted when their socket address started another connection. */
  closesInferred(): number {
    return this.counter(TcpCounter.TC_CLOSE_INFERRED);
  }

  /** Per-connection records on or off (NDJSON, live tools). */
  setConnectionEvents(on: boolean): void {
    this.obj.setGlobal('connection_events', on ? 1 : 0);
  }

  /**
   * Loads the programs of the best state store this kernel and the --hooks overrides allow (socket
   * storage, else the bounded hash) and attaches the best candidate of each group, falling back on
   * load and attach errors.
   */
  static open(options: TcpTracerOptions): TcpTracer {
    const hooks = options.hooks ?? {};
    let why = storageAllowed(hooks);
    if (!why && !features.probeMapType('sk_storage')) why = 'the kernel has no socket storage maps (BPF_MAP_TYPE_SK_STORAGE, Linux 5.2)';
    if (!why) {
      try {
        return TcpTracer.openWith('storage', options);
      } catch (err) {
        why = reasonOf(err);
      }
    }
    const tracer = TcpTracer.openWith('hash', options, why);
    return tracer;
  }

  private static openWith(store: StateStore, options: TcpTracerOptions, why?: string): TcpTracer {
    const hooks = options.hooks ?? {};
    const rejected = new Map<string, string>();
    const wanted = [
      ...ALL_PROGRAMS.filter((p) => TCP_HOOKS.some((g) => g.candidates.some((c) => c.programs.includes(p) && c.stores.includes(store)))),
      ...(options.listConnections ? ['dump_files'] : []),
    ];
    const bounds = kernelBounds();
    const maxConnections = options.maxConnections ?? 65536;
    let obj: BpfObject | undefined;
    for (let attempt = 0; attempt <= wanted.length; attempt++) {
      const programs = wanted.filter((p) => !rejected.has(p));
      const candidate = BpfObject.open(TCP_OBJECT, {
        name: 'flowscope_tcp',
        layout,
        programs,
        globals: {
          use_sk_storage: store === 'storage' ? 1 : 0,
          only_netns: options.netns ?? 0,
          connect_bounds_ns: u64Array(bounds.connect),
          rtt_bounds_us: u64Array(bounds.rtt),
          duration_bounds_ns: u64Array(bounds.duration),
        },
        maxEntries: {
          conns: maxConnections,
          edges: options.maxEdges ?? 16384,
          ...(options.ringBytes ? { events: options.ringBytes } : {}),
        },
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
        const { usable, skipped } = candidatesFor(spec, hooks[spec.group], store);
        const entry: GroupReport = { group: spec.group, what: spec.what, kind: undefined, programs: [], fallbacks: [] };
        const tried: GroupReport['fallbacks'] = [];
        for (const c of usable) {
          const notLoaded = c.programs.find((p) => rejected.has(p));
          if (notLoaded) {
            tried.push({ kind: c.kind, reason: `load failed: ${rejected.get(notLoaded)}` });
            continue;
          }
          const attached = tryAttach(loadedObj, c);
          if (attached.ok) {
            links.push(...attached.links);
            entry.kind = c.kind;
            entry.programs = c.programs;
            break;
          }
          tried.push({ kind: c.kind, reason: `attach failed: ${attached.reason}` });
        }
        // The candidates passed over before the one in use (or all of them, when none works).
        const rank = (k: HookKind): number => spec.candidates.findIndex((c) => c.kind === k);
        const used = entry.kind ? rank(entry.kind) : Infinity;
        entry.fallbacks = [...skipped.filter((f) => rank(f.kind) < used), ...tried].sort((a, b) => rank(a.kind) - rank(b.kind));
        if (!entry.kind && spec.required) {
          throw new NotSupportedError(
            `TCP ${spec.group} hook`,
            `none of ${usable.map((c) => c.kind).join(', ') || spec.candidates.map((c) => c.kind).join(', ')} works here with ${store === 'storage' ? 'socket storage' : 'the hash fallback'} (${entry.fallbacks.map((f) => `${f.kind}: ${f.reason}`).join('; ')}); run \`flowscope doctor\``,
          );
        }
        report.push(entry);
      }
      const state: TcpStateStore = store === 'storage' ? { table: maxConnections, beyond: 'socket storage' } : { table: maxConnections, beyond: 'untracked', reason: why ?? 'unknown' };
      const tracer = new TcpTracer(loadedObj, report, links, state, options);
      if (options.listConnections && !rejected.has('dump_files')) tracer.dumpLink = loadedObj.program('dump_files').attachIter();
      tracer.setConnectionEvents(options.connectionEvents ?? false);
      return tracer;
    } catch (err) {
      loadedObj.close();
      throw err;
    }
  }

  /** Sets how often live connections' counters reach their edges, and their RTT sampling period. */
  setPeriods(creditMs: number, rttMs: number): void {
    this.obj.setGlobal('credit_period_ns', BigInt(Math.round(creditMs * 1e6)));
    this.obj.setGlobal('rtt_period_ns', BigInt(Math.round(rttMs * 1e6)));
  }

  /**
   * Adopts the connections open now, once, after the lifecycle hooks are attached (so none falls
   * between): pass 1 over every socket file notes owners, listeners and network namespaces; pass 2
   * reads each namespace's TCP table. Without the iterators, connections are adopted at their next
   * segment received instead (their owners named from /proc).
   */
  adopt(): TcpAdoption {
    const started = Date.now();
    const group = this.report.find((r) => r.group === 'adoption');
    const before = this.counter(TcpCounter.TC_ADOPTED);
    if (!group?.kind) {
      this.obj.setGlobal('adopt_lazily', 1);
      const why = group?.fallbacks.map((f) => `${f.kind}: ${f.reason}`).join('; ') ?? 'no adoption hook';
      this.adoption = { method: `at each connection's next segment received (${why})`, at: new Date(started).toISOString(), durationMs: 0, adopted: 0, namespaces: 0, unreachable: [] };
      return this.adoption;
    }
    const files = this.links.find((l) => l.description.includes('task_file')) as IterLink | undefined;
    const table = this.links.find((l) => l.description.includes('iter/tcp')) as IterLink | undefined;
    const unreachable: TcpAdoption['unreachable'] = [];
    let namespaces = 0;
    try {
      this.obj.setGlobal('adopt_pass', 1);
      files?.run();
      const found = this.obj.map('adopt_netns', codec.u32, codec.u32).entries();
      this.obj.setGlobal('adopt_pass', 2);
      const own = ownNetns();
      if (this.netns === undefined || this.netns === own) {
        table?.run();
        namespaces++;
      }
      for (const [netns, pid] of found) {
        if (netns === own) continue;
        const path = netnsPath(netns, [pid]);
        if (!path) {
          unreachable.push({ netns, reason: `no process of it left to enter it by (pid ${pid} went)` });
          continue;
        }
        try {
          table?.run({ netnsPath: path });
          namespaces++;
        } catch (err) {
          unreachable.push({ netns, reason: reasonOf(err) });
        }
      }
    } finally {
      this.obj.setGlobal('adopt_pass', 0);
      this.obj.map('file_owners').readAll({ drain: true });
      this.obj.map('adopt_netns').readAll({ drain: true });
    }
    this.adoption = {
      method: 'every socket file (iter/task_file), then each network namespace\'s TCP table (iter/tcp, made inside it)',
      at: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      adopted: this.counter(TcpCounter.TC_ADOPTED) - before,
      namespaces,
      unreachable,
    };
    return this.adoption;
  }

  /** Records lost on the way from the kernel (ring buffer full) and in the consumer. */
  eventsLost(): number {
    return this.events.lost();
  }

  /** Kernel-side loss counters by source. */
  lossCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [source, c] of Object.entries(LOSS_SOURCES)) out[source] = this.counter(c);
    return out;
  }

  /** Attached programs with their kernel statistics. */
  programStats(): ProgramRunStats[] {
    return this.report.flatMap((r) => r.programs.map((p) => this.obj.program(p).runStats()));
  }

  /**
   * Hook invocations the kernel skipped because the program was already running on that CPU (a
   * softirq state change interrupting one in process context) and the companion did not handle
   * (none for the lifecycle programs with their companion: it handles every change they skip).
   */
  recursionMisses(): number {
    let n = 0;
    for (const r of this.report) {
      // The companion's own skips are harmless (the main program ran then); snapshots credit later.
      if (r.group !== 'lifecycle' && r.group !== 'resets') continue;
      for (const p of r.programs) if (!p.includes('nested')) n += this.obj.program(p).runStats().recursionMisses;
    }
    return Math.max(0, n - this.counter(TcpCounter.TC_NESTED_HANDLED));
  }

  /** Records the owner of a listening socket that existed before the tracer (fallback: from /proc). */
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

