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
