// The workload owning an address (pod IP, service IP...), as packet-level series name their ends.

export interface AddressWorkload {
  pod: string;
  namespace: string;
  workload: string;
}

export type WorkloadOf = (addr: string) => AddressWorkload | undefined;

/** namespace, pod and workload labels (each prefixed, e.g. "peer_"), empty when the address names none. */
export function workloadLabels(w: AddressWorkload | undefined, prefix = ''): Array<[string, string]> {
  return [
    [`${prefix}namespace`, w?.namespace ?? ''],
    [`${prefix}pod`, w?.pod ?? ''],
    [`${prefix}workload`, w?.workload ?? ''],
  ];
}
