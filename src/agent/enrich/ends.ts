// Ends (workload labels plus facts) with short interned keys, so that edge keys stay short and
// stable across cache rebuilds. Bounded: past a million label sets, keys are the full text (still
// correct, only longer).
import type { WorkloadEnd, WorkloadInfo } from '../../model/workload.js';

export class EndInterner {
  private readonly keys = new Map<string, string>();

  constructor(private readonly maxKeys = 1_000_000) {}

  end(container: string, pod: string, namespace: string, workload: string, service: string, info: WorkloadInfo): WorkloadEnd {
    const full = `${container}\u0001${pod}\u0001${namespace}\u0001${workload}\u0001${service}`;
    let key = this.keys.get(full);
    if (key === undefined) {
      key = this.keys.size < this.maxKeys ? (this.keys.size + 1).toString(36) : full;
      this.keys.set(full, key);
    }
    return { key, container, pod, namespace, workload, service, info };
  }
}
