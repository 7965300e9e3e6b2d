// The Kubernetes objects edges need, trimmed to the fields labels use: pods (by UID for the local
// side; by IP for the remote side), services by cluster IP, endpoint IPs to services, nodes by IP
// (with their zone), and the owners that roll a pod up to its workload (ReplicaSet → Deployment,
// Job → CronJob). Containers are kept only for pods on this node: elsewhere only the pod's IP matters.
import { imageVersion } from './runtime.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface Meta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
}

/** Every indexed record carries `metadata` in the shape the informer cache keys on. */
export interface Trimmed<T> {
  metadata: Meta;
  rec: T;
}

export interface PodContainer {
  name: string;
  id: string;
  image: string;
}

export interface PodRec {
  name: string;
  namespace: string;
  uid: string;
  node: string;
  ips: string[];
  hostNetwork: boolean;
  /** The controlling owner reference. */
  ownerKind: string;
  ownerName: string;
  templateHash: string;
  /** The first container's name and image (for the remote side: what the pod runs). */
  mainContainer: string;
  image: string;
  /** Every container, only for pods on this node. */
  containers?: PodContainer[];
  terminated: boolean;
}

export interface ServiceRec {
  name: string;
  namespace: string;
  clusterIPs: string[];
}

export interface SliceRec {
  namespace: string;
  service: string;
  ips: string[];
}

export interface NodeRec {
  name: string;
  ips: string[];
  zone: string;
}

export interface OwnerRec {
  kind: string;
  name: string;
}

function meta(o: Obj): Meta {
  const m = isObj(o.metadata) ? o.metadata : {};
  return { name: str(m.name), namespace: str(m.namespace), uid: str(m.uid), resourceVersion: str(m.resourceVersion) };
}

function controller(o: Obj): OwnerRec {
  const m = isObj(o.metadata) ? o.metadata : {};
  const refs = arr(m.ownerReferences).filter(isObj);
  const c = refs.find((r) => r.controller === true) ?? refs[0];
  return c ? { kind: str(c.kind), name: str(c.name) } : { kind: '', name: '' };
}

/** Strips the runtime scheme of a containerStatus containerID (containerd://<id>, cri-o://<id>, docker://<id>). */
export function bareContainerId(v: string): string {
  const i = v.indexOf('://');
  return i >= 0 ? v.slice(i + 3) : v;
}

export function trimPod(v: unknown, nodeName: string | undefined): Trimmed<PodRec> {
  const o = isObj(v) ? v : {};
  const md = meta(o);
  const spec = isObj(o.spec) ? o.spec : {};
  const status = isObj(o.status) ? o.status : {};
  const ips = arr(status.podIPs).filter(isObj).map((p) => str(p.ip)).filter(Boolean);
  if (ips.length === 0 && str(status.podIP)) ips.push(str(status.podIP));
  const owner = controller(o);
  const labels = isObj((o.metadata as Obj | undefined)?.labels) ? ((o.metadata as Obj).labels as Obj) : {};
  const node = str(spec.nodeName);
  const phase = str(status.phase);
  const first = arr(spec.containers).find(isObj);
  const rec: PodRec = {
    mainContainer: first ? str(first.name) : '',
    image: first ? str(first.image) : '',
    name: md.name,
    namespace: md.namespace,
    uid: md.uid,
    node,
    ips,
    hostNetwork: spec.hostNetwork === true,
    ownerKind: owner.kind,
    ownerName: owner.name,
    templateHash: str(labels['pod-template-hash']),
    terminated: phase === 'Succeeded' || phase === 'Failed',
  };
  if (nodeName === undefined || node === nodeName) {
    const specImages = new Map(arr(spec.containers).filter(isObj).map((c) => [str(c.name), str(c.image)]));
    const statuses = [...arr(status.initContainerStatuses), ...arr(status.containerStatuses)].filter(isObj);
    rec.containers = statuses.map((c) => ({ name: str(c.name), id: bareContainerId(str(c.containerID)), image: specImages.get(str(c.name)) || str(c.image) }));
  }
  return { metadata: md, rec };
}

export function trimService(v: unknown): Trimmed<ServiceRec> {
  const o = isObj(v) ? v : {};
  const md = meta(o);
  const spec = isObj(o.spec) ? o.spec : {};
  const ips = arr(spec.clusterIPs).map(str).filter((ip) => ip && ip !== 'None');
  if (ips.length === 0 && str(spec.clusterIP) && spec.clusterIP !== 'None') ips.push(str(spec.clusterIP));
  return { metadata: md, rec: { name: md.name, namespace: md.namespace, clusterIPs: ips } };
}

export function trimSlice(v: unknown): Trimmed<SliceRec> {
  const o = isObj(v) ? v : {};
  const md = meta(o);
  const labels = isObj((o.metadata as Obj | undefined)?.labels) ? ((o.metadata as Obj).labels as Obj) : {};
  const ips = arr(o.endpoints).filter(isObj).flatMap((e) => arr(e.addresses).map(str)).filter(Boolean);
  return { metadata: md, rec: { namespace: md.namespace, service: str(labels['kubernetes.io/service-name']), ips } };
}

export function trimNode(v: unknown): Trimmed<NodeRec> {
  const o = isObj(v) ? v : {};
  const md = meta(o);
  const status = isObj(o.status) ? o.status : {};
  const labels = isObj((o.metadata as Obj | undefined)?.labels) ? ((o.metadata as Obj).labels as Obj) : {};
  const ips = arr(status.addresses).filter(isObj).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => str(a.address)).filter(Boolean);
  return { metadata: md, rec: { name: md.name, ips, zone: str(labels['topology.kubernetes.io/zone']) || str(labels['failure-domain.beta.kubernetes.io/zone']) } };
}

export function trimOwned(v: unknown): Trimmed<OwnerRec> {
  const o = isObj(v) ? v : {};
  return { metadata: meta(o), rec: controller(o) };
}

export interface Workload {
  kind: string;
  name: string;
}

export interface PodView {
  pod: PodRec;
  workload: Workload;
  node?: NodeRec;
  container?: PodContainer;
  version: string;
}

export type RemoteKind = 'pod' | 'service' | 'node' | 'world';

export class K8sIndex {
  readonly podsByUid = new Map<string, PodRec>();
  readonly podsByIp = new Map<string, PodRec>();
  readonly servicesByIp = new Map<string, ServiceRec>();
  readonly nodesByIp = new Map<string, NodeRec>();
  readonly nodesByName = new Map<string, NodeRec>();
  /** endpoint IP → "namespace/service" */
  readonly serviceOfEndpoint = new Map<string, ServiceRec | { namespace: string; name: string }>();
  readonly replicaSets = new Map<string, OwnerRec>();
  readonly jobs = new Map<string, OwnerRec>();
  private readonly slices = new Map<string, SliceRec>();
  /** Bumped on every change that may alter a label: caches built on the index compare it. */
  generation = 0;

  upsertPod(p: PodRec, old?: PodRec): void {
    if (old) this.removePod(old);
    this.podsByUid.set(p.uid, p);
    if (!p.hostNetwork && !p.terminated) for (const ip of p.ips) this.podsByIp.set(ip, p);
    this.generation++;
  }

  removePod(p: PodRec): void {
    if (this.podsByUid.get(p.uid) === p || this.podsByUid.get(p.uid)?.name === p.name) this.podsByUid.delete(p.uid);
    for (const ip of p.ips) {
      const cur = this.podsByIp.get(ip);
      if (cur && cur.uid === p.uid) this.podsByIp.delete(ip);
    }
    this.generation++;
  }

  upsertService(s: ServiceRec, old?: ServiceRec): void {
    if (old) this.removeService(old);
    for (const ip of s.clusterIPs) this.servicesByIp.set(ip, s);
    this.generation++;
  }

  removeService(s: ServiceRec): void {
    for (const ip of s.clusterIPs) {
      const cur = this.servicesByIp.get(ip);
      if (cur && cur.name === s.name && cur.namespace === s.namespace) this.servicesByIp.delete(ip);
    }
    this.generation++;
  }

  upsertSlice(key: string, s: SliceRec): void {
    this.removeSlice(key);
    this.slices.set(key, s);
    if (s.service) for (const ip of s.ips) this.serviceOfEndpoint.set(ip, { namespace: s.namespace, name: s.service });
    this.generation++;
  }

  removeSlice(key: string): void {
    const old = this.slices.get(key);
    if (!old) return;
    this.slices.delete(key);
    for (const ip of old.ips) {
      const cur = this.serviceOfEndpoint.get(ip);
      if (cur && cur.name === old.service && cur.namespace === old.namespace) this.serviceOfEndpoint.delete(ip);
    }
    this.generation++;
  }

  upsertNode(n: NodeRec, old?: NodeRec): void {
    if (old) this.removeNode(old);
    this.nodesByName.set(n.name, n);
    for (const ip of n.ips) this.nodesByIp.set(ip, n);
    this.generation++;
  }

  removeNode(n: NodeRec): void {
    if (this.nodesByName.get(n.name) === n) this.nodesByName.delete(n.name);
    for (const ip of n.ips) if (this.nodesByIp.get(ip)?.name === n.name) this.nodesByIp.delete(ip);
    this.generation++;
  }

  setOwner(kind: 'ReplicaSet' | 'Job', key: string, owner: OwnerRec | undefined): void {
    const m = kind === 'ReplicaSet' ? this.replicaSets : this.jobs;
    if (owner) m.set(key, owner);
    else m.delete(key);
    this.generation++;
  }

  /** The pod's workload: ReplicaSet rolled up to its Deployment, Job to its CronJob. */
  workloadOf(p: PodRec): Workload {
    if (p.ownerKind === 'ReplicaSet') {
      const rs = this.replicaSets.get(`${p.namespace}/${p.ownerName}`);
      if (rs?.kind) return { kind: rs.kind, name: rs.name };
      if (rs) return { kind: 'ReplicaSet', name: p.ownerName };
      // Owner not (yet) known: a Deployment's ReplicaSet is named <deployment>-<pod-template-hash>.
      if (p.templateHash && p.ownerName.endsWith(`-${p.templateHash}`)) return { kind: 'Deployment', name: p.ownerName.slice(0, -p.templateHash.length - 1) };
      return { kind: 'ReplicaSet', name: p.ownerName };
    }
    if (p.ownerKind === 'Job') {
      const job = this.jobs.get(`${p.namespace}/${p.ownerName}`);
      if (job?.kind) return { kind: job.kind, name: job.name };
      return { kind: 'Job', name: p.ownerName };
    }
    if (p.ownerKind) return { kind: p.ownerKind, name: p.ownerName };
    return { kind: 'Pod', name: p.name };
  }

  /** The local side: a pod by UID and, when known, the container by id. */
  local(podUid: string, containerId: string | undefined): PodView | undefined {
    const pod = this.podsByUid.get(podUid);
    if (!pod) return undefined;
    const container = containerId ? pod.containers?.find((c) => c.id === containerId) : undefined;
    return { pod, workload: this.workloadOf(pod), node: this.nodesByName.get(pod.node), container, version: container ? imageVersion(container.image) : '' };
  }

  serviceOf(ip: string): { namespace: string; name: string } | undefined {
    return this.servicesByIp.get(ip) ?? this.serviceOfEndpoint.get(ip);
  }
}
