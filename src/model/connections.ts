// The agent's /connections: the joined view per TCP edge, both ends' identities and where NATed
// connections landed. Kept on the node unless asked for (it names processes and addresses).
import type { Role } from './edge.js';
import type { WorkloadInfo } from './workload.js';

export interface ProcessView {
  pid: number;
  /** Pid inside the process's own pid namespace. */
  nsPid: number;
  exe: string;
  /** Redacted command line; only when the agent runs with --process-args. */
  cmdline?: string;
  startedAt: string;
}

/** An end's labels (only those that are known) and its facts. */
export interface EndView extends WorkloadInfo {
  container?: string;
  pod?: string;
  namespace?: string;
  workload?: string;
  service?: string;
}

export interface ConnectionEdgeView {
  role: Role;
  port: number;
  local: EndView & { process: string; cgroup: string; processes: ProcessView[] };
  peer: EndView & { addr: string; port: number };
  /** Where the last translated connection (service VIP, NAT) landed; null when none was translated. */
  actual_peer: (EndView & { addr: string; port: number }) | null;
  actual_peers: Array<EndView & { addr: string; port: number; connections: number }>;
  connections: { opened: number; closed: number; active: number };
  bytes: { sent: number; received: number };
}

export interface ConnectionsView {
  edges: ConnectionEdgeView[];
}
