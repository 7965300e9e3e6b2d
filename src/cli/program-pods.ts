// The agent's Kubernetes index seen through the custom programs' `cgroup`/`pid` decoders, so that
// their pod, namespace and container labels come from the same watch as the TCP edges' labels.
import { PodIndex, type CgroupIdentity, type PodInfo } from '../programs/decoders/kube.js';
import type { K8sIndex } from '../agent/enrich/k8s-index.js';

export class EnricherPodIndex extends PodIndex {
  constructor(private readonly index: () => K8sIndex | undefined) {
    super();
  }

  override podOf(id: CgroupIdentity): PodInfo | undefined {
    const idx = this.index();
    if (!idx || !id.podUid) return undefined;
    const view = idx.local(id.podUid, id.containerId || undefined);
    if (!view) return undefined;
    const containers = new Map<string, string>();
    if (view.container) containers.set(view.container.id, view.container.name);
    return { namespace: view.pod.namespace, name: view.pod.name, containers };
  }

  override get size(): number {
    return this.index()?.podsByUid.size ?? 0;
  }
}
