// `flowscope agent`: every TCP connection on this node as Prometheus metrics (and optionally NDJSON).
import { Option, type Command } from 'commander';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import { Agent, type AgentOptions } from '../agent/agent.js';
import { parseHookOverrides } from '../agent/tcp/hooks.js';
import { parseCount, parseDuration, parseListen, requireBpfPrivileges } from './options.js';
import { createLogger } from '../lib/log.js';
import { AgentPrograms } from './agent-programs.js';
import { UsageError } from './errors.js';
import { parseL7Rule } from '../agent/l7/switch.js';
import { addWebOptions, webOptionsFrom, type WebFlags } from './web-options.js';
import { addAgentHubOptions, agentHubOptionsFrom, type AgentHubFlags } from './agent-hub.js';

interface AgentFlags extends WebFlags, AgentHubFlags {
  listen: string;
  interval: string;
  output?: string;
  maxSeries: string;
  maxConnections: string;
  hooks?: string;
  bpfStats?: boolean;
  programs?: string[];
  logLevel: string;
  logFormat: string;
  kubernetes: string;
  kubeconfig?: string;
  nodeName?: string;
  runtimeSocket: string[];
  nat: boolean;
  flows: boolean | string;
  flowInterfaces?: string;
  flowTcMode: string;
  flowIdleTimeout: string;
  flowActiveTimeout: string;
  maxFlows: string;
  edgeTable: boolean;
  drops: boolean;
  dns: boolean;
  ipfix?: string;
  l7: boolean;
  l7Rule: string[];
  l7MaxRoutes: string;
  l7Tls: boolean;
  processArgs?: boolean;
  trustedObjectDir: string[];
  allowObjectBase64?: boolean;
}

export function addAgentOptions(cmd: Command): Command {
  return addAgentHubOptions(addWebOptions(cmd))
    .option('--listen <addr>', 'address of the Prometheus endpoint (/metrics, /healthz, /capabilities)', '127.0.0.1:9387')
    .option('--process-args', "show processes' arguments in /connections, with secrets redacted (by default a process is named by its executable and none of its arguments leaves the agent)")
    .option('--interval <duration>', 'how often the kernel maps are read (e.g. 1s, 500ms)', '1s')
    .option('--output <format>', "also write each connection's lifecycle events and each HTTP/gRPC request (routes, never paths) to stdout: ndjson")
    .option('--max-series <n>', 'edges (series per metric) before new ones roll into peer_addr="other"', '10000')
    .option('--max-connections <n>', "connections whose state the kernel keeps in a preallocated table, the fastest place (about 230 bytes of kernel memory each); beyond it in socket storage, without limit (Linux 5.11+ with BTF; /capabilities tcp.state). Where the TCP hooks cannot reach socket storage, a connection beyond it still counts as opened, but its bytes and close are not followed: flowscope_tcp_untracked_connections_total counts it", '65536')
    .option('--hooks <spec>', 'start hook groups at a fallback, e.g. lifecycle=raw_tp,snapshots=sockops (see /capabilities)')
    .option('--programs <dir...>', 'also load custom eBPF programs from these YAML files or directories (see `flowscope exporter`)')
    .option('--trusted-object-dir <dir>', 'BpfProgram resources may load objects from this directory without a sha256 pin (repeatable; keep it writable by root only)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--allow-object-base64', 'BpfProgram resources may carry their object inline (object_base64): whoever can write a resource then runs kernel code on every node')
    .option('--bpf-stats', 'turn on kernel BPF run-time statistics while running (flowscope_bpf_run_seconds_total)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--log-format <format>', 'auto (text for people on a terminal, JSON lines otherwise), json or text', 'auto')
    .option('--kubernetes <mode>', 'pod/workload/service labels from the Kubernetes API: auto (in a pod or with --kubeconfig), on, off', 'auto')
    .option('--kubeconfig <file>', 'kubeconfig to reach the API server (default: the in-cluster service account)')
    .option('--node-name <name>', "this node's name in Kubernetes (default: $NODE_NAME, else the host name)")
    .option('--runtime-socket <runtime=path>', 'a container runtime socket to name containers: docker or podman (Docker Engine API), containerd or cri-o (CRI), e.g. podman=/run/podman/podman.sock, containerd=/run/containerd/containerd.sock (repeatable; default: the usual sockets that exist)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--no-nat', 'do not look up where NATed connections landed (conntrack)')
    .option('--flows [format]', 'packet-level flows on every interface but loopback (on by default); with "ndjson", also each finished flow as a JSON line on stdout')
    .option('--no-flows', 'no packet-level flows, drops or DNS (no TC programs attached)')
    .addOption(new Option('--flow-interfaces <regex>', "attach the flow classifier only to interfaces whose name matches (default: every interface but loopback, whose TCP the connection hooks count; '.' for all)").env('FLOWSCOPE_FLOW_INTERFACES'))
    .option('--flow-tc-mode <mode>', 'auto (tcx where the kernel has it), tcx or legacy (clsact)', 'auto')
    .option('--flow-idle-timeout <duration>', 'flows without packets for this long leave the kernel map and are exported', '15s')
    .option('--flow-active-timeout <duration>', 'flows still going are exported (NDJSON, IPFIX) with their counts since the last record this often', '60s')
    .option('--max-flows <n>', 'entries of the kernel flow map, and of its edge map (beyond them, packets reach the agent through a ring buffer); without --flows or --ipfix the kernel counts per edge, not per flow, in an edge table of twice this many slots (a slot per edge and CPU that counts it; rounded up to a power of two, at most 1,048,576: 64 MiB of kernel memory; 8 MiB at the default) in front of the edge map', '65536')
    .option('--no-edge-table', 'count edges in the per-CPU edge map, with a per-CPU cache of hot edges in front, instead of the edge table (as on kernels without bpf_loop, before 5.17)')
    .option('--no-drops', 'do not count packet drops (skb:kfree_skb)')
    .option('--no-dns', 'do not parse DNS (port 53) from packets')
    .option('--ipfix <host:port>', 'also send each finished flow to an IPFIX collector over UDP (RFC 7011), e.g. 127.0.0.1:4739')
    .option('--l7', 'HTTP/1, HTTP/2 and gRPC requests per edge, TLS included (off by default: it traces every read and write on the node and every OpenSSL call; see the README for its cost)')
    .option('--no-l7', 'no request capture (the default)')
    .option('--l7-rule <rule>', 'switch request capture on or off per workload, last match wins: on|off[:namespace=NS,workload=NAME,cgroup=PATH] (cgroup may end in *); a bare on|off sets the default (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--l7-max-routes <n>', 'distinct routes per request edge before new ones count as route="other"', '100')
    .option('--no-l7-tls', 'do not attach OpenSSL uprobes (requests over TLS are not seen)');
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
    const m = /^(docker|podman|containerd|cri-o)=(\/.+)$/.exec(spec);
    if (!m) throw new UsageError(`--runtime-socket '${spec}' is not runtime=path: use e.g. podman=/run/podman/podman.sock, docker=/run/docker.sock, containerd=/run/containerd/containerd.sock or cri-o=/run/crio/crio.sock`);
    return { runtime: m[1]!, socket: m[2]! };
  });
  if (flags.flows === false && flags.ipfix !== undefined) throw new UsageError('--ipfix needs flows: drop --no-flows');
  if (typeof flags.flows === 'string' && flags.flows !== 'ndjson') throw new UsageError(`--flows '${flags.flows}' is not a format: use ndjson (or --no-flows)`);
  if (flags.flows === 'ndjson' && flags.output === 'ndjson') throw new UsageError('--flows ndjson and --output ndjson both write to stdout: choose one');
  if (!['auto', 'tcx', 'legacy'].includes(flags.flowTcMode)) throw new UsageError(`--flow-tc-mode '${flags.flowTcMode}': use auto, tcx or legacy`);
  let include: RegExp | undefined;
  if (flags.flowInterfaces) {
    try {
      include = new RegExp(flags.flowInterfaces);
    } catch (err) {
      throw new UsageError(`--flow-interfaces: ${(err as Error).message}`);
    }
  }
  for (const rule of flags.l7Rule) {
    try {
      parseL7Rule(rule);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const nodeName = flags.nodeName ?? process.env.NODE_NAME ?? hostname();
  const hubOptions = agentHubOptionsFrom(flags, nodeName);
  return {
    ...hubOptions,
    l7: flags.l7 ? { switch: flags.l7Rule, maxRoutes: parseCount(flags.l7MaxRoutes, '--l7-max-routes', 1, 100_000), tls: flags.l7Tls } : undefined,
    enrich: {
      kubernetes: flags.kubernetes as 'auto' | 'on' | 'off',
      kubeconfig: flags.kubeconfig,
      nodeName,
      runtimeSockets,
      nat: flags.nat,
      processArgs: flags.processArgs ? 'redacted' : 'none',
    },
    flows:
      flags.flows === false
        ? undefined
        : {
            interfaces: include,
            // --netns: the classifier on that namespace's interfaces, its drops and DNS only.
            netns: hubOptions.netns !== undefined ? { path: flags.netns!, inode: hubOptions.netns } : undefined,
            tcMode: flags.flowTcMode as 'auto' | 'tcx' | 'legacy',
            maxFlows: parseCount(flags.maxFlows, '--max-flows', 1, 16_777_216),
            edgeTable: flags.edgeTable,
            idleTimeoutMs: parseDuration(flags.flowIdleTimeout, '--flow-idle-timeout'),
            activeTimeoutMs: parseDuration(flags.flowActiveTimeout, '--flow-active-timeout', 1000, 86_400_000),
            drops: flags.drops,
            dns: flags.dns,
            ndjson: flags.flows === 'ndjson' ? process.stdout : undefined,
            ipfix: flags.ipfix !== undefined ? parseCollector(flags.ipfix) : undefined,
          },
    listen: parseListen(flags.listen),
    ...webOptionsFrom(flags),
    intervalMs: parseDuration(flags.interval, '--interval'),
    maxSeries: parseCount(flags.maxSeries, '--max-series'),
    maxConnections: parseCount(flags.maxConnections, '--max-connections', 1024, 4_194_304),
    hooks,
    ndjson: flags.output === 'ndjson' ? process.stdout : undefined,
    bpfStats: flags.bpfStats ?? false,
    sources: [new AgentPrograms(flags.programs ?? [], { allowedDirs: trustedDirs(flags.trustedObjectDir), allowInline: flags.allowObjectBase64 ?? false })],
    edgeIdleMs: 10 * 60_000,
    log: createLogger({ level: flags.logLevel, format: flags.logFormat, name: 'flowscope-agent' }),
  };
}

function trustedDirs(dirs: string[]): string[] {
  for (const d of dirs) if (!isAbsolute(d)) throw new UsageError(`--trusted-object-dir '${d}' is not an absolute path: name the directory from / (e.g. /var/lib/flowscope/programs)`);
  return dirs;
}

function parseCollector(value: string): { host: string; port: number } {
  try {
    return parseListen(value);
  } catch {
    throw new UsageError(`--ipfix '${value}' is not a collector address: use IP:PORT, e.g. 127.0.0.1:4739 or [::1]:4739`);
  }
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
  // Kept until the process ends: a second signal during shutdown must not cut the last map read short.
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  agent = await Agent.start(options);
  if (requested) await agent.stop();
  else await finished;
}

export function registerAgent(program: Command): void {
  addAgentOptions(program.command('agent').description('follow every TCP connection on this node and export per-edge metrics (Prometheus on :9387)')).action(
    async (flags: AgentFlags) => {
      requireBpfPrivileges('agent');
      await runAgent(agentOptionsFrom(flags));
    },
  );
}
