// One configured program set: open the ELF, check every metric against its map, load (the verifier's
// reason on rejection), attach each program (inferred from its SEC name unless configured), and
// render its maps as metrics. Every failure is caught here and reported with its stage, so one bad
// program never stops the others.
import { openSync, readSync, closeSync, existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { BpfObject, VerifierError, NotSupportedError, features, type MapReader, type Program, type ProgramRunStats, type Link } from '../bpf/index.js';
import type { ProgramConfig } from './config.js';
import type { AttachSpec } from './schema.js';
import { HistogramMetric, MapLayoutError, ValueMetric, type MapMetric, type ScrapeStats } from './metrics.js';
import type { DecoderEnv } from './decoders/index.js';
import type { ProgramAttachResult as AttachResult, ProgramStage as Stage, ProgramStatus } from '../model/capabilities.js';

export type { ProgramAttachResult as AttachResult, ProgramStage as Stage, ProgramStatus } from '../model/capabilities.js';

/** Raised inside the loader; carries the stage for the status. */
class StageError extends Error {
  constructor(
    readonly stage: Stage,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function checkElf(path: string): void {
  if (!existsSync(path)) throw new StageError('open', `object ${path} does not exist: compile the program (clang -O2 -g -target bpf -c prog.bpf.c -o prog.bpf.o) or fix 'object'`);
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n < 4 || head.readUInt32BE(0) !== 0x7f454c46) {
      throw new StageError('open', `object ${path} is not an ELF file (expected a .bpf.o compiled with clang -target bpf)`);
    }
  } finally {
    closeSync(fd);
  }
}

function cgroupPath(p: string | undefined): string {
  const root = features.cgroup2Root();
  if (!p) return root;
  return isAbsolute(p) && p.startsWith(root) ? p : join(root, p);
}

/** Attaches one program as configured, or as its SEC name and type say. */
function attachProgram(prog: Program, spec: AttachSpec | undefined): { link: Link; target: string } {
  const sec = prog.section;
  const type = prog.typeName;
  if (spec?.tracepoint) {
    const [cat, ev] = spec.tracepoint.split('/') as [string, string];
    return { link: prog.attachTracepoint(cat, ev), target: `tracepoint ${spec.tracepoint}` };
  }
  if (spec?.raw_tp) return { link: prog.attachRawTracepoint(spec.raw_tp), target: `raw_tp ${spec.raw_tp}` };
  if (spec?.uprobe) {
    const u = spec.uprobe;
    return { link: prog.attachUprobe(u), target: `uprobe ${u.binary}:${u.function ?? `0x${(u.offset ?? 0).toString(16)}`}` };
  }
  if (type === 'sched_cls' || type === 'sched_act' || /^(tc|tcx|classifier)(\/|$)/.test(sec)) {
    const dirFromSec = /ingress/.test(sec) ? 'ingress' : /egress/.test(sec) ? 'egress' : undefined;
    if (!spec?.tc) {
      throw new StageError('attach', `program ${prog.name} (SEC("${sec}")) is a TC classifier: say where with programs: [{name: ${prog.name}, attach: {tc: {interface: IFACE, direction: ingress}}}]`);
    }
    const direction = spec.tc.direction ?? dirFromSec ?? 'ingress';
    return { link: prog.attachTc({ interface: spec.tc.interface, direction, mode: spec.tc.mode }), target: `tc ${spec.tc.interface} ${direction}` };
  }
  if (type === 'sock_ops' || type === 'cgroup_skb' || type.startsWith('cgroup_') || type === 'cgroup_sock' || type === 'cgroup_sock_addr') {
    const path = cgroupPath(spec?.cgroup?.path);
    return { link: prog.attachCgroup(path), target: `cgroup ${path}` };
  }
  if (type === 'socket_filter') {
    const iface = spec?.socket?.interface;
    return { link: prog.attachSocketFilter(iface), target: `socket ${iface ?? 'all interfaces'}` };
  }
  if (type === 'xdp') throw new NotSupportedError(`XDP program ${prog.name}`, 'flowscope attaches TC classifiers for packet counting: use SEC("tc")');
  if ((type === 'kprobe' && /^u(ret)?probe\/?$/.test(sec)) || sec === 'uprobe' || sec === 'uretprobe') {
    throw new StageError('attach', `program ${prog.name} (SEC("${sec}")) needs a target: attach: {uprobe: {binary: PATH, function: NAME}}`);
  }
  return { link: prog.attach(), target: sec };
}

/** The status of a program before (or instead of) loading it. */
export function notLoadedStatus(config: ProgramConfig): ProgramStatus {
  return { name: config.name, source: config.source, format: config.format, loaded: false, attached: [], metrics: [], warnings: [...config.warnings] };
}

export class LoadedProgram {
  private obj: BpfObject | undefined;
  private readonly links: Link[] = [];
  private readonly readers = new Map<string, MapReader<Uint8Array, Uint8Array>>();
  private metrics: MapMetric[] = [];
  readonly status: ProgramStatus;
  /** Keys dropped by decoders, per metric (cumulative). */
  readonly skipped = new Map<string, number>();
  readErrors = 0;
  lastRenderSeconds = 0;
  readonly entries = new Map<string, number>();

  private constructor(readonly config: ProgramConfig) {
    this.status = notLoadedStatus(config);
  }

  get ok(): boolean {
    return this.status.error === undefined;
  }

  /** Opens, checks, loads and attaches; never throws: a failure is in `status.error`, and nothing stays loaded. */
  static start(config: ProgramConfig, env: DecoderEnv): LoadedProgram {
    const p = new LoadedProgram(config);
    try {
      p.run(env);
    } catch (err) {
      const stage = err instanceof StageError ? err.stage : err instanceof VerifierError ? 'load' : 'open';
      p.status.error = {
        stage,
        message: messageOf(err),
        ...(err instanceof VerifierError ? { reason: err.reason } : err instanceof StageError && err.reason ? { reason: err.reason } : {}),
      };
      p.close();
      p.status.loaded = false;
    }
    return p;
  }

  private run(env: DecoderEnv): void {
    const { spec, object, name } = this.config;
    if ('path' in object) checkElf(object.path);
    else if (object.bytes.length < 4 || object.bytes.readUInt32BE(0) !== 0x7f454c46) {
      throw new StageError('open', 'object_base64 does not hold an ELF file (expected a .bpf.o compiled with clang -target bpf, base64-encoded)');
    }
    try {
      this.obj = BpfObject.open('path' in object ? object.path : object.bytes, { name: name.slice(0, 15) });
    } catch (err) {
      throw new StageError('open', messageOf(err));
    }
    const obj = this.obj;
    try {
      for (const [g, v] of Object.entries(spec.globals ?? {})) obj.setGlobal(g, v);
      for (const [m, n] of Object.entries(spec.max_entries ?? {})) obj.setMaxEntries(m, n);
    } catch (err) {
      throw new StageError('open', messageOf(err));
    }

    // Every metric against its map, before anything reaches the kernel.
    const prefix = spec.metric_prefix ?? '';
    const metrics: MapMetric[] = [
      ...(spec.metrics.counters ?? []).map((c) => new ValueMetric('counter', c, env, prefix)),
      ...(spec.metrics.gauges ?? []).map((c) => new ValueMetric('gauge', c, env, prefix)),
      ...(spec.metrics.histograms ?? []).map((h) => new HistogramMetric(h, env, prefix)),
    ];
    const maps = obj.maps().filter((m) => !m.internal);
    for (const m of metrics) {
      const shape = maps.find((x) => x.name === m.map);
      if (!shape) {
        throw new StageError('metrics', `metric ${m.name}: the object has no map '${m.map}' (it has: ${maps.map((x) => x.name).join(', ') || 'none'}): name the map with map: NAME or fix the metric name`);
      }
      try {
        m.bind(shape);
      } catch (err) {
        throw new StageError('metrics', err instanceof MapLayoutError ? err.message : messageOf(err));
      }
    }
    this.metrics = metrics;
    this.status.metrics = metrics.map((m) => m.fullName);

    // Which programs, and how they attach.
    const settings = new Map((spec.programs ?? []).map((p) => [p.name, p]));
    const all = obj.programs();
    for (const s of settings.keys()) {
      if (!all.some((p) => p.name === s)) throw new StageError('open', `programs: the object has no program '${s}' (it has: ${all.map((p) => p.name).join(', ')})`);
    }
    const enabled = all.filter((p) => settings.get(p.name)?.enabled !== false).map((p) => p.name);
    if (enabled.length === 0) throw new StageError('open', 'no program to load: the object has none, or all are disabled');
    if (enabled.length < all.length) obj.loadOnly(enabled);

    try {
      obj.load();
    } catch (err) {
      if (err instanceof VerifierError) throw err;
      throw new StageError('load', messageOf(err));
    }
    this.status.loaded = true;
    for (const m of metrics) if (!this.readers.has(m.map)) this.readers.set(m.map, obj.map(m.map));

    let failed: AttachResult | undefined;
    for (const pname of enabled) {
      const prog = obj.program(pname);
      try {
        const { link, target } = attachProgram(prog, settings.get(pname)?.attach);
        this.links.push(link);
        this.status.attached.push({ program: pname, section: prog.section, target, ok: true });
      } catch (err) {
        const r = { program: pname, section: prog.section, target: '', ok: false, error: messageOf(err) };
        this.status.attached.push(r);
        failed ??= r;
      }
    }
    if (failed) {
      throw new StageError('attach', `program ${failed.program} (SEC("${failed.section}")) did not attach: ${failed.error}`);
    }
  }

  /** The metrics of this program set, in exposition format. */
  render(out: string[]): void {
    if (!this.ok || !this.obj) return;
    const started = process.hrtime.bigint();
    const batches = new Map<string, ReturnType<MapReader<Uint8Array, Uint8Array>['readAll']>>();
    for (const m of this.metrics) {
      try {
        let batch = batches.get(m.map);
        if (!batch) {
          batch = this.readers.get(m.map)!.readAll();
          batches.set(m.map, batch);
          this.entries.set(m.map, batch.count);
        }
        const stats: ScrapeStats = { keys: 0, skipped: 0 };
        const before = out.length;
        try {
          m.render(batch, out, stats);
        } catch (err) {
          out.length = before;
          throw err;
        }
        if (stats.skipped) this.skipped.set(m.name, (this.skipped.get(m.name) ?? 0) + stats.skipped);
      } catch {
        this.readErrors++;
      }
    }
    this.lastRenderSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  }

  /** The reader of an exported map (after a successful start), for tools and benchmarks. */
  mapReader(name: string): MapReader<Uint8Array, Uint8Array> | undefined {
    return this.readers.get(name);
  }

  /**
   * Kernel statistics of each attached program: run time and count advance while BPF stats are on;
   * recursion misses (runs the kernel skipped because the program was already running on that CPU)
   * are always counted.
   */
  programStats(): ProgramRunStats[] {
    if (!this.obj || !this.ok) return [];
    return this.status.attached.filter((a) => a.ok).map((a) => this.obj!.program(a.program).runStats());
  }


  close(): void {
    for (const l of this.links.splice(0)) {
      try {
        l.destroy();
      } catch {
        // closing the object detaches what is left
      }
    }
    this.readers.clear();
    this.obj?.close();
    this.obj = undefined;
  }
}

