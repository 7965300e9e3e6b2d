// Attach-type probes: each attach type is actually tried with a tiny program (bpf/probe.bpf.c),
// loaded on its own so that one the kernel rejects does not hide the others.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { repoPath } from '../lib/paths.js';
import { BpfObject, type Link, type Program } from './object.js';
import { BpfError, VerifierError, NotSupportedError } from './errors.js';
import * as codec from './codec.js';
import { cgroup2Root, ensureTracefs, onlineCpus } from './features.js';
import { native } from './native.js';

export const PROBE_OBJECT = repoPath('bpf/.output/probe.bpf.o');

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export type AttachKind = 'tracepoint' | 'raw_tp' | 'tp_btf' | 'fentry' | 'kprobe' | 'sockops' | 'cgroup_skb' | 'tc' | 'uprobe';

export const ATTACH_KINDS: AttachKind[] = ['tracepoint', 'raw_tp', 'tp_btf', 'fentry', 'kprobe', 'sockops', 'cgroup_skb', 'tc', 'uprobe'];

function describe(err: unknown): string {
  if (err instanceof VerifierError) return `verifier: ${err.reason}`;
  if (err instanceof BpfError) return `${err.message.split('\n')[0]!.replace(/: [^:]*$/, '')}: ${err.code}`;
  if (err instanceof NotSupportedError) return err.message;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** The C library this process maps (for a uprobe target every Linux process has). */
function libcPath(): string | undefined {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const path = line.split(/\s+/)[5];
    if (path && /\/libc(\.so\.6|-[\d.]+\.so)$/.test(path)) return path;
  }
  return undefined;
}

/** A throwaway veth pair for the TC probe, so that no real interface is touched. */
function withScratchInterface<T>(fn: (name: string) => T): T {
  const name = `fsprobe${process.pid % 100000}`;
  try {
    execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`], { stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot create a scratch veth pair for the probe: ${stderr || String(err)}`);
  }
  try {
    return fn(name);
  } finally {
    try {
      execFileSync('ip', ['link', 'del', name], { stdio: 'pipe' });
    } catch {
      // already gone
    }
  }
}

function attachOne(kind: AttachKind, prog: Program): { link: Link; detail: string } {
  switch (kind) {
    case 'tracepoint': {
      const t = ensureTracefs();
      if (!t.path) throw new NotSupportedError('tracefs', t.error ?? 'not mounted');
      return { link: prog.attachTracepoint('sock', 'inet_sock_set_state'), detail: `sock:inet_sock_set_state${t.mountedNow ? ` (mounted tracefs at ${t.path})` : ''}` };
    }
    case 'raw_tp':
      return { link: prog.attachRawTracepoint('inet_sock_set_state'), detail: 'inet_sock_set_state' };
    case 'tp_btf':
    case 'fentry':
      return { link: prog.attachTrace(), detail: prog.section };
    case 'kprobe':
      return { link: prog.attachKprobe('tcp_v4_connect'), detail: 'tcp_v4_connect' };
    case 'sockops':
    case 'cgroup_skb': {
      const root = cgroup2Root();
      return { link: prog.attachCgroup(root), detail: `cgroup v2 root ${root}` };
    }
    case 'tc':
      return withScratchInterface((ifname) => {
        const link = prog.attachTc({ interface: ifname, direction: 'ingress' });
        const mode = link.description.startsWith('tcx') ? 'tcx link' : 'legacy cls_bpf filter';
        return { link, detail: mode };
      });
    case 'uprobe': {
      const libc = libcPath();
      if (!libc) throw new NotSupportedError('uprobe target', 'no libc mapped in this process');
      return { link: prog.attachUprobe({ binary: libc, function: 'getppid', pid: process.pid }), detail: `${libc}:getppid` };
    }
  }
}

/** Loads and attaches the probe program for one attach type, then detaches and unloads it. */
export function probeAttach(kind: AttachKind, objectPath = PROBE_OBJECT): ProbeResult {
  const progName = `probe_${kind}`;
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(objectPath, { programs: [progName] });
    obj.load();
    const { link, detail } = attachOne(kind, obj.program(progName));
    link.destroy();
    return { ok: true, detail };
  } catch (err) {
    return { ok: false, detail: describe(err) };
  } finally {
    obj?.close();
  }
}

/** Whether whole-map batch reads work (kernel 5.6+), or the readers fall back to iteration. */
export function probeBatchOps(objectPath = PROBE_OBJECT): ProbeResult {
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(objectPath, { programs: [] });
    obj.load();
    const m = obj.map('probe_batch', codec.u32, codec.u64);
    for (let i = 0; i < 10; i++) m.set(i, i * 2);
    const batch = m.readAll();
    const drained = m.readAll({ drain: true });
    const left = m.readAll().count;
    const ok = m.mode === 'batch' && batch.count === 10 && drained.count === 10 && left === 0;
    return { ok, detail: ok ? 'lookup and lookup-and-delete batches' : `falling back to iteration (read ${batch.count}/10)` };
  } catch (err) {
    return { ok: false, detail: describe(err) };
  } finally {
    obj?.close();
  }
}

export function probeBpfStats(): ProbeResult {
  try {
    native().closeFd(native().enableStats());
    return { ok: true, detail: 'BPF_ENABLE_STATS (per-program run time and count)' };
  } catch (err) {
    return { ok: false, detail: describe(err) };
  }
}

let runOnCpu: ProbeResult | undefined;

/**
 * Whether a program can be run on a chosen CPU (BPF_PROG_TEST_RUN with BPF_F_TEST_RUN_ON_CPU, Linux
 * 5.10+): the flow classifier's edge cache needs it for its flush. Tried on every online CPU (the
 * program says where it ran); cached for the process.
 */
export function probeRunOnCpu(objectPath = PROBE_OBJECT): ProbeResult {
  if (runOnCpu) return runOnCpu;
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(objectPath, { programs: ['probe_run_on_cpu'] });
    obj.load();
    const prog = obj.program('probe_run_on_cpu');
    const cpus = onlineCpus();
    for (const cpu of cpus) {
      const { retval } = prog.testRun({ cpu });
      if (retval !== 1000 + cpu) return (runOnCpu = { ok: false, detail: `asked for CPU ${cpu}, ran on ${retval - 1000}` });
    }
    return (runOnCpu = { ok: true, detail: `BPF_F_TEST_RUN_ON_CPU on ${cpus.length} online CPU(s)` });
  } catch (err) {
    return (runOnCpu = { ok: false, detail: describe(err) });
  } finally {
    obj?.close();
  }
}
