// Container and pod identity from cgroup paths, as container runtimes and the kubelet lay them out:
//   cgroupfs:  /kubepods/burstable/pod<uid>/<container-id>
//   systemd:   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
//   podman:    /libpod_parent/libpod-<id>   docker: /docker/<id>, /system.slice/docker-<id>.scope   cri-o: crio-<id>.scope

export interface CgroupIdentity {
  containerId: string;
  podUid: string;
}

const CONTAINER = /^(?:[a-z0-9]+(?:-[a-z0-9]+)*-)?([0-9a-f]{64})(?:\.scope)?$/;
const POD = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

export function identityFromCgroupPath(path: string): CgroupIdentity {
  let containerId = '';
  let podUid = '';
  for (const part of path.split('/')) {
    const c = CONTAINER.exec(part);
    if (c) containerId = c[1]!;
    const p = POD.exec(part);
    if (p) podUid = p[1]!.replace(/_/g, '-');
  }
  return { containerId, podUid };
}

export interface PodInfo {
  namespace: string;
  name: string;
  /** container id (without the runtime:// prefix) → container name */
  containers: Map<string, string>;
}

/** Pods by uid and containers by id, kept up to date from the Kubernetes API (see watch.ts). */
export class PodIndex {
  private readonly byUid = new Map<string, PodInfo>();
  private readonly podOfContainer = new Map<string, string>();

  set(uid: string, info: PodInfo): void {
    this.delete(uid);
    this.byUid.set(uid, info);
    for (const id of info.containers.keys()) this.podOfContainer.set(id, uid);
  }

  delete(uid: string): void {
    const old = this.byUid.get(uid);
    if (!old) return;
    for (const id of old.containers.keys()) this.podOfContainer.delete(id);
    this.byUid.delete(uid);
  }

  clear(): void {
    this.byUid.clear();
    this.podOfContainer.clear();
  }

  get size(): number {
    return this.byUid.size;
  }

  pod(uid: string): PodInfo | undefined {
    return this.byUid.get(uid);
  }

  /** Pod of a container, by the container's id (also when the cgroup path lacks the pod uid). */
  podOf(id: CgroupIdentity): PodInfo | undefined {
    if (id.podUid) return this.byUid.get(id.podUid);
    const uid = id.containerId ? this.podOfContainer.get(id.containerId) : undefined;
    return uid ? this.byUid.get(uid) : undefined;
  }
}

/** A Kubernetes Pod object (the fields used here) → PodInfo. */
export function podInfoFrom(pod: {
  metadata?: { uid?: string; name?: string; namespace?: string };
  status?: { containerStatuses?: Array<{ name?: string; containerID?: string }>; initContainerStatuses?: Array<{ name?: string; containerID?: string }> };
}): { uid: string; info: PodInfo } | undefined {
  const uid = pod.metadata?.uid;
  if (!uid) return undefined;
  const containers = new Map<string, string>();
  for (const s of [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]) {
    const id = s.containerID?.replace(/^[a-z-]+:\/\//, '');
    if (id && s.name) containers.set(id, s.name);
  }
  return { uid, info: { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', containers } };
}
