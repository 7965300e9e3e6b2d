// The TCP edge a kernel edge entry (or one of its connections) counts under: the owner's process
// name and cgroup, both ends' workloads, the peer and the service port.
import type { ConnIdentity, EdgeTally } from '../../model/connection.js';
import type { TcpEdgeIdentity } from '../../model/edge.js';
import { NO_WORKLOAD, type Workload } from '../../model/workload.js';
import type { TcpEdge } from './edge.js';

/** Names the owner of a connection: process name and cgroup label, and both ends' workloads. */
export interface OwnerResolver {
  /** Process name; `comm` is what the kernel saw, empty when it could not tell. */
  process(pid: number, comm: string, socketInode: number): string;
  cgroup(id: number): string;
  /** Workload labels of the local end (container, pod, ...) by cgroup, from caches. */
  localOf?(cgroupId: number): Workload | undefined;
  /** Workload labels of the remote end, by its address. */
  remote?(addr: string): Workload | undefined;
  /** A new kernel edge entry was seen, `id` its first connection (process details, NAT lookups). */
  opened?(edge: TcpEdge, id: ConnIdentity): void;
}

/** What the kernel keys an edge entry by. */
export type KernelEdgeOwner = Pick<EdgeTally, 'role' | 'pid' | 'comm' | 'cgroupId' | 'peer' | 'port'>;

export function tcpIdentity(owners: OwnerResolver, k: KernelEdgeOwner, socketInode = 0): TcpEdgeIdentity {
  return {
    role: k.role,
    process: owners.process(k.pid, k.comm, socketInode),
    cgroup: owners.cgroup(k.cgroupId),
    peer: k.peer,
    port: k.port,
    local: owners.localOf?.(k.cgroupId) ?? NO_WORKLOAD,
    remote: owners.remote?.(k.peer) ?? NO_WORKLOAD,
  };
}

/** The kernel edge key of a connection's identity (what its edge entry is keyed by). */
export function ownerOf(id: ConnIdentity): KernelEdgeOwner {
  const role: EdgeTally['role'] = id.role === 'server' ? 'server' : 'client';
  return { role, pid: id.pid, comm: id.comm, cgroupId: id.cgroupId, peer: id.remoteAddr, port: role === 'server' ? id.localPort : id.remotePort };
}
