// Flow edges: (direction, protocol, interface, peer address, service port) with packet and byte
// counters that only grow. Past the series cap, new edges roll up into peer_addr="other" (then port
// "0" too), like the TCP agent's edges.
import { header, labelString, sample } from '../metrics/exposition.js';
import { FLOW_METRICS } from './metrics.js';

export interface FlowEdgeIdentity {
  direction: 'ingress' | 'egress';
  protocol: string;
  interface: string;
  peer: string;
  port: number;
  /** The peer's DNS name when the agent saw it resolved ('' when unknown). */
  peerDns: string;
}

export class FlowEdge {
  readonly labels: string;
  packets = 0;
  bytes = 0;
  lastActivityMs = Date.now();

  constructor(readonly identity: FlowEdgeIdentity) {
    this.labels = labelString([
      ['direction', identity.direction],
      ['protocol', identity.protocol],
      ['interface', identity.interface],
      ['peer_addr', identity.peer],
      ['peer_dns', identity.peerDns],
      ['port', String(identity.port)],
    ]);
  }
}

function keyOf(i: FlowEdgeIdentity): string {
  return `${i.direction}\u0000${i.protocol}\u0000${i.interface}\u0000${i.peer}\u0000${i.port}\u0000${i.peerDns}`;
}

export class FlowEdgeTable {
  private readonly edges = new Map<string, FlowEdge>();
  private ownEdges = 0;
  /** Flows attributed to a roll-up edge instead of their own. */
  rolledUp = 0;

  constructor(private readonly maxSeries: number) {}

  get size(): number {
    return this.edges.size;
  }

  get(identity: FlowEdgeIdentity): FlowEdge {
    const key = keyOf(identity);
    const existing = this.edges.get(key);
    if (existing) return existing;
    if (this.ownEdges < this.maxSeries) {
      const edge = new FlowEdge(identity);
      this.edges.set(key, edge);
      this.ownEdges++;
      return edge;
    }
    this.rolledUp++;
    const rollup: FlowEdgeIdentity =
      this.edges.size < this.maxSeries * 2 ? { ...identity, peer: 'other', peerDns: '' } : { ...identity, peer: 'other', peerDns: '', port: 0 };
    const rkey = keyOf(rollup);
    let edge = this.edges.get(rkey);
    if (!edge) {
      edge = new FlowEdge(rollup);
      this.edges.set(rkey, edge);
    }
    return edge;
  }

  /** Forgets edges without traffic for `idleMs` (their series disappear, as Prometheus expects of gone peers). */
  evictIdle(idleMs: number, nowMs = Date.now()): number {
    let n = 0;
    for (const [key, edge] of this.edges) {
      if (nowMs - edge.lastActivityMs > idleMs) {
        this.edges.delete(key);
        if (edge.identity.peer !== 'other') this.ownEdges--;
        n++;
      }
    }
    return n;
  }

  render(out: string[]): void {
    header(out, FLOW_METRICS.packets);
    for (const e of this.edges.values()) sample(out, FLOW_METRICS.packets.name, e.labels, e.packets);
    header(out, FLOW_METRICS.bytes);
    for (const e of this.edges.values()) sample(out, FLOW_METRICS.bytes.name, e.labels, e.bytes);
  }
}
