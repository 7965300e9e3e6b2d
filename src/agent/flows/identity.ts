// The edge a kernel flow key or edge key counts under: peer, service port (never an ephemeral
// port), protocol, interface, direction and the peer's DNS name.
import { FlowDirection, type EdgeKeyView, type FlowKeyView } from '../../bpf/gen/flows.gen.js';
import { formatAddr } from '../../model/addr.js';
import { protocolName, type FlowEdgeIdentity } from '../../model/edge.js';
import type { EdgeTable } from '../edges/table.js';
import type { FlowEdge } from './edge.js';
import { servicePort, type PortRange } from '../edges/ports.js';

export class FlowEdges {
  constructor(
    readonly table: EdgeTable<FlowEdgeIdentity, FlowEdge>,
    private readonly ports: PortRange,
    private readonly interfaceName: (ifindex: number) => string,
    private readonly dnsName: ((addr: string) => string) | undefined,
  ) {}

  /** The edge of a 5-tuple flow key. */
  ofFlow(k: FlowKeyView, nowMs?: number): FlowEdge {
    const ingress = k.direction === FlowDirection.DIR_INGRESS;
    const peer = formatAddr(k.family, ingress ? k.saddr : k.daddr);
    const portful = k.proto === 6 || k.proto === 17 || k.proto === 132;
    const local = ingress ? k.dport : k.sport;
    const remote = ingress ? k.sport : k.dport;
    return this.table.get(
      {
        direction: ingress ? 'ingress' : 'egress',
        protocol: protocolName(k.proto),
        interface: this.interfaceName(k.ifindex),
        peer,
        port: portful ? servicePort(local, remote, this.ports) : 0,
        peerDns: this.dnsName?.(peer) ?? '',
      },
      nowMs,
    );
  }

  /** The edge of a kernel edge key (edge mode: the kernel chose the service port). */
  ofEdgeKey(k: EdgeKeyView, nowMs?: number): FlowEdge {
    const peer = formatAddr(k.family, k.peer);
    return this.table.get(
      {
        direction: k.direction === FlowDirection.DIR_INGRESS ? 'ingress' : 'egress',
        protocol: protocolName(k.proto),
        interface: this.interfaceName(k.ifindex),
        peer,
        port: k.port,
        peerDns: this.dnsName?.(peer) ?? '',
      },
      nowMs,
    );
  }
}

/** Map fill (fraction of max entries) from which idle entries leave after 2 s, then after 0.5 s. */
const PRESSURE_LOW = 0.5;
const PRESSURE_LOW_IDLE_NS = 2e9;
const PRESSURE_HIGH = 0.75;
const PRESSURE_HIGH_IDLE_NS = 0.5e9;

/**
 * The idle timeout under map pressure. A map that fills up pushes every new flow through the spill
 * ring, one record per packet (a flood of new sources can do that within the idle timeout): before
 * that happens, idle entries leave sooner, as conntrack drops early under pressure.
 */
export class MapPressure {
  private under = false;
  private warnedMs = 0;
  /** Intervals in which the map's fill shortened the idle timeout. */
  intervals = 0;

  constructor(
    private readonly idleNs: number,
    private readonly warn: (entries: number, maxEntries: number, idleTimeoutMs: number) => void,
  ) {}

  idleTimeoutNs(entries: number, maxEntries: number, nowMs = Date.now()): number {
    const fill = entries / maxEntries;
    const idleNs = fill >= PRESSURE_HIGH ? Math.min(this.idleNs, PRESSURE_HIGH_IDLE_NS) : fill >= PRESSURE_LOW ? Math.min(this.idleNs, PRESSURE_LOW_IDLE_NS) : this.idleNs;
    const under = idleNs < this.idleNs;
    if (under && !this.under && nowMs - this.warnedMs > 5 * 60_000) {
      this.warnedMs = nowMs;
      this.warn(entries, maxEntries, idleNs / 1e6);
    }
    if (under) this.intervals++;
    this.under = under;
    return idleNs;
  }
}
