// `flowscope agent`: every TCP connection on this node as Prometheus metrics (and optionally NDJSON).
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { Agent, type AgentOptions } from '../agent/agent.js';
import { parseHookOverrides } from '../agent/tcp/hooks.js';
import { parseCount, parseDuration, parseListen, requireBpfPrivileges } from './options.js';
import { createLogger } from './logger.js';
import { UsageError } from './errors.js';

interface AgentFlags {
  listen: string;
  interval: string;
  output?: string;
  maxSeries: string;
  maxConnections: string;
  hooks?: string;
  bpfStats?: boolean;
  programs?: string[];
  logLevel: string;
  kubernetes: string;
  kubeconfig?: string;
  nodeName?: string;
  runtimeSocket: string[];
  nat: boolean;
}

export function addAgentOptions(cmd: Command): Command {
  return cmd
    .option('--listen <addr>', 'address of the Prometheus endpoint (/metrics, /healthz, /capabilities)', '127.0.0.1:9387')
    .option('--interval <duration>', 'how often the kernel maps are read (e.g. 1s, 500ms)', '1s')
    .option('--output <format>', "also write each connection's lifecycle events to stdout: ndjson")
    .option('--max-series <n>', 'edges (series per metric) before new ones roll into peer_addr="other"', '10000')
    .option('--max-connections <n>', 'connections tracked at once in the kernel (beyond it, totals still arrive at close)', '65536')
    .option('--hooks <spec>', 'start hook groups at a fallback, e.g. lifecycle=raw_tp,snapshots=sockops (see /capabilities)')
    .option('--programs <dir...>', 'also load custom eBPF programs from these YAML files or directories (see `flowscope exporter`)')
    .option('--bpf-stats', 'turn on kernel BPF run-time statistics while running (flowscope_agent_bpf_run_seconds_total)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--kubernetes <mode>', 'pod/workload/service labels from the Kubernetes API: auto (in a pod or with --kubeconfig), on, off', 'auto')
    .option('--kubeconfig <file>', 'kubeconfig to reach the API server (default: the in-cluster service account)')
    .option('--node-name <name>', "this node's name in Kubernetes (default: $NODE_NAME, else the host name)")
    .option('--runtime-socket <runtime=path>', 'a Docker Engine API socket to name containers, e.g. podman=/run/podman/podman.sock (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--no-nat', 'do not look up where NATed connections landed (conntrack)');
}

export function agentOptionsFrom(flags: AgentFlags): AgentOptions {
  if (flags.output !== undefined && flags.output !== 'ndjson') {
    throw new UsageError(`--output '${flags.output}' is not a format: use ndjson`);
  }
  let hooks;
  try {
    hooks = parseHookOverrides(flags.hooks);
  } catch (err) {
    throw new UsageError(`--hooks: ${(err as Error).message}`);
  }
  if (!['auto', 'on', 'off'].includes(flags.kubernetes)) throw new UsageError(`--kubernetes '${flags.kubernetes}' is not a mode: use auto, on or off`);
  const runtimeSockets = flags.runtimeSocket.map((spec) => {
    const m = /^(docker|podman)=(\/.+)$/.exec(spec);
    if (!m) throw new UsageError(`--runtime-socket '${spec}' is not runtime=path: use e.g. podman=/run/podman/podman.sock or docker=/run/docker.sock`);
    return { runtime: m[1]!, socket: m[2]! };
  });
  return {
    enrich: {
      kubernetes: flags.kubernetes as 'auto' | 'on' | 'off',
      kubeconfig: flags.kubeconfig,
      nodeName: flags.nodeName ?? process.env.NODE_NAME ?? hostname(),
      runtimeSockets,
      nat: flags.nat,
    },
    listen: parseListen(flags.listen),
    intervalMs: parseDuration(flags.interval, '--interval'),
    maxSeries: parseCount(flags.maxSeries, '--max-series'),
    maxConnections: parseCount(flags.maxConnections, '--max-connections', 1024, 4_194_304),
    hooks,
    ndjson: flags.output === 'ndjson' ? process.stdout : undefined,
    bpfStats: flags.bpfStats ?? false,
    programs: flags.programs,
    edgeIdleMs: 10 * 60_000,
    log: createLogger(flags.logLevel, 'flowscope-agent'),
  };
}

/** Runs the agent until SIGINT or SIGTERM, then reads the maps a last time and detaches. */
export async function runAgent(options: AgentOptions): Promise<void> {
  // Signals are taken from the start: one that arrives while programs load stops the agent as soon
  // as it stands, cleanly, instead of killing it halfway.
  let agent: Agent | undefined;
  let requested: string | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const stop = (signal: string): void => {
    if (requested) return;
    requested = signal;
    options.log.info({ signal }, 'stopping');
    if (agent) void agent.stop().finally(done);
  };
  const onInt = (): void => stop('SIGINT');
  const onTerm = (): void => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    agent = await Agent.start(options);
    if (requested) await agent.stop();
    else await finished;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

export function registerAgent(program: Command): void {
  addAgentOptions(program.command('agent').description('follow every TCP connection on this node and export per-edge metrics (Prometheus on :9387)')).action(
    async (flags: AgentFlags) => {
      requireBpfPrivileges('agent');
      await runAgent(agentOptionsFrom(flags));
    },
  );
}
