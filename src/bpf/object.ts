// BpfObject: open an ELF object, configure it, load it, attach its programs, read its maps.
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { native, type NativeLink, type NativeMapInfo, type NativeObject, type NativeProgramInfo, type NativeProgStats } from './native.js';
import { BpfError, LayoutMismatchError, NotSupportedError } from './errors.js';
import { type Codec, bytes } from './codec.js';
import { MapReader, MapType } from './map.js';
import { RingBufReader, type RingBufOptions } from './ringbuf.js';
import { cgroup2Root, requireTracefs } from './features.js';
import { register, unregister, type Closable } from './lifecycle.js';

/** Key and value sizes of a map, as generated from the object's BTF (see *.gen.ts). */
export interface MapLayout {
  readonly keySize: number;
  readonly valueSize: number;
}
export type ObjectLayout = Readonly<Record<string, MapLayout>>;

export type GlobalValue = number | bigint | boolean | Buffer;

export interface OpenOptions {
  /** Object name shown by bpftool (default: from the file name). */
  name?: string;
  /** Generated map layouts: opening fails when the object's maps differ (stale build or decoder). */
  layout?: ObjectLayout;
  /** Read-only settings (`const volatile` globals), applied before load. */
  globals?: Record<string, GlobalValue>;
  /** Overrides of maps' max_entries, applied before load. */
  maxEntries?: Record<string, number>;
  /** Load only these programs (default: all). */
  programs?: string[];
  /** Maps that are the ones pinned at these bpffs paths (shared with another object), by name. */
  reuseMaps?: Record<string, string>;
}

export type TcDirection = 'ingress' | 'egress';

export interface TcAttachOptions {
  /** Interface name (in this network namespace) or index (in `netns` when given). */
  interface: string | number;
  /** The network namespace the interface belongs to (e.g. /run/netns/NAME; default: ours). */
  netns?: string;
  direction: TcDirection;
  /**
   * 'tcx' (Linux 6.6+, a link that goes away with the process), 'legacy' (cls_bpf on clsact), or
   * 'auto' (default): tcx where the kernel has it.
   */
  mode?: 'auto' | 'tcx' | 'legacy';
  /** Run before the programs already attached instead of after them (default false). */
  first?: boolean;
  /** Legacy mode: filter priority (default: after typical filters, 0xfff0 downwards while taken). */
  priority?: number;
}

export interface UprobeOptions {
  binary: string;
  /** Function name (resolved through the ELF symbol table) or `offset`. */
  function?: string;
  offset?: number;
  /** -1 (default): every process running the binary. */
  pid?: number;
  retprobe?: boolean;
}

const TC_LEGACY_DEFAULT_PRIORITY = 0xfff0;
const TC_LEGACY_HANDLE = 0xf10;
let tcxSupported: boolean | undefined;

export class Link implements Closable {
  private destroyed = false;
  constructor(
    private readonly handle: NativeLink,
    private readonly owner: BpfObject,
  ) {}

  get description(): string {
    return this.handle.description;
  }

  get fd(): number {
    return this.handle.fd;
  }

  /** For legacy TC filters: the priority the filter got. */
  get tcPriority(): number {
    return this.handle.tcPriority;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.handle.destroy();
    this.owner.forgetLink(this);
  }

  close(): void {
    this.destroy();
  }
}

/** A BPF iterator's link: each run walks the kernel objects again, running the program on each. */
export class IterLink extends Link {
  /**
   * Runs the iterator to its end and returns what the program wrote (bpf_seq_write) when `keep`.
   * `netnsPath` (e.g. /proc/<pid>/ns/net): made inside that network namespace, for iterators over a
   * namespace's sockets (iter/tcp); a short-lived thread joins it, the process stays where it is.
   */
  run(options: { netnsPath?: string; keep?: boolean } = {}): Buffer {
    return native().iterRead(this.fd, options.netnsPath ?? null, options.keep ?? false);
  }
}

export class Program {
  constructor(
    private readonly obj: BpfObject,
    private readonly raw: NativeObject,
    readonly info: NativeProgramInfo,
  ) {}

  get name(): string {
    return this.info.name;
  }
  get section(): string {
    return this.info.section;
  }
  get typeName(): string {
    return this.info.typeName;
  }

  /** The program's file descriptor (after load). */
  get fd(): number {
    return this.obj.programFd(this.name);
  }

  private link(make: () => NativeLink): Link {
    this.obj.ensureLoaded(`attach ${this.name}`);
    return this.obj.adoptLink(make());
  }

  /** Attaches as the section name says (tracepoint/..., raw_tp/..., tp_btf/..., kprobe/...). */
  attach(): Link {
    if (this.section.startsWith('tracepoint/') || this.section.startsWith('tp/')) requireTracefs();
    return this.link(() => this.raw.attachAuto(this.name));
  }

  attachTracepoint(category: string, event: string): Link {
    requireTracefs();
    return this.link(() => this.raw.attachTracepoint(this.name, category, event));
  }

  attachRawTracepoint(event: string): Link {
    return this.link(() => this.raw.attachRawTracepoint(this.name, event));
  }

  /** tp_btf, fentry and fexit programs: the target comes from the section name. */
  attachTrace(): Link {
    return this.link(() => this.raw.attachTrace(this.name));
  }

  attachKprobe(fn: string, retprobe = false): Link {
    return this.link(() => this.raw.attachKprobe(this.name, fn, retprobe));
  }

  attachUprobe(o: UprobeOptions): Link {
    if (o.function === undefined && o.offset === undefined) throw new TypeError('uprobe needs a function name or an offset');
    if (!existsSync(o.binary)) throw new BpfError(`attach uprobe: ${o.binary} does not exist`, 'attach uprobe', constants.errno.ENOENT);
    return this.link(() => this.raw.attachUprobe(this.name, o.binary, o.function ?? null, o.offset ?? 0, o.pid ?? -1, o.retprobe ?? false));
  }

  /** sockops, cgroup_skb, cgroup_sock...: on a cgroup v2 directory (default: the root, found at run time). */
  attachCgroup(path = cgroup2Root()): Link {
    return this.link(() => this.raw.attachCgroup(this.name, path));
  }

  /** A TC classifier on an interface, chained with the programs already there, never replacing them. */
  attachTc(o: TcAttachOptions): Link {
    if (o.netns !== undefined && typeof o.interface !== 'number') throw new TypeError('attachTc: an interface of another network namespace is given by its index');
    const ifindex = typeof o.interface === 'number' ? o.interface : interfaceIndex(o.interface);
    const netns = o.netns === undefined ? [] : [o.netns];
    const ingress = o.direction === 'ingress';
    const mode = o.mode ?? 'auto';
    if (mode !== 'legacy' && tcxSupported !== false) {
      try {
        const link = this.link(() => this.raw.attachTcx(this.name, ifindex, ingress, o.first ?? false, ...netns));
        tcxSupported = true;
        return link;
      } catch (err) {
        const unsupported = err instanceof BpfError && ['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP'].includes(err.code);
        if (mode === 'tcx' || !unsupported) throw err;
        tcxSupported = false;
      }
    }
    let priority = o.priority ?? (o.first ? 1 : TC_LEGACY_DEFAULT_PRIORITY);
    for (let attempt = 0; ; attempt++) {
      try {
        return this.link(() => this.raw.attachTcLegacy(this.name, ifindex, ingress, priority, TC_LEGACY_HANDLE, ...netns));
      } catch (err) {
        // Another filter holds this priority: never replace it, take the next free one.
        if (o.priority !== undefined || attempt >= 32 || !(err instanceof BpfError && err.code === 'EEXIST')) throw err;
        priority += o.first ? 1 : -1;
      }
    }
  }

  /**
   * A socket filter on a packet socket of its own, bound to one interface (default: all), seeing
   * packets in both directions; it counts what it sees and should return 0 (nothing is queued).
   */
  attachSocketFilter(iface?: string | number): Link {
    const ifindex = iface === undefined ? 0 : typeof iface === 'number' ? iface : interfaceIndex(iface);
    return this.link(() => this.raw.attachSocketFilter(this.name, ifindex));
  }

  /** An iterator program (iter/task_file, iter/tcp...): attached once, run with IterLink.run(). */
  attachIter(): IterLink {
    this.obj.ensureLoaded(`attach ${this.name}`);
    const handle = this.raw.attachIter(this.name);
    const link = new IterLink(handle, this.obj);
    this.obj.trackLink(link);
    return link;
  }

  /**
   * Runs the program once in the kernel without attaching it (BPF_PROG_TEST_RUN; syscall, raw_tp, tc...
   * types). `cpu`: on that CPU (raw_tp programs; Linux 5.10+): from another CPU, in an interrupt
   * there; from that CPU, right away in process context.
   */
  testRun(options: { ctx?: Buffer; data?: Buffer; repeat?: number; cpu?: number } = {}): { retval: number; durationNs: number } {
    this.obj.ensureLoaded(`test run ${this.name}`);
    return native().testRun(this.fd, options);
  }

  /** Run-time statistics (run time and count advance while kernel BPF stats are enabled). */
  stats(): NativeProgStats {
    return native().progInfo(this.fd);
  }

  /** What metrics report of the program: run time and count (while stats are on), recursion misses. */
  runStats(): ProgramRunStats {
    const s = this.stats();
    return { program: this.name, runTimeNs: s.runTimeNs, runCount: s.runCount, recursionMisses: s.recursionMisses };
  }
}

export interface ProgramRunStats {
  program: string;
  runTimeNs: number;
  runCount: number;
  /** Runs the kernel skipped because the program was already running on that CPU (always counted). */
  recursionMisses: number;
}

export function interfaceIndex(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    throw new BpfError(`no network interface named '${name}' in this network namespace`, 'find interface', constants.errno.ENODEV);
  }
}

function encodeGlobal(name: string, value: GlobalValue, size: number): Buffer {
  if (Buffer.isBuffer(value)) return value;
  const buf = Buffer.alloc(size);
  const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
  switch (size) {
    case 1:
      buf.writeUInt8(Number(BigInt.asUintN(8, v)));
      break;
    case 2:
      buf.writeUInt16LE(Number(BigInt.asUintN(16, v)));
      break;
    case 4:
      buf.writeUInt32LE(Number(BigInt.asUintN(32, v)));
      break;
    case 8:
      buf.writeBigUInt64LE(BigInt.asUintN(64, v));
      break;
    default:
      throw new TypeError(`global ${name} is ${size} bytes: pass a Buffer`);
  }
  return buf;
}

export class BpfObject implements Closable {
  private readonly raw: NativeObject;
  private loaded = false;
  private closed = false;
  private readonly links = new Set<Link>();
  private readonly readers = new Set<RingBufReader>();
  private programInfo: NativeProgramInfo[];
  private mapInfo: NativeMapInfo[];
  private readonly globalSizes: Map<string, number>;

  private constructor(
    readonly source: string,
    raw: NativeObject,
  ) {
    this.raw = raw;
    this.programInfo = raw.programs();
    this.mapInfo = raw.maps();
    this.globalSizes = new Map(raw.globals().map((g) => [g.name, g.size]));
  }

  /** Opens an object file (or an ELF image in memory) and applies the options that precede loading. */
  static open(source: string | Buffer, options: OpenOptions = {}): BpfObject {
    const label = typeof source === 'string' ? source : (options.name ?? '<memory>');
    if (typeof source === 'string' && !existsSync(source)) {
      throw new BpfError(`open ${source}: no such file: build the BPF objects with \`make\``, 'open object', constants.errno.ENOENT);
    }
    if (Buffer.isBuffer(source) && (source.length < 4 || source.readUInt32BE(0) !== 0x7f454c46)) {
      throw new BpfError(`open ${label}: not an ELF file (expected a compiled .bpf.o)`, 'open object', constants.errno.ENOEXEC);
    }
    const obj = new BpfObject(label, new (native().NativeObject)(source, options.name));
    register(obj);
    try {
      if (options.layout) obj.checkLayout(options.layout);
      for (const [name, value] of Object.entries(options.globals ?? {})) obj.setGlobal(name, value);
      for (const [name, n] of Object.entries(options.maxEntries ?? {})) obj.setMaxEntries(name, n);
      for (const [name, path] of Object.entries(options.reuseMaps ?? {})) obj.raw.reuseMap(name, path);
      if (options.programs) obj.loadOnly(options.programs);
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
  }

  /** Opens, configures and loads in one step. */
  static load(source: string | Buffer, options: OpenOptions = {}): BpfObject {
    const obj = BpfObject.open(source, options);
    try {
      obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
  }

  private checkOpen = (): void => {
    if (this.closed) throw new BpfError(`${this.source} is closed`, 'use object', constants.errno.EBADF);
  };

  /** Refuses maps whose key or value size differs from what the generated decoders expect. */
  checkLayout(layout: ObjectLayout): void {
    for (const [name, expected] of Object.entries(layout)) {
      const m = this.mapInfo.find((x) => x.name === name);
      if (!m) throw new LayoutMismatchError(`${this.source}: map '${name}' is missing; the generated decoder expects it (rebuild with \`make gen\`)`);
      if (m.type === MapType.ringbuf) continue;
      if (m.keySize !== expected.keySize || m.valueSize !== expected.valueSize) {
        throw new LayoutMismatchError(
          `${this.source}: map '${name}' has key/value of ${m.keySize}/${m.valueSize} bytes but the generated decoder expects ` +
            `${expected.keySize}/${expected.valueSize}: the object and src/**/*.gen.ts are out of step (rebuild with \`make gen\`)`,
        );
      }
    }
  }

  /** Pins a loaded map in bpffs at `path`, for another object to share (OpenOptions.reuseMaps). */
  pinMap(name: string, path: string): void {
    this.ensureLoaded(`pin map ${name}`);
    this.raw.pinMap(name, path);
  }

  setGlobal(name: string, value: GlobalValue): void {
    this.checkOpen();
    const size = this.globalSizes.get(name);
    if (size === undefined) {
      throw new BpfError(`${this.source} has no global variable '${name}' (it has: ${[...this.globalSizes.keys()].join(', ') || 'none'})`, 'set global', constants.errno.ENOENT);
    }
    this.raw.setGlobal(name, encodeGlobal(name, value, size));
  }

  setMaxEntries(map: string, maxEntries: number): void {
    this.checkOpen();
    if (this.loaded) throw new BpfError(`set max_entries of ${map}: the object is already loaded`, 'set max_entries', constants.errno.EBUSY);
    this.raw.setMaxEntries(map, maxEntries);
    this.mapInfo = this.raw.maps();
  }

  /** Loads only the named programs; the others are skipped at load time. */
  loadOnly(programs: string[]): void {
    for (const p of programs) if (!this.programInfo.some((x) => x.name === p)) {
      throw new BpfError(`${this.source} has no program '${p}' (it has: ${this.programInfo.map((x) => x.name).join(', ')})`, 'select programs', constants.errno.ENOENT);
    }
    for (const p of this.programInfo) this.raw.setAutoload(p.name, programs.includes(p.name));
    this.programInfo = this.raw.programs();
  }

  /** Loads every selected program into the kernel; a rejection throws VerifierError with the verifier's log. */
  load(): void {
    this.checkOpen();
    if (this.loaded) return;
    this.raw.load();
    this.loaded = true;
    this.programInfo = this.raw.programs();
    this.mapInfo = this.raw.maps();
  }

  ensureLoaded(what: string): void {
    this.checkOpen();
    if (!this.loaded) throw new BpfError(`${what}: load() the object first`, what, constants.errno.EBADF);
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  programs(): NativeProgramInfo[] {
    return this.programInfo;
  }

  maps(): NativeMapInfo[] {
    return this.mapInfo;
  }

  program(name: string): Program {
    this.checkOpen();
    const info = this.programInfo.find((p) => p.name === name);
    if (!info) throw new BpfError(`${this.source} has no program '${name}' (it has: ${this.programInfo.map((p) => p.name).join(', ')})`, 'find program', constants.errno.ENOENT);
    return new Program(this, this.raw, info);
  }

  programFd(name: string): number {
    return this.programInfo.find((p) => p.name === name)?.fd ?? -1;
  }

  private mapInfoOf(name: string): NativeMapInfo {
    this.checkOpen();
    const info = this.mapInfo.find((m) => m.name === name);
    if (!info) throw new BpfError(`${this.source} has no map '${name}' (it has: ${this.mapInfo.map((m) => m.name).join(', ')})`, 'find map', constants.errno.ENOENT);
    return info;
  }

  /** A typed reader of one map (after load). Without codecs, keys and values are raw bytes. */
  map<K = Uint8Array, V = Uint8Array>(name: string, keyCodec?: Codec<K>, valueCodec?: Codec<V>): MapReader<K, V> {
    this.ensureLoaded(`read map ${name}`);
    const info = this.mapInfoOf(name);
    return new MapReader<K, V>(
      info,
      keyCodec ?? (bytes(info.keySize) as unknown as Codec<K>),
      valueCodec ?? (bytes(info.valueSize) as unknown as Codec<V>),
      this.checkOpen,
    );
  }

  /** A reader of a ring buffer map. `lostMap` names the per-CPU counter its producers bump when the ring is full. */
  ringBuffer(name: string, options: RingBufOptions & { lostMap?: string } = {}): RingBufReader {
    this.ensureLoaded(`read ring buffer ${name}`);
    const info = this.mapInfoOf(name);
    if (info.type !== MapType.ringbuf) throw new NotSupportedError(`ring buffer reads of map '${name}' (${info.typeName})`, 'use map() for this map');
    let kernelLost = options.kernelLost;
    if (options.lostMap) {
      const lost = this.map(options.lostMap);
      kernelLost = () => (this.closed ? 0 : lost.sumPerCpuU64(new Uint8Array(lost.keySize)));
    }
    const reader = new RingBufReader(name, info.fd, { ...options, kernelLost });
    this.readers.add(reader);
    return reader;
  }

  adoptLink(handle: NativeLink): Link {
    const link = new Link(handle, this);
    this.links.add(link);
    return link;
  }

  trackLink(link: Link): void {
    this.links.add(link);
  }

  forgetLink(link: Link): void {
    this.links.delete(link);
  }

  /** Detaches every link, stops ring buffer readers, unloads programs and frees maps. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.readers) r.close();
    this.readers.clear();
    for (const l of [...this.links]) {
      try {
        l.destroy();
      } catch {
        // the native close below detaches whatever is left
      }
    }
    this.raw.close();
    unregister(this);
  }
}
