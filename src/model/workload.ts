// Who is at one end of an edge, as far as the node's identity sources (container runtime,
// Kubernetes) tell.

/** The labels of one end. Empty strings where a source does not know. */
export interface Workload {
  /** Short key of this label set, stable while the agent runs ('' for no workload): for hashing edges. */
  readonly key: string;
  readonly container: string;
  readonly pod: string;
  readonly namespace: string;
  readonly workload: string;
  readonly service: string;
}

/** What an end is, beyond its labels (shown in /connections and sent to the hub; never labels). */
export interface WorkloadInfo {
  kind?: 'container' | 'pod' | 'service' | 'node' | 'world';
  runtime?: string;
  container_id?: string;
  image?: string;
  version?: string;
  pod_uid?: string;
  workload_kind?: string;
  node?: string;
  zone?: string;
  /** Why an end has no name (no runtime socket, runtime has not answered...). */
  reason?: string;
}

/** An end with both its labels and its facts. */
export interface WorkloadEnd extends Workload {
  readonly info: WorkloadInfo;
}

export const NO_WORKLOAD: WorkloadEnd = Object.freeze({ key: '', container: '', pod: '', namespace: '', workload: '', service: '', info: Object.freeze({}) });

/** The label fields of a workload, in the order they are shown. */
export const WORKLOAD_FIELDS = ['container', 'pod', 'namespace', 'workload', 'service'] as const;
export type WorkloadField = (typeof WORKLOAD_FIELDS)[number];

/** Resolves the workload owning an address (pod IP, service IP, node IP, container), when known. */
export type WorkloadOf = (addr: string) => WorkloadEnd | undefined;

/**
 * Only the pod-level labels of an end (namespace, pod, workload): what packet-level series (drops,
 * DNS clients) name, so that two ends differing only in container or service share a series.
 */
export function podLevel(w: Workload | undefined): Workload {
  if (!w || (!w.namespace && !w.pod && !w.workload)) return NO_WORKLOAD;
  return { key: `${w.namespace}\u0001${w.pod}\u0001${w.workload}`, container: '', pod: w.pod, namespace: w.namespace, workload: w.workload, service: '' };
}
