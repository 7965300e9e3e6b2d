// Edges: (process, cgroup, role, peer address, service port) with monotonic counters and
// distributions. Connections come and go; an edge's counters only ever grow.
import { Histogram, leLabels } from '../metrics/histogram.js';
import { header, labelString, sample } from '../metrics/exposition.js';
import { CONNECT_BUCKETS, DURATION_BUCKETS, FAIL_REASONS, RTT_BUCKETS, TCP_METRICS } from './metrics.js';

export type Role = 'client' | 'server';

/** Workload labels of one end of an edge, interned by the enricher (`key` identifies the set). */
export interface EndLabels {
  readonly key: string;
  readonly container: string;
  readonly pod: string;
  readonly namespace: string;
  readonly workload: string;
  readonly service: string;
}

export interface EdgeIdentity {
  role: Role;
  process: string;
  cgroup: string;
  peer: string;
  /** Service port: the remote port for clients, the local (listening) port for servers. */
  port: number;
  /** Local end: container, pod, namespace, workload (empty labels when unknown). */
  local?: EndLabels;
  /** Remote end: peer_container, peer_pod, peer_namespace, peer_workload, peer_service. */
  remote?: EndLabels;
}

const CONNECT_LE = leLabels(CONNECT_BUCKETS);
const RTT_LE = leLabels(RTT_BUCKETS);
const DURATION_LE = leLabels(DURATION_BUCKETS);

export class Edge {
  /** Rendered label set, computed once. */
  readonly labels: string;
  opened = 0;
  closed = 0;
  active = 0;
  readonly failures = new Float64Array(FAIL_REASONS.length);
  sentBytes = 0;
  receivedBytes = 0;
  retransmits = 0;
  resetsSent = 0;
  resetsReceived = 0;
  connectDuration: Histogram | undefined;
  rtt: Histogram | undefined;
  duration: Histogram | undefined;
  lastActivityMs = Date.now();

  constructor(readonly identity: EdgeIdentity) {
    this.labels = labelString([
      ['role', identity.role],
      ['process', identity.process],
      ['cgroup', identity.cgroup],
      ['peer_addr', identity.peer],
      ['port', String(identity.port)],
      ['container', identity.local?.container ?? ''],
      ['pod', identity.local?.pod ?? ''],
      ['namespace', identity.local?.namespace ?? ''],
      ['workload', identity.local?.workload ?? ''],
      ['peer_container', identity.remote?.container ?? ''],
      ['peer_pod', identity.remote?.pod ?? ''],
      ['peer_namespace', identity.remote?.namespace ?? ''],
      ['peer_workload', identity.remote?.workload ?? ''],
      ['peer_service', identity.remote?.service ?? ''],
    ]);
  }

  observeConnect(seconds: number): void {
    (this.connectDuration ??= new Histogram(CONNECT_BUCKETS)).observe(seconds);
  }

  observeRtt(seconds: number): void {
    (this.rtt ??= new Histogram(RTT_BUCKETS)).observe(seconds);
  }

  observeDuration(seconds: number): void {
    (this.duration ??= new Histogram(DURATION_BUCKETS)).observe(seconds);
  }

  touch(nowMs = Date.now()): void {
    this.lastActivityMs = nowMs;
  }
}

export interface EdgeTableOptions {
  /** Distinct edges (series per metric) before new ones roll into peer_addr="other". */
  maxSeries: number;
}

function keyOf(i: EdgeIdentity): string {
  return `${i.role}\u0000${i.process}\u0000${i.cgroup}\u0000${i.peer}\u0000${i.port}\u0000${i.local?.key ?? ''}\u0000${i.remote?.key ?? ''}`;
}

export class EdgeTable {
  private readonly edges = new Map<string, Edge>();
  /** Connections and failures attributed to a roll-up edge instead of their own. */
  rolledUp = 0;
  private ownEdges = 0;

  constructor(private readonly options: EdgeTableOptions) {}

  get size(): number {
    return this.edges.size;
  }

  /** The edge for an identity; past the cap, its roll-up (peer_addr="other", then port 0 too). */
  get(identity: EdgeIdentity): Edge {
    const key = keyOf(identity);
    const existing = this.edges.get(key);
    if (existing) return existing;
    if (this.ownEdges < this.options.maxSeries) {
      const edge = new Edge(identity);
      this.edges.set(key, edge);
      this.ownEdges++;
      return edge;
    }
    this.rolledUp++;
    // Roll-ups are bounded by (role, process, cgroup, local end, port); if even those explode, fold
    // the port too. The peer's workload labels go with its address.
    const rollup: EdgeIdentity =
      this.edges.size < this.options.maxSeries * 2 ? { ...identity, peer: 'other', remote: undefined } : { ...identity, peer: 'other', remote: undefined, port: 0 };
    const rkey = keyOf(rollup);
    let edge = this.edges.get(rkey);
    if (!edge) {
      edge = new Edge(rollup);
      this.edges.set(rkey, edge);
    }
    return edge;
  }

  /** Forgets edges without open connections and without activity for `idleMs`. */
  evictIdle(idleMs: number, nowMs = Date.now()): number {
    let n = 0;
    for (const [key, edge] of this.edges) {
      if (edge.active === 0 && nowMs - edge.lastActivityMs > idleMs) {
        this.edges.delete(key);
        if (edge.identity.peer !== 'other') this.ownEdges--;
        n++;
      }
    }
    return n;
  }

  values(): IterableIterator<Edge> {
    return this.edges.values();
  }

  /** Appends the exposition of every TCP metric. */
  render(out: string[]): void {
    const edges = [...this.edges.values()];
    const M = TCP_METRICS;
    const simple: Array<[typeof M.opened | typeof M.closed | typeof M.active | typeof M.sent | typeof M.received | typeof M.retransmits, (e: Edge) => number]> = [
      [M.opened, (e) => e.opened],
      [M.closed, (e) => e.closed],
      [M.active, (e) => e.active],
      [M.sent, (e) => e.sentBytes],
      [M.received, (e) => e.receivedBytes],
      [M.retransmits, (e) => e.retransmits],
    ];
    for (const [def, get] of simple) {
      header(out, def);
      for (const e of edges) sample(out, def.name, e.labels, get(e));
    }
    header(out, M.failures);
    for (const e of edges) {
      for (let r = 0; r < FAIL_REASONS.length; r++) {
        if (e.failures[r]! > 0) sample(out, M.failures.name, `${e.labels},reason="${FAIL_REASONS[r]}"`, e.failures[r]!);
      }
    }
    header(out, M.resets);
    for (const e of edges) {
      sample(out, M.resets.name, `${e.labels},direction="sent"`, e.resetsSent);
      sample(out, M.resets.name, `${e.labels},direction="received"`, e.resetsReceived);
    }
    header(out, M.connectDuration);
    for (const e of edges) e.connectDuration?.render(out, M.connectDuration.name, e.labels, CONNECT_LE);
    header(out, M.rtt);
    for (const e of edges) e.rtt?.render(out, M.rtt.name, e.labels, RTT_LE);
    header(out, M.duration);
    for (const e of edges) e.duration?.render(out, M.duration.name, e.labels, DURATION_LE);
  }
}
