// Joins each connection with who is at both ends: process (from /proc), container (cgroup path →
// runtime: Docker Engine API or CRI), pod and workload (Kubernetes; the pod also from CRI), service
// and node (Kubernetes, by address), and where a translated connection landed (conntrack). Labels come from caches: a new connection costs a few
// map lookups; anything slow (runtime API, API server, conntrack) happens off the hot path and
// lands in the caches for the connections after it.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import * as client from '../metrics/prom.js';
import type { ConnIdView } from '../../bpf/gen/tcp.gen.js';
import { ConnRole } from '../../bpf/gen/tcp.gen.js';
import { formatAddr } from '../net/addr.js';
import type { Edge, EndLabels } from '../tcp/edges.js';
import type { OwnerResolver } from '../tcp/conn-tracker.js';
import type { Owners } from '../identity/owners.js';
import { containerFromCgroup, type CgroupContainer } from './container-id.js';
import { ProcessCache, type ProcessIdentity } from './process.js';
import { CRI_SOCKETS, DEFAULT_SOCKETS, imageVersion, isCriRuntime, RuntimeClient, type ContainerMeta } from './runtime.js';
import type { ContainerSource } from './container-source.js';
// Loaded only where a CRI socket is: @grpc/grpc-js and protobufjs cost memory.
import type { CriRuntime } from './cri.js';
// Loaded only when Kubernetes is wanted: @kubernetes/client-node is tens of MB resident.
import type { K8sWatcher } from './k8s.js';
import { NatResolver, type NatTuple } from './nat.js';

interface RuntimeSocket {
  runtime: string;
  socket: string;
}

export interface EnrichOptions {
  /** auto: on when --kubeconfig is given or the agent runs in a pod. */
  kubernetes: 'auto' | 'on' | 'off';
  kubeconfig?: string;
  nodeName?: string;
  /** runtime=socket pairs (docker, podman: Docker Engine API; containerd, cri-o: CRI); for each
   *  kind not given, its default sockets that exist. */
  runtimeSockets?: RuntimeSocket[];
  nat: boolean;
  log: Logger;
  /** Where self-metrics go. */
  registry?: client.Registry;
}

/** One end of an edge: labels plus what /connections shows about it. */
export interface End extends EndLabels {
  info: Record<string, unknown>;
}

interface EdgeExtra {
  processes: Map<string, Pick<ProcessIdentity, 'pid' | 'nsPid' | 'exe' | 'cmdline' | 'startedAt'>>;
  /** The last process seen: most connections of an edge come from the same one. */
  lastProcess?: ProcessIdentity;
  actualPeers: Map<string, { addr: string; port: number; connections: number; end?: End }>;
  lastActual?: string;
}

const EMPTY_INFO = {};
/** Label sets → short interned keys, so edge keys stay short (and stable across cache rebuilds). */
const internedKeys = new Map<string, string>();
function end(container: string, pod: string, namespace: string, workload: string, service: string, info: Record<string, unknown>): End {
  const full = `${container}\u0001${pod}\u0001${namespace}\u0001${workload}\u0001${service}`;
  let key = internedKeys.get(full);
  if (key === undefined) {
    // Bounded: past a million label sets keys are the full text (still correct, only longer).
    key = internedKeys.size < 1_000_000 ? (internedKeys.size + 1).toString(36) : full;
    internedKeys.set(full, key);
  }
  return { key, container, pod, namespace, workload, service, info };
}
const NONE = end('', '', '', '', '', EMPTY_INFO);
/** resolveLocal: the cgroup id is not in the hierarchy as last walked (not cached: asked again). */
const UNKNOWN_CGROUP = end('', '', '', '', '', EMPTY_INFO);

/** The sockets given, else the default ones that exist; one per runtime (docker.sock is often
 *  reachable by two paths). */
function socketsToUse(given: RuntimeSocket[], defaults: RuntimeSocket[]): RuntimeSocket[] {
  const out: RuntimeSocket[] = [];
  for (const s of given.length ? given : defaults.filter((d) => existsSync(d.socket))) if (!out.some((o) => o.runtime === s.runtime)) out.push(s);
  return out;
}

/** A peer address that is a container the runtime knows. */
function containerEnd(m: ContainerMeta): End {
  return end(m.name, m.pod?.name ?? '', m.pod?.namespace ?? '', '', '', { kind: 'container', runtime: m.runtime, container_id: m.id, image: m.image, version: m.version });
}

export class Enricher implements OwnerResolver {
  readonly processes = new ProcessCache();
  readonly runtimes: RuntimeClient[] = [];
  readonly cri: CriRuntime[] = [];
  private readonly criSockets: RuntimeSocket[];
  private criError: string | undefined;
  k8s: K8sWatcher | undefined;
  kubernetesState: { enabled: boolean; reason?: string; server?: string } = { enabled: false, reason: 'off' };
  /** Kubernetes is asked for (on), or found (auto: in a pod, or --kubeconfig). */
  readonly kubernetesWanted: boolean;
  readonly nat: NatResolver<Edge> | undefined;
  private readonly locals = new Map<number, End>();
  private readonly remotes = new Map<string, End>();
  private readonly extras = new WeakMap<Edge, EdgeExtra>();
  private generation = 0;
  private seenGeneration = -1;
  private ticks = 0;
  private readonly errorsCounter: client.Counter<'source'> | undefined;

  constructor(
    private readonly owners: Owners,
    private readonly options: EnrichOptions,
  ) {
    const log = options.log;
    if (options.registry) {
      this.errorsCounter = new client.Counter({
        name: 'flowscope_agent_enrich_errors_total',
        help: 'Errors talking to identity sources (container runtimes, the Kubernetes API server, conntrack), by source; labels from that source are missing or stale meanwhile.',
        labelNames: ['source'],
        registers: [options.registry],
      });
    }
    const given = options.runtimeSockets ?? [];
    for (const s of socketsToUse(given.filter((s) => !isCriRuntime(s.runtime)), DEFAULT_SOCKETS)) this.runtimes.push(new RuntimeClient(s.runtime, s.socket, log, this.sourceOptions(s.runtime)));
    this.criSockets = socketsToUse(given.filter((s) => isCriRuntime(s.runtime)), CRI_SOCKETS);
    this.kubernetesWanted = options.kubernetes === 'on' || (options.kubernetes === 'auto' && (options.kubeconfig !== undefined || process.env.KUBERNETES_SERVICE_HOST !== undefined));
    if (!this.kubernetesWanted && options.kubernetes === 'auto') {
      this.kubernetesState = { enabled: false, reason: 'not in a pod and no --kubeconfig' };
    }
    this.nat = options.nat ? new NatResolver<Edge>((edge, actual) => this.translated(edge, actual)) : undefined;
  }

  private sourceOptions(runtime: string): { onChange: () => void; onError: () => void } {
    return { onChange: () => this.generation++, onError: () => this.errorsCounter?.inc({ source: runtime }) };
  }

  /** Docker Engine API and CRI endpoints alike. */
  private get sources(): ContainerSource[] {
    return [...this.runtimes, ...this.cri];
  }

  async start(): Promise<void> {
    if (this.kubernetesWanted) await this.startKubernetes();
    this.k8s?.start();
    if (this.criSockets.length) await this.startCri();
    for (const r of this.sources) void r.refresh(true);
  }

  private async startCri(): Promise<void> {
    try {
      const { CriRuntime } = await import('./cri.js');
      for (const s of this.criSockets) this.cri.push(new CriRuntime(s.runtime, s.socket, this.options.log, this.sourceOptions(s.runtime)));
    } catch (err) {
      this.criError = `the CRI client did not load: ${(err as Error).message}`;
      this.options.log.warn({ err: this.criError }, `containerd/CRI-O containers keep their ids without names: ${this.criError}`);
    }
  }

  private async startKubernetes(): Promise<void> {
    const { log } = this.options;
    try {
      const { K8sWatcher, loadKubeConfig } = await import('./k8s.js');
      const kc = loadKubeConfig(this.options.kubeconfig);
      this.k8s = new K8sWatcher(kc, { kubeconfig: this.options.kubeconfig, nodeName: this.options.nodeName, log, onError: () => this.errorsCounter?.inc({ source: 'kubernetes' }) });
      this.kubernetesState = { enabled: true, server: this.k8s.server };
    } catch (err) {
      this.kubernetesState = { enabled: false, reason: (err as Error).message };
      this.errorsCounter?.inc({ source: 'kubernetes' });
      log.warn({ err: (err as Error).message }, `Kubernetes labels are off: ${(err as Error).message}`);
    }
  }

  stop(): void {
    this.k8s?.stop();
    for (const r of this.cri) r.close();
  }

  /** Once per interval, off the hot path: runtime re-lists, NAT lookups, exited processes. */
  async tick(): Promise<void> {
    this.ticks++;
    for (const r of this.sources) void r.refresh();
    if (this.ticks % 10 === 0) this.processes.sweep();
    if (this.nat) {
      const before = this.nat.status.state;
      await this.nat.flush();
      if (this.nat.status.state !== 'ok' && before === 'ok') this.errorsCounter?.inc({ source: 'conntrack' });
    }
  }

  // OwnerResolver: process and cgroup labels stay as they were.
  process(pid: number, comm: string, sockIno: number): string {
    return this.owners.process(pid, comm, sockIno);
  }

  cgroup(id: number): string {
    return this.owners.cgroup(id);
  }

  private checkGeneration(): void {
    const g = this.generation + (this.k8s?.index.generation ?? 0);
    if (g !== this.seenGeneration) {
      this.seenGeneration = g;
      this.locals.clear();
      this.remotes.clear();
    }
  }

  local(id: ConnIdView): End | undefined {
    this.checkGeneration();
    const cg = id.cgroup_id;
    let e = this.locals.get(cg);
    if (e === undefined) {
      e = this.resolveLocal(cg);
      // A cgroup not found yet (made after the last walk of the hierarchy) is asked again later.
      if (e === UNKNOWN_CGROUP) return NONE;
      if (this.locals.size >= 65536) this.locals.clear();
      this.locals.set(cg, e);
    }
    return e;
  }

  private runtimeFor(c: CgroupContainer): ContainerSource | undefined {
    return this.sources.find((r) => r.runtime === c.runtime) ?? (c.runtime === 'podman' ? this.runtimes.find((r) => r.runtime === 'docker') : undefined);
  }

  private resolveLocal(cgroupId: number): End {
    if (cgroupId === 0) return NONE;
    const path = this.owners.cgroup(cgroupId);
    if (path === String(cgroupId)) return UNKNOWN_CGROUP;
    const c = containerFromCgroup(path);
    if (!c) return NONE;
    const info: Record<string, unknown> = { runtime: c.runtime, container_id: c.id };
    let name = '';
    let pod = '';
    let namespace = '';
    let workload = '';
    const rt = this.runtimeFor(c);
    const meta: ContainerMeta | undefined = rt?.container(c.id);
    if (rt && !meta) rt.lookup(c.id);
    if (meta) {
      name = meta.name;
      info.image = meta.image;
      info.version = meta.version;
      if (meta.pod) {
        // CRI's pod labels; the Kubernetes API's, below, win where there are both.
        pod = meta.pod.name;
        namespace = meta.pod.namespace;
        if (meta.pod.uid) info.pod_uid = meta.pod.uid;
      }
    }
    if (c.podUid && this.k8s) {
      const v = this.k8s.index.local(c.podUid, c.id);
      if (v) {
        pod = v.pod.name;
        namespace = v.pod.namespace;
        workload = v.workload.name;
        info.workload_kind = v.workload.kind;
        info.node = v.pod.node;
        if (v.node?.zone) info.zone = v.node.zone;
        if (v.container) {
          name = v.container.name;
          info.image = v.container.image;
          info.version = v.version;
        }
      }
      info.pod_uid = c.podUid;
    }
    if (!name) info.reason = this.unnamedReason(c, rt);
    return end(name || c.id.slice(0, 12), pod, namespace, workload, '', info);
  }

  private unnamedReason(c: CgroupContainer, rt: ContainerSource | undefined): string {
    if (rt) return rt.status.state === 'connected' ? `${rt.runtime} has not answered about this container yet` : `${rt.runtime} ${rt.api}: ${rt.status.reason ?? rt.status.state}`;
    if (isCriRuntime(c.runtime)) return this.criError ?? `no ${c.runtime} CRI socket found (${CRI_SOCKETS.map((s) => s.socket).join(', ')}; or --runtime-socket ${c.runtime}=<path>): id only`;
    return c.runtime === 'cgroup' ? 'no runtime owns this cgroup: id from the cgroup path' : `no ${c.runtime} socket found`;
  }

  remote(_id: ConnIdView, peer: string): End | undefined {
    return this.byAddress(peer);
  }

  /** Whoever owns an address (a pod, service, node or container), from the same cache as edges' peers. */
  byAddress(ip: string): End {
    this.checkGeneration();
    let e = this.remotes.get(ip);
    if (e === undefined) {
      e = this.resolveRemote(ip);
      if (this.remotes.size >= 65536) this.remotes.clear();
      this.remotes.set(ip, e);
    }
    return e;
  }

  private resolveRemote(ip: string): End {
    for (const r of this.runtimes) {
      const m = r.byAddress(ip);
      if (m) return containerEnd(m);
    }
    const ix = this.k8s?.index;
    // Pod addresses from CRI: where the Kubernetes API is not asked (it knows workloads, too).
    if (!ix) return this.criByAddress(ip) ?? NONE;
    const svc = ix.servicesByIp.get(ip);
    if (svc) return end('', '', svc.namespace, '', svc.name, { kind: 'service' });
    const pod = ix.podsByIp.get(ip);
    if (pod) {
      const w = ix.workloadOf(pod);
      const s = ix.serviceOf(ip);
      const node = ix.nodesByName.get(pod.node);
      return end(pod.mainContainer, pod.name, pod.namespace, w.name, s?.name ?? '', {
        kind: 'pod',
        workload_kind: w.kind,
        node: pod.node,
        ...(node?.zone ? { zone: node.zone } : {}),
        ...(pod.image ? { image: pod.image, version: imageVersion(pod.image) } : {}),
      });
    }
    const node = ix.nodesByIp.get(ip);
    if (node) return end('', '', '', `node/${node.name}`, '', { kind: 'node', node: node.name, ...(node.zone ? { zone: node.zone } : {}) });
    return this.criByAddress(ip) ?? end('', '', '', 'world', '', { kind: 'world' });
  }

  private criByAddress(ip: string): End | undefined {
    for (const r of this.cri) {
      const m = r.byAddress(ip);
      if (m) return containerEnd(m);
    }
    return undefined;
  }

  private extra(edge: Edge): EdgeExtra {
    let x = this.extras.get(edge);
    if (!x) this.extras.set(edge, (x = { processes: new Map(), actualPeers: new Map() }));
    return x;
  }

  /** A connection was attributed to `edge`: note its process, and look up NAT for clients. */
  opened(edge: Edge, id: ConnIdView): void {
    const pid = id.pid;
    if (pid) {
      const p = this.processes.get(pid);
      if (p) {
        const x = this.extra(edge);
        if (x.lastProcess !== p) {
          x.lastProcess = p;
          if (!x.processes.has(p.key)) {
            if (x.processes.size >= 4) x.processes.delete(x.processes.keys().next().value!);
            x.processes.set(p.key, { pid: p.pid, nsPid: p.nsPid, exe: p.exe, cmdline: p.cmdline, startedAt: p.startedAt });
          }
        }
      }
    }
    if (this.nat && id.role === ConnRole.ROLE_CLIENT) {
      this.nat.queue({ tuple: { src: formatAddr(id.family, id.saddr), sport: id.sport, dst: edge.identity.peer, dport: id.dport }, pid, netns: id.netns, ctx: edge });
    }
  }

  private translated(edge: Edge, actual: NatTuple): void {
    const x = this.extra(edge);
    const k = `${actual.dst}:${actual.dport}`;
    let a = x.actualPeers.get(k);
    if (!a) {
      if (x.actualPeers.size >= 16) x.actualPeers.delete(x.actualPeers.keys().next().value!);
      a = { addr: actual.dst, port: actual.dport, connections: 0 };
      x.actualPeers.set(k, a);
    }
    a.connections++;
    a.end = this.remote(undefined as unknown as ConnIdView, actual.dst);
    x.lastActual = k;
  }

  private endJson(e: EndLabels | undefined): Record<string, unknown> {
    if (!e) return {};
    const out: Record<string, unknown> = {};
    for (const k of ['container', 'pod', 'namespace', 'workload', 'service'] as const) if (e[k]) out[k] = e[k];
    return { ...out, ...((e as End).info ?? {}) };
  }

  /** The joined view per edge, for /connections. */
  connections(edges: Iterable<Edge>): unknown[] {
    const out: unknown[] = [];
    for (const edge of edges) {
      const id = edge.identity;
      const x = this.extras.get(edge);
      const actual = x?.lastActual ? x.actualPeers.get(x.lastActual) : undefined;
      out.push({
        role: id.role,
        port: id.port,
        local: { process: id.process, cgroup: id.cgroup, ...this.endJson(id.local), processes: x ? [...x.processes.values()] : [] },
        peer: { addr: id.peer, port: id.port, ...this.endJson(id.remote) },
        actual_peer: actual ? { addr: actual.addr, port: actual.port, ...this.endJson(actual.end) } : null,
        actual_peers: x ? [...x.actualPeers.values()].map((a) => ({ addr: a.addr, port: a.port, connections: a.connections, ...this.endJson(a.end) })) : [],
        connections: { opened: edge.opened, closed: edge.closed, active: edge.active },
        bytes: { sent: edge.sentBytes, received: edge.receivedBytes },
      });
    }
    return out;
  }

  capabilities(): unknown {
    return {
      process: { source: '/proc', cache: { ...this.processes.stats, entries: this.processes.size } },
      containers: {
        cgroupLayouts: ['docker', 'containerd (kubepods systemd/cgroupfs; /k8s.io/<id> without a cgroup parent)', 'cri-o', 'podman', 'bare cgroup v2 directory'],
        runtimes: this.runtimes.map((r) => ({ ...r.status })),
        cri: this.cri.map((r) => ({ ...r.status })),
        ...(this.runtimes.length === 0 ? { reason: `no Docker or Podman API socket found (${DEFAULT_SOCKETS.map((s) => s.socket).join(', ')}): containers are named by id` } : {}),
        ...(this.cri.length === 0 ? { criReason: this.criError ?? `no CRI socket found (${CRI_SOCKETS.map((s) => s.socket).join(', ')}): containerd and CRI-O containers are named by id (or from Kubernetes)` } : {}),
      },
      kubernetes: { ...this.kubernetesState, resources: this.k8s?.status ?? [], ...(this.k8s ? { indexed: { pods: this.k8s.index.podsByUid.size, podIPs: this.k8s.index.podsByIp.size, services: this.k8s.index.servicesByIp.size, nodes: this.k8s.index.nodesByName.size } } : {}) },
      nat: this.nat ? { source: 'conntrack', ...this.nat.status } : { state: 'off' },
    };
  }
}
