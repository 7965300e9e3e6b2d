// Endpoints: the finest identity the hub knows for one end of an edge. Views (pod, workload,
// node...) group endpoints; the join decides which endpoint a side record's peer is.
import type { wire } from '../../model/index.js';

/**
 * - process: a process an agent reported itself (its node, cgroup, container, pod...);
 * - peer: a peer no agent reported, named by the reporting agent's view of it (a pod it knew of);
 * - external: an address no agent reported and nobody could name, except by DNS.
 */
export type EndpointKind = 'process' | 'peer' | 'external';

export interface Endpoint {
  readonly kind: EndpointKind;
  readonly node: string;
  readonly zone: string;
  readonly process: string;
  readonly cgroup: string;
  readonly container: string;
  readonly pod: string;
  readonly namespace: string;
  readonly workload: string;
  readonly workloadKind: string;
  readonly service: string;
  readonly image: string;
  readonly version: string;
  /** For peer and external endpoints: the address they were reached at. */
  readonly addr: string;
  /** For external endpoints: the DNS name an agent saw it resolved from ('' when none). */
  readonly dns: string;
  readonly labels: Readonly<Record<string, string>>;
}

const EMPTY = { process: '', cgroup: '', container: '', pod: '', namespace: '', workload: '', workloadKind: '', service: '', image: '', version: '', addr: '', dns: '' };

/** The fields that make an endpoint's identity, in a fixed order. */
const KEY_FIELDS = ['kind', 'node', 'zone', 'process', 'cgroup', 'container', 'pod', 'namespace', 'workload', 'workloadKind', 'service', 'image', 'version', 'addr', 'dns'] as const;

export function endpointKey(e: Endpoint): string {
  const parts: string[] = KEY_FIELDS.map((f) => e[f]);
  const labelKeys = Object.keys(e.labels);
  if (labelKeys.length) {
    labelKeys.sort();
    for (const k of labelKeys) parts.push(`${k}=${e.labels[k]}`);
  }
  return parts.join('\u0001');
}

/** The workload fields of an end as the wire names them. */
function workloadFields(w: wire.WorkloadV1) {
  return {
    container: w.container ?? '',
    pod: w.pod ?? '',
    namespace: w.namespace ?? '',
    workload: w.workload ?? '',
    workloadKind: w.workload_kind ?? '',
    service: w.service ?? '',
    image: w.image ?? '',
    version: w.version ?? '',
    labels: w.labels ?? {},
  };
}

/** The process of an agent's own TCP edge. */
export function processEndpoint(node: string, zone: string, process: string, cgroup: string, w: wire.WorkloadV1): Endpoint {
  return { ...EMPTY, ...workloadFields(w), kind: 'process', node: w.node || node, zone: w.zone || zone, process, cgroup };
}

/** True when an agent's view of a peer names anything (a pod, a service...). */
export function knowsWorkload(w: wire.WorkloadV1): boolean {
  return Boolean(w.pod || w.workload || w.container || w.service || w.namespace);
}

/** A peer as the reporting agent saw it (no agent reported it). */
export function peerEndpoint(addr: string, w: wire.WorkloadV1): Endpoint {
  return { ...EMPTY, ...workloadFields(w), kind: 'peer', node: w.node ?? '', zone: w.zone ?? '', addr };
}

export function externalEndpoint(addr: string, dns: string): Endpoint {
  return { ...EMPTY, kind: 'external', node: '', zone: '', addr, dns, labels: {} };
}

/** Interns endpoints: one object and one small integer per distinct identity. */
export class EndpointDictionary {
  private readonly byKey = new Map<string, number>();
  private readonly all: Endpoint[] = [];

  get size(): number {
    return this.all.length;
  }

  intern(e: Endpoint): number {
    const key = endpointKey(e);
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.all.length;
      this.all.push(e);
      this.byKey.set(key, id);
    }
    return id;
  }

  /** Restores an entry with its id (from the store). */
  restore(id: number, e: Endpoint): void {
    while (this.all.length < id) this.all.push(externalEndpoint('', ''));
    this.all[id] = e;
    this.byKey.set(endpointKey(e), id);
  }

  get(id: number): Endpoint {
    const e = this.all[id];
    if (!e) throw new Error(`no endpoint ${id}`);
    return e;
  }

  entries(): IterableIterator<[number, Endpoint]> {
    return this.all.entries();
  }

  /** Every endpoint, indexed by id. */
  list(): readonly Endpoint[] {
    return this.all;
  }
}
