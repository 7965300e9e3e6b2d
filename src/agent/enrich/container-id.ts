// Container identity from a cgroup path: which runtime made it, the container id and, under
// Kubernetes, the pod's UID. Works on cgroup v1 and v2 paths, systemd and cgroupfs drivers.
export type Runtime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'cgroup';

export interface CgroupContainer {
  runtime: Runtime;
  /** Full 64-hex container id. */
  id: string;
  /** Kubernetes pod UID (dashed form) when the path is under kubepods. */
  podUid?: string;
  /** Kubernetes QoS class from the path: guaranteed, burstable or besteffort. */
  qos?: string;
}

const HEX64 = '[0-9a-f]{64}';
// One rule per runtime layout, tried on each path segment from the innermost outwards.
const SEGMENT_RULES: Array<[RegExp, Runtime]> = [
  [new RegExp(`^docker-(${HEX64})\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-(${HEX64})\\.scope$`), 'containerd'],
  [new RegExp(`^crio-(${HEX64})(\\.scope)?$`), 'cri-o'],
  [new RegExp(`^libpod-(${HEX64})(\\.scope)?$`), 'podman'],
  // nerdctl / containerd without Kubernetes, systemd driver
  [new RegExp(`^nerdctl-(${HEX64})\\.scope$`), 'containerd'],
];
const BARE = new RegExp(`^(${HEX64})$`);
// Runtime helpers that live beside containers but are not them.
const NOT_CONTAINER = /^(crio-conmon-|libpod-conmon-)/;
const POD_SEGMENT = /^(?:kubepods(?:-(besteffort|burstable))?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** Parses a cgroup path (relative to the hierarchy root, or a /proc/<pid>/cgroup path). */
export function containerFromCgroup(path: string): CgroupContainer | undefined {
  const segs = path.split('/').filter(Boolean);
  let podUid: string | undefined;
  let qos: string | undefined;
  let kube = false;
  for (const s of segs) {
    if (s === 'kubepods' || s === 'kubepods.slice') kube = true;
    const p = POD_SEGMENT.exec(s);
    if (p && kube) {
      podUid = p[2]!.replace(/_/g, '-');
      qos ??= p[1] ?? 'guaranteed';
    }
    if (kube && (s === 'besteffort' || s === 'burstable')) qos = s;
    if (kube && (s === 'kubepods-besteffort.slice' || s === 'kubepods-burstable.slice')) qos = s.slice(9, -6);
  }
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i]!;
    if (NOT_CONTAINER.test(s)) return undefined;
    for (const [re, runtime] of SEGMENT_RULES) {
      const m = re.exec(s);
      if (m) return withPod({ runtime, id: m[1]! }, podUid, qos);
    }
    const bare = BARE.exec(s);
    if (bare) {
      const parent = segs[i - 1];
      let runtime: Runtime = 'cgroup';
      if (parent === 'docker') runtime = 'docker';
      else if (parent === 'libpod_parent' || parent === 'machine') runtime = 'podman';
      // containerd's CRI plugin with no cgroup parent in the sandbox config: /<namespace k8s.io>/<id>
      else if (parent === 'k8s.io') runtime = 'containerd';
      else if (podUid) runtime = 'containerd'; // cgroupfs driver under kubepods: containerd's layout
      return withPod({ runtime, id: bare[1]! }, podUid, qos);
    }
  }
  return undefined;
}

function withPod(c: CgroupContainer, podUid: string | undefined, qos: string | undefined): CgroupContainer {
  if (podUid) {
    c.podUid = podUid;
    if (qos) c.qos = qos;
  }
  return c;
}
