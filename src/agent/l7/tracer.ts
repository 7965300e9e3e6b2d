// L7Tracer: loads bpf/l7.bpf.o, attaches the syscall tracepoints, the close hook and the process
// announcements, and gives the OpenSSL attacher its uprobe programs.
import { BpfObject, BpfError, VerifierError, NotSupportedError, codec, type Link, type MapReader, type Program, type ProgramRunStats, type RingBufReader, type RecordBatch } from '../../bpf/index.js';
import { repoPath } from '../../lib/paths.js';
import { layout, L7Counter } from '../../bpf/gen/l7.gen.js';
import type { SslSite } from './ssl-sites.js';

export const L7_OBJECT = repoPath('bpf/.output/l7.bpf.o');

/** syscall -> program l7_<name>_exit on syscalls:sys_exit_<syscall> (the arguments are read from the task's registers at exit: no entry hooks). */
const SYSCALLS: ReadonlyArray<readonly [string, string]> = [
  ['read', 'read'],
  ['write', 'write'],
  ['recvfrom', 'recvfrom'],
  ['sendto', 'sendto'],
  ['readv', 'readv'],
  ['writev', 'writev'],
  ['recvmsg', 'recvmsg'],
  ['sendmsg', 'sendmsg'],
  ['sendfile64', 'sendfile'],
];

export interface HookReport {
  group: string;
  what: string;
  hook: string | null;
  fallbacks: Array<{ hook: string; reason: string }>;
}

export interface L7TracerOptions {
  /** The agent's own process: never traced. */
  selfPid: number;
  /** Connections of cgroups the switch does not name are traced (default true). */
  defaultOn?: boolean;
  /** Some cgroup is switched off: the kernel checks a process's cgroup before resolving its descriptors. */
  cgroupFirst?: boolean;
  ringBytes?: number;
  maxConnections?: number;
  /** HTTP/1 exchanges counted in the kernel's l7_agg map instead of one record each (no per-exchange records asked for). */
  aggregate?: boolean;
  onEvents: (batch: RecordBatch) => void;
}

export const COUNTER_NAMES: Record<number, string> = {
  [L7Counter.L7_C_CONN_MAP_FULL]: 'conn_map_full',
  [L7Counter.L7_C_RINGBUF_FULL]: 'ringbuf_full',
  [L7Counter.L7_C_HEADS_BEYOND]: 'heads_beyond_window',
  [L7Counter.L7_C_TLS_UNBOUND]: 'tls_unbound',
  [L7Counter.L7_C_TLS_CALLS]: 'tls_calls',
  [L7Counter.L7_C_SYSCALLS]: 'syscalls',
  [L7Counter.L7_C_MESSAGES]: 'http1_heads',
  [L7Counter.L7_C_H2_FRAMES]: 'h2_frames',
  [L7Counter.L7_C_H2_PARTIAL_HDR]: 'h2_split_frame_headers',
  [L7Counter.L7_C_PENDING_LOST]: 'tls_pending_lost',
  [L7Counter.L7_C_TLS_DEFERRED]: 'tls_deferred',
  [L7Counter.L7_C_TLS_DEFERRED_DONE]: 'tls_deferred_done',
  [L7Counter.L7_C_AGG_FULL]: 'aggregates_full',
};

function reasonOf(err: unknown): string {
  if (err instanceof VerifierError) return `rejected by the verifier: ${err.reason}`;
  if (err instanceof BpfError || err instanceof NotSupportedError) return err.message.split('\n')[0]!;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

export class L7Tracer {
  readonly report: HookReport[] = [];
  readonly events: RingBufReader;
  private readonly counters: MapReader<number, Uint8Array>;
  private readonly cgroups: MapReader<Uint8Array, Uint8Array>;
  /** Exchanges counted in the kernel (struct l7_agg_key -> struct l7_agg_value), read in place. */
  readonly aggregates: MapReader<Uint8Array, Uint8Array>;
  private readonly links: Link[] = [];
  private readonly attached: string[] = [];

  private constructor(
    private readonly obj: BpfObject,
    onEvents: (batch: RecordBatch) => void,
  ) {
    this.counters = obj.map('l7_counters', codec.u32);
    this.cgroups = obj.map('l7_cgroups');
    this.aggregates = obj.map('l7_agg');
    this.events = obj.ringBuffer('l7_events', { handler: onEvents, maxPendingBatches: 64 });
  }

  static open(o: L7TracerOptions): L7Tracer {
    const obj = BpfObject.open(L7_OBJECT, {
      name: 'flowscope_l7',
      layout,
      globals: { targ_self_tgid: o.selfPid, default_on: o.defaultOn === false ? 0 : 1, cgroup_first: o.cgroupFirst || o.defaultOn === false ? 1 : 0, aggregate: o.aggregate ? 1 : 0 },
      maxEntries: { l7_conns: o.maxConnections ?? 65536, ...(o.ringBytes ? { l7_events: o.ringBytes } : {}) },
      // the close hook is chosen at attach time; both are loaded (a kernel without tp_btf rejects one)
    });
    try {
      obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
    const t = new L7Tracer(obj, o.onEvents);
    try {
      t.attachAll();
    } catch (err) {
      t.close();
      throw err;
    }
    return t;
  }

  private tryAttach(group: string, what: string, candidates: Array<{ hook: string; attach: () => Link[] }>, required: boolean): void {
    const entry: HookReport = { group, what, hook: null, fallbacks: [] };
    for (const c of candidates) {
      try {
        this.links.push(...c.attach());
        entry.hook = c.hook;
        break;
      } catch (err) {
        entry.fallbacks.push({ hook: c.hook, reason: `attach failed: ${reasonOf(err)}` });
      }
    }
    this.report.push(entry);
    if (!entry.hook && required) {
      throw new NotSupportedError(`L7 ${group} hook`, `${entry.fallbacks.map((f) => `${f.hook}: ${f.reason}`).join('; ')}; run \`flowscope doctor\``);
    }
  }

  private attachAll(): void {
    const p = (name: string): Program => this.obj.program(name);
    this.tryAttach(
      'data',
      'syscalls:sys_exit_{read,write,recvfrom,sendto,readv,writev,recvmsg,sendmsg,sendfile64}',
      [
        {
          hook: 'tracepoint',
          attach: () => {
            const links: Link[] = [];
            try {
              for (const [sc, prog] of SYSCALLS) {
                links.push(p(`l7_${prog}_exit`).attachTracepoint('syscalls', `sys_exit_${sc}`));
              }
            } catch (err) {
              for (const l of links) l.destroy();
              throw err;
            }
            return links;
          },
        },
      ],
      true,
    );
    this.tryAttach(
      'close',
      'sock:inet_sock_set_state (a connection that closes ends its response)',
      [
        { hook: 'tp_btf', attach: () => [p('l7_state_btf').attachTrace()] },
        { hook: 'raw_tp', attach: () => [p('l7_state_raw').attachRawTracepoint('inet_sock_set_state')] },
      ],
      true,
    );
    this.tryAttach(
      'processes',
      'sched:sched_process_exec and sched_process_exit (OpenSSL found in processes as they start)',
      [{ hook: 'tracepoint', attach: () => [p('l7_exec').attachTracepoint('sched', 'sched_process_exec'), p('l7_exit').attachTracepoint('sched', 'sched_process_exit')] }],
      false,
    );
  }

  /**
   * Attaches the probes of one site in one file (a library or an executable): reads need their return
   * (the bytes read are there only then); writes only their entry (the plaintext is there, and a
   * return probe costs a second trap per call).
   */
  attachSsl(binary: string, site: SslSite): Link[] {
    const at = 'function' in site.target ? { function: site.target.function } : { offset: site.target.offset };
    if (site.returns === 'write' || site.returns === 'write_ex') {
      return [this.obj.program(site.returns === 'write' ? 'ssl_write_enter_int' : 'ssl_write_enter_ex').attachUprobe({ binary, ...at })];
    }
    const exit = site.returns === 'read' ? 'ssl_read_exit' : 'ssl_read_ex_exit';
    const entry = this.obj.program('ssl_enter').attachUprobe({ binary, ...at });
    try {
      return [entry, this.obj.program(exit).attachUprobe({ binary, ...at, retprobe: true })];
    } catch (err) {
      entry.destroy();
      throw err;
    }
  }

  /** Switches tracing on or off for connections first used by processes of a cgroup. */
  setCgroup(cgroupId: number | bigint, on: boolean): void {
    const key = Buffer.alloc(8);
    key.writeBigUInt64LE(BigInt(cgroupId));
    this.cgroups.set(key, Uint8Array.of(on ? 1 : 2));
  }

  clearCgroup(cgroupId: number | bigint): void {
    const key = Buffer.alloc(8);
    key.writeBigUInt64LE(BigInt(cgroupId));
    this.cgroups.delete(key);
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, name] of Object.entries(COUNTER_NAMES)) out[name] = this.counters.sumPerCpuU64(Number(k));
    return out;
  }

  programStats(): ProgramRunStats[] {
    return this.obj.programs().filter((p) => p.fd >= 0).map((p) => this.obj.program(p.name).runStats());
  }

  close(): void {
    for (const l of this.links) {
      try {
        l.destroy();
      } catch {
        // detached with the object
      }
    }
    this.obj.close();
  }
}
