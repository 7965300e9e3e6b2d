// Joins each connection with who is at both ends: process (from /proc), container (cgroup path →
// runtime: Docker Engine API or CRI), pod and workload (Kubernetes; the pod also from CRI), service
// and node (Kubernetes, by address), and where a translated connection landed (conntrack). Labels
// come from caches: a new connection costs a few map lookups; anything slow (runtime API, API
// server, conntrack) happens off the hot path and lands in the caches for the connections after it.
import type { Logger } from 'pino';
import { Every } from '../../lib/clock.js';
import type { ConnIdentity } from '../../model/connection.js';
import type { IdentityCapabilities } from '../../model/capabilities.js';
import { NO_WORKLOAD, type WorkloadEnd, type WorkloadInfo } from '../../model/workload.js';
import type { OwnerResolver } from '../tcp/conn-tracker.js';
import type { TcpEdge } from '../tcp/edge.js';
import type { Owners } from '../identity/owners.js';
import { containerFromCgroup } from './container-id.js';
import type { ContainerMeta } from './container-source.js';
import { EdgeDetails } from './edge-details.js';
import { EndInterner } from './ends.js';
import { ProcessCache, type ProcessArgs } from './process.js';
import { imageVersion } from './runtime.js';
import { ContainerSources, type RuntimeSocket } from './sources.js';
// Loaded only when Kubernetes is wanted: @kubernetes/client-node is tens of MB resident.
import type { K8sWatcher } from './k8s.js';
import { NatResolver } from './nat.js';

export interface EnrichOptions {
  /** auto: on when --kubeconfig is given or the agent runs in a pod. */
  kubernetes: 'auto' | 'on' | 'off';
  kubeconfig?: string;
  nodeName?: string;
  /** runtime=socket pairs (docker, podman: Docker Engine API; containerd, cri-o: CRI); for each
   *  kind not given, its default sockets that exist. */
  runtimeSockets?: RuntimeSocket[];
  nat: boolean;
  /** Processes' arguments: none (default: a process is its executable) or redacted (--process-args). */
  processArgs?: ProcessArgs;
  log: Logger;
  /** An identity source failed (counted in a self-metric). */
  onError?: (source: string) => void;
}

/** resolveLocal: the cgroup id is not in the hierarchy as last walked (not cached: asked again). */
const UNKNOWN_CGROUP: WorkloadEnd = { ...NO_WORKLOAD };

export class Enricher implements OwnerResolver {
  readonly processes: ProcessCache;
  readonly details = new EdgeDetails();
  readonly sources: ContainerSources;
  k8s: K8sWatcher | undefined;
  kubernetesState: { enabled: boolean; reason?: string; server?: string } = { enabled: false, reason: 'off' };
  /** Kubernetes is asked for (on), or found (auto: in a pod, or --kubeconfig). */
  readonly kubernetesWanted: boolean;
  readonly nat: NatResolver<TcpEdge> | undefined;
  private readonly ends = new EndInterner();
  private readonly locals = new Map<number, WorkloadEnd>();
  private readonly remotes = new Map<string, WorkloadEnd>();
  private generation = 0;
  private seenGeneration = -1;
  /** Exited processes leave the process cache this often. */
  private readonly sweepEvery = new Every(10_000);

  constructor(
    private readonly owners: Owners,
    private readonly options: EnrichOptions,
  ) {
    this.processes = new ProcessCache(undefined, undefined, options.processArgs ?? 'none');
    const onError = (source: string): void => options.onError?.(source);
    this.sources = new ContainerSources(options.runtimeSockets ?? [], options.log, { onChange: () => this.generation++, onError });
    this.kubernetesWanted = options.kubernetes === 'on' || (options.kubernetes === 'auto' && (options.kubeconfig !== undefined || process.env.KUBERNETES_SERVICE_HOST !== undefined));
    if (!this.kubernetesWanted && options.kubernetes === 'auto') {
      this.kubernetesState = { enabled: false, reason: 'not in a pod and no --kubeconfig' };
    }
    this.nat = options.nat ? new NatResolver<TcpEdge>((edge, actual) => this.details.translated(edge, actual.dst, actual.dport, this.byAddress(actual.dst))) : undefined;
  }

  async start(): Promise<void> {
    if (this.kubernetesWanted) await this.startKubernetes();
    this.k8s?.start();
    await this.sources.start();
  }

  private async startKubernetes(): Promise<void> {
    const { log } = this.options;
    try {
      const { K8sWatcher, loadKubeConfig } = await import('./k8s.js');
      const kc = loadKubeConfig(this.options.kubeconfig);
      this.k8s = new K8sWatcher(kc, { kubeconfig: this.options.kubeconfig, nodeName: this.options.nodeName, log, onError: () => this.options.onError?.('kubernetes') });
      this.kubernetesState = { enabled: true, server: this.k8s.server };
    } catch (err) {
      this.kubernetesState = { enabled: false, reason: (err as Error).message };
      this.options.onError?.('kubernetes');
      log.warn({ err: (err as Error).message }, `Kubernetes labels are off: ${(err as Error).message}`);
    }
  }

  /** A node's zone from its Kubernetes labels (topology.kubernetes.io/zone); '' when unknown. */
  nodeZone(name: string): string {
    return this.k8s?.index.nodesByName.get(name)?.zone ?? '';
  }

  stop(): void {
    this.k8s?.stop();
    this.sources.close();
  }

  /** Once per interval, off the hot path: runtime re-lists, NAT lookups, exited processes. */
  async tick(): Promise<void> {
    this.sources.refresh();
    if (this.sweepEvery.due()) this.processes.sweep();
    if (this.nat) {
      const before = this.nat.status.state;
      await this.nat.flush();
      if (this.nat.status.state !== 'ok' && before === 'ok') this.options.onError?.('conntrack');
    }
  }

  // OwnerResolver: process and cgroup labels stay as they were.
  process(pid: number, comm: string, socketInode: number): string {
    return this.owners.process(pid, comm, socketInode);
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

  local(id: ConnIdentity): WorkloadEnd {
    return this.localOf(id.cgroupId);
  }

  /** The workload of a cgroup (container, pod), from caches. */
  localOf(cg: number): WorkloadEnd {
    this.checkGeneration();
    let e = this.locals.get(cg);
    if (e === undefined) {
      e = this.resolveLocal(cg);
      // A cgroup not found yet (made after the last walk of the hierarchy) is asked again later.
      if (e === UNKNOWN_CGROUP) return NO_WORKLOAD;
      if (this.locals.size >= 65536) this.locals.clear();
      this.locals.set(cg, e);
    }
    return e;
  }

  private resolveLocal(cgroupId: number): WorkloadEnd {
    if (cgroupId === 0) return NO_WORKLOAD;
    const path = this.owners.cgroup(cgroupId);
    if (path === String(cgroupId)) return UNKNOWN_CGROUP;
    const c = containerFromCgroup(path);
    if (!c) return NO_WORKLOAD;
    const info: WorkloadInfo = { runtime: c.runtime, container_id: c.id };
    let name = '';
    let pod = '';
    let namespace = '';
    let workload = '';
    const rt = this.sources.for(c);
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
    if (!name) info.reason = this.sources.unnamedReason(c, rt);
    return this.ends.end(name || c.id.slice(0, 12), pod, namespace, workload, '', info);
  }

  remote(addr: string): WorkloadEnd {
    return this.byAddress(addr);
  }

  /** Whoever owns an address (a pod, service, node or container), from the same cache as edges' peers. */
  byAddress(ip: string): WorkloadEnd {
    this.checkGeneration();
    let e = this.remotes.get(ip);
    if (e === undefined) {
      e = this.resolveRemote(ip);
      if (this.remotes.size >= 65536) this.remotes.clear();
      this.remotes.set(ip, e);
    }
    return e;
  }

  private containerEnd(m: ContainerMeta): WorkloadEnd {
    return this.ends.end(m.name, m.pod?.name ?? '', m.pod?.namespace ?? '', '', '', { kind: 'container', runtime: m.runtime, container_id: m.id, image: m.image, version: m.version });
  }

  private resolveRemote(ip: string): WorkloadEnd {
    for (const r of this.sources.runtimes) {
      const m = r.byAddress(ip);
      if (m) return this.containerEnd(m);
    }
    const ix = this.k8s?.index;
    // Pod addresses from CRI: where the Kubernetes API is not asked (it knows workloads, too).
    if (!ix) return this.criByAddress(ip) ?? NO_WORKLOAD;
    const svc = ix.servicesByIp.get(ip);
    if (svc) return this.ends.end('', '', svc.namespace, '', svc.name, { kind: 'service' });
    const pod = ix.podsByIp.get(ip);
    if (pod) {
      const w = ix.workloadOf(pod);
      const s = ix.serviceOf(ip);
      const node = ix.nodesByName.get(pod.node);
      return this.ends.end(pod.mainContainer, pod.name, pod.namespace, w.name, s?.name ?? '', {
        kind: 'pod',
        workload_kind: w.kind,
        node: pod.node,
        ...(node?.zone ? { zone: node.zone } : {}),
        ...(pod.image ? { image: pod.image, version: imageVersion(pod.image) } : {}),
      });
    }
    const node = ix.nodesByIp.get(ip);
    if (node) return this.ends.end('', '', '', `node/${node.name}`, '', { kind: 'node', node: node.name, ...(node.zone ? { zone: node.zone } : {}) });
    return this.criByAddress(ip) ?? this.ends.end('', '', '', 'world', '', { kind: 'world' });
  }

  private criByAddress(ip: string): WorkloadEnd | undefined {
    for (const r of this.sources.cri) {
      const m = r.byAddress(ip);
      if (m) return this.containerEnd(m);
    }
    return undefined;
  }

  /** A connection was attributed to `edge`: note its process and local address, and look up NAT for clients. */
  opened(edge: TcpEdge, id: ConnIdentity): void {
    const pid = id.pid;
    if (pid) {
      const p = this.processes.get(pid);
      if (p) this.details.process(edge, p);
    }
    const local = id.localAddr;
    this.details.localAddr(edge, local);
    if (this.nat && id.role === 'client') {
      this.nat.queue({ tuple: { src: local, sport: id.localPort, dst: edge.identity.peer, dport: id.remotePort }, pid, netns: id.netns, ctx: edge });
    }
  }

  capabilities(): IdentityCapabilities {
    return {
      process: { source: '/proc', args: this.options.processArgs ?? 'none', cache: { ...this.processes.stats, entries: this.processes.size } },
      containers: {
        cgroupLayouts: ['docker', 'containerd (kubepods systemd/cgroupfs; /k8s.io/<id> without a cgroup parent)', 'cri-o', 'podman', 'bare cgroup v2 directory'],
        ...this.sources.status(),
      },
      kubernetes: { ...this.kubernetesState, resources: this.k8s?.status ?? [], ...(this.k8s ? { indexed: { pods: this.k8s.index.podsByUid.size, podIPs: this.k8s.index.podsByIp.size, services: this.k8s.index.servicesByIp.size, nodes: this.k8s.index.nodesByName.size } } : {}) },
      nat: this.nat ? { source: 'conntrack', ...this.nat.status } : { state: 'off' },
    };
  }
}
