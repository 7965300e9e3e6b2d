// What /connections shows of an edge beyond its labels: the processes seen on it (bounded) and where
// its translated connections landed (NAT: the backend behind a service VIP), kept beside each edge
// and forgotten with it.
import type { WorkloadEnd } from '../../model/workload.js';
import type { TcpEdge } from '../tcp/edge.js';
import type { ProcessIdentity } from './process.js';

export type ProcessDetails = Pick<ProcessIdentity, 'pid' | 'nsPid' | 'exe' | 'cmdline' | 'startedAt'>;

export interface ActualPeer {
  addr: string;
  port: number;
  connections: number;
  end?: WorkloadEnd;
}

export interface EdgeDetail {
  processes: Map<string, ProcessDetails>;
  /** The last process seen: most connections of an edge come from the same one. */
  lastProcess?: ProcessIdentity;
  actualPeers: Map<string, ActualPeer>;
  lastActual?: string;
  /** Local addresses of the edge's connections (bounded): what the hub joins on. */
  localAddrs: Set<string>;
}

const MAX_PROCESSES = 4;
const MAX_ACTUAL_PEERS = 16;
const MAX_LOCAL_ADDRS = 8;

export class EdgeDetails {
  private readonly details = new WeakMap<TcpEdge, EdgeDetail>();

  get(edge: TcpEdge): EdgeDetail | undefined {
    return this.details.get(edge);
  }

  private of(edge: TcpEdge): EdgeDetail {
    let d = this.details.get(edge);
    if (!d) this.details.set(edge, (d = { processes: new Map(), actualPeers: new Map(), localAddrs: new Set() }));
    return d;
  }

  process(edge: TcpEdge, p: ProcessIdentity): void {
    const d = this.of(edge);
    if (d.lastProcess === p) return;
    d.lastProcess = p;
    if (d.processes.has(p.key)) return;
    if (d.processes.size >= MAX_PROCESSES) d.processes.delete(d.processes.keys().next().value!);
    d.processes.set(p.key, { pid: p.pid, nsPid: p.nsPid, exe: p.exe, cmdline: p.cmdline, startedAt: p.startedAt });
  }

  localAddr(edge: TcpEdge, addr: string): void {
    const d = this.of(edge);
    if (d.localAddrs.has(addr) || d.localAddrs.size >= MAX_LOCAL_ADDRS) return;
    d.localAddrs.add(addr);
  }

  translated(edge: TcpEdge, addr: string, port: number, end: WorkloadEnd): void {
    const d = this.of(edge);
    const k = `${addr}:${port}`;
    let a = d.actualPeers.get(k);
    if (!a) {
      if (d.actualPeers.size >= MAX_ACTUAL_PEERS) d.actualPeers.delete(d.actualPeers.keys().next().value!);
      a = { addr, port, connections: 0 };
      d.actualPeers.set(k, a);
    }
    a.connections++;
    a.end = end;
    d.lastActual = k;
  }
}
