// What this node can do, check by check, with the exact fix for what is missing.
import { existsSync } from 'node:fs';
import { hostname, machine } from 'node:os';
import { bpfSyscallErrno, mapTypeNames, probeMapType, probeProgramType, programTypeNames } from '../bpf/kernel.js';
import { openLinkWatcher } from '../bpf/netlink.js';
import {
  Cap,
  canUseBpf,
  effectiveCapabilities,
  ensureTracefs,
  findCgroup2Mount,
  hasCapability,
  hasKernelBtf,
  kernelRelease,
} from '../bpf/features.js';
import { ATTACH_KINDS, PROBE_OBJECT, probeAttach, probeBatchOps, probeBpfStats, probeRunOnCpu, type AttachKind } from '../bpf/probes.js';
import { errnoName } from '../bpf/errors.js';
import { forEachLinkMessage, RTM_NEWLINK } from '../bpf/netlink-messages.js';
import { devNames } from '../lib/procnet.js';

export interface Check {
  id: string;
  title: string;
  ok: boolean;
  /** 'untested' when a prerequisite (privileges, the probe object) was missing. */
  status: 'ok' | 'missing' | 'untested';
  /** The agent cannot run without it. */
  required: boolean;
  detail: string;
  /** What to do when it is missing. */
  fix?: string;
}

export interface DoctorReport {
  node: string;
  kernel: { release: string; arch: string };
  checks: Check[];
  programTypes: Record<string, boolean>;
  mapTypes: Record<string, boolean>;
  canRunAgent: boolean;
  /** Why the agent cannot run (empty when it can). */
  reasons: string[];
  /** Hooks the agent will use on this node, best first. */
  agentHooks: { lifecycle: string | undefined; sockops: boolean };
}

const ATTACH_FIX: Record<AttachKind, string> = {
  tracepoint: 'mount tracefs (`mount -t tracefs tracefs /sys/kernel/tracing`); kernels need CONFIG_TRACEPOINTS',
  raw_tp: 'needs Linux 4.17+ with CONFIG_BPF_EVENTS',
  tp_btf: 'needs Linux 5.5+ with BTF (CONFIG_DEBUG_INFO_BTF=y); flowscope falls back to raw_tp, then tracepoint',
  fentry: 'needs Linux 5.5+ with BPF trampolines (CONFIG_FUNCTION_TRACER, x86_64 or arm64); flowscope does not need fentry',
  kprobe: 'needs a kernel built with CONFIG_KPROBES and CONFIG_KPROBE_EVENTS; flowscope does not need kprobes',
  sockops: 'needs Linux 4.13+ and cgroup v2 mounted (see the cgroup v2 check)',
  cgroup_skb: 'needs Linux 4.10+ and cgroup v2 mounted (see the cgroup v2 check)',
  tc: 'needs CONFIG_NET_CLS_BPF and CONFIG_NET_SCH_INGRESS (clsact), or Linux 6.6+ for tcx; and `ip` from iproute2 for this probe',
  uprobe: 'needs a kernel built with CONFIG_UPROBES and CONFIG_UPROBE_EVENTS',
};

const ATTACH_TITLE: Record<AttachKind, string> = {
  tracepoint: 'attach tracepoint',
  raw_tp: 'attach raw_tp',
  tp_btf: 'attach tp_btf',
  fentry: 'attach fentry',
  kprobe: 'attach kprobe',
  sockops: 'attach sockops',
  cgroup_skb: 'attach cgroup_skb',
  tc: 'attach TC',
  uprobe: 'attach uprobe',
};

function capabilityNames(caps: bigint): string {
  return Object.entries(Cap)
    .filter(([, bit]) => hasCapability(bit, caps))
    .map(([name]) => `CAP_${name}`)
    .join(' ');
}

export function buildReport(): DoctorReport {
  const checks: Check[] = [];
  const add = (c: Omit<Check, 'status'> & { untested?: boolean }): Check => {
    const { untested, ...rest } = c;
    const check: Check = { ...rest, status: c.ok ? 'ok' : untested ? 'untested' : 'missing' };
    checks.push(check);
    return check;
  };
  const caps = effectiveCapabilities();
  const uid = process.getuid?.() ?? -1;
  const privileged = add({
    id: 'privileges',
    title: 'privileges',
    ok: canUseBpf(caps) && hasCapability(Cap.NET_ADMIN, caps),
    required: true,
    detail: `uid ${uid}; ${capabilityNames(caps) || 'no capabilities'}`,
    fix: 'run as root (sudo flowscope ...), or grant CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_RESOURCE and CAP_SYS_PTRACE',
  }).ok;

  const syscallErrno = bpfSyscallErrno();
  const syscallOk = add({
    id: 'bpf_syscall',
    title: 'bpf() syscall',
    ok: syscallErrno === 0,
    required: true,
    detail: syscallErrno === 0 ? 'available' : `bpf(2) fails with ${errnoName(syscallErrno)}`,
    fix:
      syscallErrno === 38
        ? 'this kernel was built without CONFIG_BPF_SYSCALL: use a kernel that has it'
        : 'run as root, and without a seccomp profile that blocks bpf(2) (containers: seccompProfile Unconfined or a profile allowing bpf)',
  }).ok;

  add({
    id: 'btf',
    title: 'kernel BTF',
    ok: hasKernelBtf(),
    required: true,
    detail: hasKernelBtf() ? '/sys/kernel/btf/vmlinux' : '/sys/kernel/btf/vmlinux is missing',
    fix: 'boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+, Ubuntu 20.10+, RHEL 8.2+, Fedora 31+ ship one)',
  });

  const cg = findCgroup2Mount();
  add({
    id: 'cgroup_v2',
    title: 'cgroup v2 mount',
    ok: cg !== undefined,
    required: true,
    detail: cg ?? 'no cgroup2 filesystem mounted',
    fix: 'mount it: `mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified`',
  });

  const t = privileged ? ensureTracefs() : { path: undefined, mountedNow: false, error: 'not tried: needs root' };
  add({
    id: 'tracefs',
    title: 'tracefs',
    ok: t.path !== undefined,
    untested: !privileged,
    required: false,
    detail: t.path ? `${t.path}${t.mountedNow ? ' (mounted by doctor)' : ''}` : (t.error ?? 'not mounted'),
    fix: 'mount it: `mount -t tracefs tracefs /sys/kernel/tracing` (needed for classic tracepoints only)',
  });

  const canProbe = privileged && syscallOk && existsSync(PROBE_OBJECT);
  const notTried = !existsSync(PROBE_OBJECT) ? `not tried: ${PROBE_OBJECT} is missing (run make)` : 'not tried: needs root';
  const attach: Partial<Record<AttachKind, boolean>> = {};
  for (const kind of ATTACH_KINDS) {
    const r = canProbe ? probeAttach(kind) : { ok: false, detail: notTried };
    attach[kind] = r.ok;
    add({
      id: `attach_${kind}`,
      title: ATTACH_TITLE[kind],
      ok: r.ok,
      untested: !canProbe,
      required: kind === 'sockops',
      detail: r.detail,
      fix: ATTACH_FIX[kind],
    });
  }
  const lifecycle = (['tp_btf', 'raw_tp', 'tracepoint'] as const).find((k) => attach[k]);
  add({
    id: 'lifecycle_hook',
    title: 'TCP lifecycle hook',
    ok: lifecycle !== undefined,
    untested: !canProbe,
    required: true,
    detail: lifecycle ? `sock:inet_sock_set_state via ${lifecycle}` : 'none of tp_btf, raw_tp, tracepoint attached',
    fix: 'the agent needs one of tp_btf, raw_tp or tracepoint on sock:inet_sock_set_state (Linux 4.16+)',
  });

  const progNames = privileged && syscallOk ? programTypeNames() : [];
  const mapNames = privileged && syscallOk ? mapTypeNames() : [];
  const programTypes: Record<string, boolean> = {};
  const mapTypes: Record<string, boolean> = {};
  progNames.forEach((name, i) => {
    if (name !== 'unspec') programTypes[name] = privileged && probeProgramType(i) === 1;
  });
  mapNames.forEach((name, i) => {
    if (name !== 'unspec') mapTypes[name] = privileged && probeMapType(i) === 1;
  });

  // libbpf probes the tracing type with an fentry-style load; tp_btf programs are of that type too.
  if (attach.tp_btf) programTypes.tracing = true;
  add({
    id: 'ringbuf',
    title: 'ring buffer',
    ok: mapTypes.ringbuf === true,
    untested: !privileged,
    required: true,
    detail: mapTypes.ringbuf ? 'BPF_MAP_TYPE_RINGBUF' : privileged ? 'BPF_MAP_TYPE_RINGBUF cannot be created' : 'not tried: needs root',
    fix: 'needs Linux 5.8+',
  });
  for (const [id, title] of [['percpu_hash', 'per-CPU hash maps'], ['lru_hash', 'LRU hash maps']] as const) {
    add({
      id,
      title,
      ok: mapTypes[id] === true,
      untested: !privileged,
      required: true,
      detail: mapTypes[id] ? 'available' : privileged ? 'cannot be created' : 'not tried: needs root',
      fix: 'needs Linux 4.10+',
    });
  }
  const batch = canProbe ? probeBatchOps() : { ok: false, detail: notTried };
  add({ id: 'batch_ops', title: 'batch map reads', ok: batch.ok, untested: !canProbe, required: false, detail: batch.detail, fix: 'needs Linux 5.6+; without it maps are read key by key (slower, same results)' });
  const stats = privileged && syscallOk ? probeBpfStats() : { ok: false, detail: 'not tried: needs root' };
  add({ id: 'bpf_stats', title: 'BPF run-time statistics', ok: stats.ok, untested: !(privileged && syscallOk), required: false, detail: stats.detail, fix: 'needs Linux 5.8+ (BPF_ENABLE_STATS); or `sysctl -w kernel.bpf_stats_enabled=1`' });

  const onCpu = canProbe ? probeRunOnCpu() : { ok: false, detail: notTried };
  add({ id: 'run_on_cpu', title: 'programs run on a chosen CPU', ok: onCpu.ok, untested: !canProbe, required: false, detail: onCpu.detail, fix: 'needs Linux 5.10+ (BPF_F_TEST_RUN_ON_CPU); without it the flow classifier counts edges without its per-CPU cache (~45 ns more per packet)' });

  const links = probeLinkEvents();
  add({ id: 'link_events', title: 'netlink link events', ok: links.ok, untested: false, required: false, detail: links.detail, fix: 'the flow classifier then finds interfaces by polling /proc/self/net/dev every interval (up to one interval late); check that a seccomp or LSM policy allows NETLINK_ROUTE sockets' });

  // Untested checks are not reasons of their own: the missing prerequisite is.
  const reasons = checks.filter((c) => c.required && c.status === 'missing').map((c) => `${c.title}: ${c.detail}; fix: ${c.fix}`);
  return {
    node: hostname(),
    kernel: { release: kernelRelease(), arch: machine() },
    checks,
    programTypes,
    mapTypes,
    canRunAgent: checks.every((c) => !c.required || c.ok),
    reasons,
    agentHooks: { lifecycle, sockops: attach.sockops === true },
  };
}

/** Opens the agent's link watcher (NETLINK_ROUTE, RTMGRP_LINK) and checks its dump against the kernel's device list. */
function probeLinkEvents(): { ok: boolean; detail: string } {
  let watcher;
  try {
    watcher = openLinkWatcher(() => undefined, {});
  } catch (err) {
    return { ok: false, detail: `cannot open a NETLINK_ROUTE socket: ${err instanceof Error ? err.message : String(err)}` };
  }
  try {
    const names = new Set<string>();
    forEachLinkMessage(watcher.takeInitial(), (m) => {
      if (m.type === RTM_NEWLINK && m.name) names.add(m.name);
    });
    const devices = devNames();
    const missing = devices.filter((d) => !names.has(d));
    if (missing.length) return { ok: false, detail: `the link dump lacks ${missing.join(', ')} (of ${devices.length} devices)` };
    return { ok: true, detail: `RTMGRP_LINK subscription and dump: ${names.size} interface(s) in this network namespace` };
  } finally {
    watcher.close();
  }
}
