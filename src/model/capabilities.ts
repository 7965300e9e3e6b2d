// What a node can do and what it runs: the agent's /capabilities, and the capabilities an agent
// announces to the hub in its hello.

export type HookKind = 'tp_btf' | 'raw_tp' | 'tracepoint' | 'sockops' | 'iter';
export type HookGroup = 'lifecycle' | 'snapshots' | 'accept' | 'resets' | 'adoption';

export interface HookFallback {
  kind: HookKind;
  reason: string;
}

export interface TcpHookReport {
  group: HookGroup;
  what: string;
  /** The hook in use, null when none could be attached. */
  hook: HookKind | null;
  programs: string[];
  /** Candidates tried before (or instead of) the one in use, and why they were not used. */
  fallbacks: HookFallback[];
}

/** Where each connection's own state lives in the kernel. */
export interface TcpStateStore {
  /** Connections a preallocated table holds at once (--max-connections): the fastest place. */
  table: number;
  /**
   * Connections beyond the table: in socket storage (no limit: it lives and dies with the socket),
   * or, where the hooks cannot reach socket storage, untracked (counted per edge, not followed).
   */
  beyond: 'socket storage' | 'untracked';
  /** Why socket storage is not used. */
  reason?: string;
}

/** Connections found open when the agent started, adopted so that nothing before counts and nothing after is lost. */
export interface TcpAdoption {
  /** How they were found: the iterators that ran, or the fallback (at their first segment received). */
  method: string;
  /** When counting began for them (ISO time): the agent's counters start there; traffic before (a restart's gap) is not counted. */
  at: string;
  durationMs: number;
  adopted: number;
  /** Network namespaces whose TCP tables were read, and those that could not be entered (with why). */
  namespaces: number;
  unreachable: Array<{ netns: number; reason: string }>;
}

export interface TcpCapabilities {
  hooks: TcpHookReport[];
  serverOwner: string;
  mapReads: Record<string, string>;
  listenersBootstrapped: number;
  state?: TcpStateStore;
  adoption?: TcpAdoption | null;
}

/** Another program on an interface's TC or XDP hook. */
export interface OtherProgram {
  /** Where it runs: 'tc' (a legacy cls_bpf or other classifier), 'xdp'. */
  hook: string;
  direction: 'ingress' | 'egress';
  name: string;
  priority?: number;
  /** It runs before ours and may end the packet's way (drop, redirect): what it hides, we do not see. */
  runsBeforeUs: boolean;
  canHide: boolean;
}

export interface InterfaceReport {
  name: string;
  ifindex: number;
  attached: boolean;
  mode?: 'tcx' | 'legacy';
  program?: string;
  error?: string;
  others?: OtherProgram[];
}

export interface LinkEventsStatus {
  source: 'netlink' | 'poll';
  /** netlink: how often a dump checks the events anyway (ms). */
  resyncMs?: number;
  /** netlink: times the kernel dropped link events because our socket's buffer was full. */
  overruns: number;
  /** netlink: dumps after start-up (periodic, after overruns, after interrupted dumps). */
  resyncs: number;
  /** poll: why netlink is not used. */
  fallback?: string;
}

export interface FlowCapabilities {
  /** The network namespace whose interfaces the classifier is on and whose drops are counted (null: the agent's own). */
  namespace: { path: string; inode: number } | null;
  interfaces: InterfaceReport[];
  hiddenTrafficPossible: boolean;
  drops: { hook: string | null; fallbacks: string[]; reasons: string };
  flowMap: {
    type: string;
    counting: string;
    maxEntries: number;
    reads: string;
    idleTimeoutMs: number;
    activeTimeoutMs: number;
    edgeCache: { enabled: boolean; detail: string; cpus: number };
    /** Edge mode's open-addressed edge table (the edges' home; the flow map above is its overflow). */
    edgeTable: { enabled: boolean; detail: string; slots: number; live: number };
  };
  linkEvents: LinkEventsStatus | null;
  dns: { source: string } | null;
  records: { ndjson: boolean; ipfix: string | null };
}

export interface RuntimeStatus {
  runtime: string;
  socket: string;
  state: 'connected' | 'unavailable' | 'error';
  reason?: string;
  containers: number;
  /** What the runtime says it is (CRI Version), once it answered. */
  version?: string;
}

export interface KubernetesResourceStatus {
  resource: string;
  state: 'starting' | 'synced' | 'error';
  lastError?: string;
  lists: number;
  events: number;
  reconnects: number;
}

export interface NatStatus {
  state: 'ok' | 'unavailable' | 'error' | 'off';
  reason?: string;
  lookups?: number;
  translated?: number;
  dropped?: number;
  /** Lookups skipped: the connection's network namespace was gone (no process, not named). */
  unreachableNetns?: number;
  source?: string;
}

export interface IdentityCapabilities {
  /** args: whether processes' arguments are read (redacted, --process-args) or not at all. */
  process: { source: string; args?: 'none' | 'redacted'; cache: Record<string, number> };
  containers: {
    cgroupLayouts: string[];
    runtimes: RuntimeStatus[];
    cri: RuntimeStatus[];
    reason?: string;
    criReason?: string;
  };
  kubernetes: {
    enabled: boolean;
    reason?: string;
    server?: string;
    resources: KubernetesResourceStatus[];
    indexed?: { pods: number; podIPs: number; services: number; nodes: number };
  };
  nat: NatStatus;
}

export type ProgramStage = 'open' | 'metrics' | 'load' | 'attach' | 'read';

export interface ProgramAttachResult {
  program: string;
  section: string;
  /** Where it was attached (e.g. "tracepoint syscalls/sys_enter_write", "tc eth0 ingress"), or why not. */
  target: string;
  ok: boolean;
  error?: string;
}

/** A custom program set: loaded or not, and why. */
export interface ProgramStatus {
  name: string;
  source: string;
  format: 'flowscope' | 'ebpf_exporter';
  loaded: boolean;
  attached: ProgramAttachResult[];
  metrics: string[];
  warnings: string[];
  error?: { stage: ProgramStage; message: string; reason?: string };
}

export interface AgentCapabilities {
  node: string;
  zone?: string;
  kernel: string;
  agent: { version: string; startedAt: string; intervalMs: number };
  tcp: TcpCapabilities;
  flows: FlowCapabilities | null;
  bpfStats: boolean;
  programs?: ProgramStatus[];
  identity: IdentityCapabilities;
  limits: { maxSeries: number; maxConnections: number };
  /** Further parts (custom programs, layer-7 capture...) by name. */
  [part: string]: unknown;
}
