// Which hook each part of the TCP tracer runs on: candidates best first, tried for real, with the
// reason each fallback was taken (shown in /capabilities and `flowscope doctor`).
import type { Link, Program } from '../../bpf/index.js';
import type { HookFallback, HookGroup, HookKind } from '../../model/capabilities.js';

export type { HookGroup, HookKind } from '../../model/capabilities.js';

/** Where a candidate's programs keep each connection's state (tcp.bpf.c: use_sk_storage). */
export type StateStore = 'storage' | 'hash';

export interface Candidate {
  kind: HookKind;
  /** Programs attached together for this candidate. */
  programs: string[];
  /** One function per link; all must succeed for the candidate to be used. */
  attach: Array<(p: (name: string) => Program) => Link>;
  /** The state stores its programs can reach: socket storage needs a typed socket pointer. */
  stores: StateStore[];
}

export interface GroupSpec {
  group: HookGroup;
  /** The agent cannot run without this group. */
  required: boolean;
  what: string;
  candidates: Candidate[];
}

const BOTH: StateStore[] = ['storage', 'hash'];
const HASH: StateStore[] = ['hash'];

export const TCP_HOOKS: GroupSpec[] = [
  {
    group: 'lifecycle',
    required: true,
    what: 'sock:inet_sock_set_state (connect, accept, close, failures: counted per edge in the kernel)',
    candidates: [
      // Each with the companion that handles the state changes the kernel skips while it runs.
      {
        kind: 'tp_btf',
        programs: ['tcp_state_btf', 'tcp_state_nested_btf'],
        attach: [(p) => p('tcp_state_btf').attachTrace(), (p) => p('tcp_state_nested_btf').attachTrace()],
        stores: BOTH,
      },
      {
        kind: 'raw_tp',
        programs: ['tcp_state_raw', 'tcp_state_nested'],
        attach: [(p) => p('tcp_state_raw').attachRawTracepoint('inet_sock_set_state'), (p) => p('tcp_state_nested').attachRawTracepoint('inet_sock_set_state')],
        stores: HASH,
      },
      { kind: 'tracepoint', programs: ['tcp_state_tp'], attach: [(p) => p('tcp_state_tp').attachTracepoint('sock', 'inet_sock_set_state')], stores: HASH },
    ],
  },
  {
    group: 'snapshots',
    required: true,
    what: 'live connections\' counters into their edges between open and close (tcp:tcp_probe on segments received, or sockops RTT callbacks)',
    candidates: [
      { kind: 'tp_btf', programs: ['tcp_probe_btf'], attach: [(p) => p('tcp_probe_btf').attachTrace()], stores: BOTH },
      { kind: 'raw_tp', programs: ['tcp_probe_raw'], attach: [(p) => p('tcp_probe_raw').attachRawTracepoint('tcp_probe')], stores: HASH },
      { kind: 'tracepoint', programs: ['tcp_probe_tp'], attach: [(p) => p('tcp_probe_tp').attachTracepoint('tcp', 'tcp_probe')], stores: HASH },
      { kind: 'sockops', programs: ['tcp_sockops'], attach: [(p) => p('tcp_sockops').attachCgroup()], stores: BOTH },
    ],
  },
  {
    group: 'accept',
    required: false,
    what: "syscalls:sys_exit_accept/accept4 (the process accepting on a listener names its server connections; without it, the listener's owner)",
    candidates: [
      {
        kind: 'tracepoint',
        programs: ['accept4_exit', 'accept_exit'],
        attach: [(p) => p('accept4_exit').attachTracepoint('syscalls', 'sys_exit_accept4'), (p) => p('accept_exit').attachTracepoint('syscalls', 'sys_exit_accept')],
        stores: BOTH,
      },
    ],
  },
  {
    group: 'resets',
    required: false,
    what: 'tcp:tcp_send_reset and tcp:tcp_receive_reset',
    candidates: [
      {
        kind: 'tp_btf',
        programs: ['rst_sent_btf', 'rst_received_btf'],
        attach: [(p) => p('rst_sent_btf').attachTrace(), (p) => p('rst_received_btf').attachTrace()],
        stores: BOTH,
      },
      {
        kind: 'tracepoint',
        programs: ['rst_sent', 'rst_received'],
        attach: [(p) => p('rst_sent').attachTracepoint('tcp', 'tcp_send_reset'), (p) => p('rst_received').attachTracepoint('tcp', 'tcp_receive_reset')],
        stores: HASH,
      },
    ],
  },
  {
    group: 'adoption',
    required: false,
    what: 'connections open before the agent: every socket file (iter/task_file), then each network namespace\'s TCP table (iter/tcp); without it, each is picked up at its next segment received',
    candidates: [{ kind: 'iter', programs: ['adopt_files', 'adopt_tcp'], attach: [(p) => p('adopt_files').attachIter(), (p) => p('adopt_tcp').attachIter()], stores: BOTH }],
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

const ORDER: HookKind[] = ['iter', 'tp_btf', 'raw_tp', 'tracepoint', 'sockops'];

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

/** Candidates of a group after an override (those from the forced kind on) that can reach `store`. */
export function candidatesFor(spec: GroupSpec, forced: HookKind | undefined, store: StateStore): { usable: Candidate[]; skipped: Fallback[] } {
  const from = forced ? ORDER.indexOf(forced) : 0;
  const usable: Candidate[] = [];
  const skipped: Fallback[] = [];
  for (const c of spec.candidates) {
    if (ORDER.indexOf(c.kind) < from) skipped.push({ kind: c.kind, reason: 'skipped: --hooks' });
    else if (!c.stores.includes(store)) skipped.push({ kind: c.kind, reason: 'cannot reach socket storage (it sees only the socket\'s address)' });
    else usable.push(c);
  }
  return { usable, skipped };
}

/** Whether the forced hooks leave socket storage possible (raw_tp and tracepoint programs cannot reach it). */
export function storageAllowed(forced: Partial<Record<HookGroup, HookKind>>): string | undefined {
  for (const spec of TCP_HOOKS) {
    const kind = forced[spec.group];
    const c = kind && spec.candidates.find((x) => x.kind === kind);
    if (c && !c.stores.includes('storage')) return `--hooks ${spec.group}=${kind} runs on programs that cannot reach socket storage (they see only the socket's address)`;
  }
  return undefined;
}
