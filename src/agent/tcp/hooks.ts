// Which hook each part of the TCP tracer runs on: candidates best first, tried for real, with the
// reason each fallback was taken (shown in /capabilities and `flowscope doctor`).
import type { Link, Program } from '../../bpf/index.js';
import type { HookFallback, HookGroup, HookKind } from '../../model/capabilities.js';

export type { HookGroup, HookKind } from '../../model/capabilities.js';

export interface Candidate {
  kind: HookKind;
  /** Programs attached together for this candidate. */
  programs: string[];
  /** One function per link; all must succeed for the candidate to be used. */
  attach: Array<(p: (name: string) => Program) => Link>;
}

export interface GroupSpec {
  group: HookGroup;
  /** The agent cannot run without this group. */
  required: boolean;
  what: string;
  candidates: Candidate[];
}

export const TCP_HOOKS: GroupSpec[] = [
  {
    group: 'lifecycle',
    required: true,
    what: 'sock:inet_sock_set_state (connect, accept, close, failures)',
    candidates: [
      // Each with the companion that handles the state changes the kernel skips while it runs.
      {
        kind: 'tp_btf',
        programs: ['tcp_state_btf', 'tcp_state_nested'],
        attach: [(p) => p('tcp_state_btf').attachTrace(), (p) => p('tcp_state_nested').attachRawTracepoint('inet_sock_set_state')],
      },
      {
        kind: 'raw_tp',
        programs: ['tcp_state_raw', 'tcp_state_nested'],
        attach: [(p) => p('tcp_state_raw').attachRawTracepoint('inet_sock_set_state'), (p) => p('tcp_state_nested').attachRawTracepoint('inet_sock_set_state')],
      },
      { kind: 'tracepoint', programs: ['tcp_state_tp'], attach: [(p) => p('tcp_state_tp').attachTracepoint('sock', 'inet_sock_set_state')] },
    ],
  },
  {
    group: 'snapshots',
    required: true,
    what: 'per-connection counters of live connections (tcp:tcp_probe, or sockops RTT callbacks)',
    candidates: [
      { kind: 'tp_btf', programs: ['tcp_probe_btf'], attach: [(p) => p('tcp_probe_btf').attachTrace()] },
      { kind: 'raw_tp', programs: ['tcp_probe_raw'], attach: [(p) => p('tcp_probe_raw').attachRawTracepoint('tcp_probe')] },
      { kind: 'tracepoint', programs: ['tcp_probe_tp'], attach: [(p) => p('tcp_probe_tp').attachTracepoint('tcp', 'tcp_probe')] },
      { kind: 'sockops', programs: ['tcp_sockops'], attach: [(p) => p('tcp_sockops').attachCgroup()] },
    ],
  },
  {
    group: 'accept',
    required: false,
    what: 'syscalls:sys_exit_accept/accept4 (the accepting process of server connections; without it, the listener\'s owner)',
    candidates: [
      {
        kind: 'tracepoint',
        programs: ['accept4_exit', 'accept_exit'],
        attach: [(p) => p('accept4_exit').attachTracepoint('syscalls', 'sys_exit_accept4'), (p) => p('accept_exit').attachTracepoint('syscalls', 'sys_exit_accept')],
      },
    ],
  },
  {
    group: 'resets',
    required: false,
    what: 'tcp:tcp_send_reset and tcp:tcp_receive_reset',
    candidates: [
      {
        kind: 'tracepoint',
        programs: ['rst_sent', 'rst_received'],
        attach: [(p) => p('rst_sent').attachTracepoint('tcp', 'tcp_send_reset'), (p) => p('rst_received').attachTracepoint('tcp', 'tcp_receive_reset')],
      },
    ],
  },
];

export type Fallback = HookFallback;

export interface GroupReport {
  group: HookGroup;
  what: string;
  /** The hook in use, or undefined when none could be attached. */
  kind: HookKind | undefined;
  programs: string[];
  /** Candidates tried before (or instead of) the one in use, and why they were not used. */
  fallbacks: Fallback[];
}

const ORDER: HookKind[] = ['tp_btf', 'raw_tp', 'tracepoint', 'sockops'];

/**
 * Parses `--hooks lifecycle=raw_tp,snapshots=sockops`: each named group starts at that hook kind
 * (better candidates are skipped), to run on a fallback on purpose.
 */
export function parseHookOverrides(spec: string | undefined): Partial<Record<HookGroup, HookKind>> {
  const out: Partial<Record<HookGroup, HookKind>> = {};
  if (!spec) return out;
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [group, kind] = part.split('=') as [string, string | undefined];
    const spec = TCP_HOOKS.find((g) => g.group === group);
    if (!spec) throw new Error(`unknown hook group '${group}' (groups: ${TCP_HOOKS.map((g) => g.group).join(', ')})`);
    if (!kind || !spec.candidates.some((c) => c.kind === kind)) {
      throw new Error(`hook group '${group}' has no '${kind ?? ''}' hook (it has: ${spec.candidates.map((c) => c.kind).join(', ')})`);
    }
    out[group as HookGroup] = kind as HookKind;
  }
  return out;
}

/** Candidates of a group after an override: those from the forced kind on. */
export function candidatesFor(spec: GroupSpec, forced: HookKind | undefined): { usable: Candidate[]; skipped: Fallback[] } {
  if (!forced) return { usable: spec.candidates, skipped: [] };
  const from = ORDER.indexOf(forced);
  const usable = spec.candidates.filter((c) => ORDER.indexOf(c.kind) >= from);
  const skipped = spec.candidates.filter((c) => ORDER.indexOf(c.kind) < from).map((c) => ({ kind: c.kind, reason: 'skipped: --hooks' }));
  return { usable, skipped };
}
