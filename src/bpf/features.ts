// What this node offers: found at run time, never assumed. Results are cached per process.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import { native } from './native.js';
import { NotSupportedError } from './errors.js';

/** Mount point of the cgroup v2 hierarchy (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones). */
export function findCgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    // "36 25 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw"
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint) mounts.push(mountPoint.replace(/\\040/g, ' '));
  }
  return mounts.find((m) => m === '/sys/fs/cgroup') ?? mounts.find((m) => m.startsWith('/sys/fs/cgroup')) ?? mounts[0];
}

let cgroupRoot: string | undefined;
export function cgroup2Root(): string {
  cgroupRoot ??= findCgroup2Mount();
  if (!cgroupRoot) {
    throw new NotSupportedError('cgroup v2', 'mount it: `mount -t cgroup2 none /sys/fs/cgroup/unified` (or boot with systemd.unified_cgroup_hierarchy=1)');
  }
  return cgroupRoot;
}

const TRACEFS_PATHS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export interface TracefsState {
  path: string | undefined;
  mountedNow: boolean;
  error?: string;
}

let tracefs: TracefsState | undefined;

/** Finds tracefs (which classic tracepoints need), mounting it when absent and permitted. */
export function ensureTracefs(): TracefsState {
  if (tracefs?.path) return tracefs;
  const present = TRACEFS_PATHS.find((p) => existsSync(`${p}/events`));
  if (present) return (tracefs = { path: present, mountedNow: false });
  try {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing'], { stdio: 'pipe' });
    return (tracefs = { path: '/sys/kernel/tracing', mountedNow: true });
  } catch (err) {
    const message = err instanceof Error && 'stderr' in err ? String((err as { stderr: unknown }).stderr).trim() : String(err);
    return (tracefs = { path: undefined, mountedNow: false, error: message || 'mount failed' });
  }
}

export function requireTracefs(): string {
  const t = ensureTracefs();
  if (!t.path) throw new NotSupportedError('tracefs', `mount it: \`mount -t tracefs tracefs /sys/kernel/tracing\` (${t.error ?? 'not mounted'})`);
  return t.path;
}

export function kernelRelease(): string {
  return release();
}

/** [major, minor] of the running kernel. */
export function kernelVersion(rel = release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export function hasKernelBtf(): boolean {
  return existsSync('/sys/kernel/btf/vmlinux');
}

// Capability bit numbers (linux/capability.h).
export const Cap = { NET_ADMIN: 12, SYS_ADMIN: 21, SYS_PTRACE: 19, SYS_RESOURCE: 24, PERFMON: 38, BPF: 39 } as const;

/** Effective capabilities of this process. */
export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function hasCapability(cap: number, caps = effectiveCapabilities()): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

/** Whether this process may load tracing BPF programs: root, or CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN. */
export function canUseBpf(caps = effectiveCapabilities()): boolean {
  return hasCapability(Cap.SYS_ADMIN, caps) || (hasCapability(Cap.BPF, caps) && hasCapability(Cap.PERFMON, caps));
}

const progTypeCache = new Map<string, boolean>();
const mapTypeCache = new Map<string, boolean>();

function typeIndex(names: string[], name: string, what: string): number {
  const i = names.indexOf(name);
  if (i < 0) throw new TypeError(`unknown ${what} '${name}' (libbpf knows: ${names.join(', ')})`);
  return i;
}

/** Whether the kernel can load programs of this type (libbpf name, e.g. 'sched_cls'). */
export function probeProgType(name: string): boolean {
  let v = progTypeCache.get(name);
  if (v === undefined) {
    const addon = native();
    v = addon.probeProgType(typeIndex(addon.progTypeNames(), name, 'program type')) === 1;
    progTypeCache.set(name, v);
  }
  return v;
}

/** Whether the kernel can create maps of this type (libbpf name, e.g. 'ringbuf'). */
export function probeMapType(name: string): boolean {
  let v = mapTypeCache.get(name);
  if (v === undefined) {
    const addon = native();
    v = addon.probeMapType(typeIndex(addon.mapTypeNames(), name, 'map type')) === 1;
    mapTypeCache.set(name, v);
  }
  return v;
}

/** CPU numbers of a kernel CPU list ("0-3,8,10-11"), as in /sys/devices/system/cpu/online. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a CPU list: '${list.trim()}'`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** The CPUs online now. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
