// A synthetic cluster for the hub's benchmarks: nodes with pods, each pod one process, pods calling
// other pods' services; each call an edge reported by both agents (client and server side), with
// Kubernetes-like names and addresses, so that encodings and the join see realistic text.
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../src/model/distribution.js';
import type { wire } from '../src/model/index.js';

export interface Pod {
  node: number;
  name: string;
  namespace: string;
  workload: string;
  addr: string;
  port: number;
  version: string;
}

export interface Cluster {
  nodes: number;
  pods: Pod[];
  /** [client pod, server pod] pairs. */
  edges: Array<[number, number]>;
  start: string;
}

/** A deterministic random generator (xorshift), so every run sees the same cluster. */
export function rng(seed = 42): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const suffix = (r: () => number, n: number): string =>
  Array.from({ length: n }, () => 'bcdfghjklmnpqrstvwxz2456789'[Math.floor(r() * 26)]).join('');

export function cluster(pods: number, edges: number, nodes = Math.max(1, Math.round(pods / 100)), seed = 42): Cluster {
  const r = rng(seed);
  const namespaces = Array.from({ length: Math.max(1, Math.round(pods / 500)) }, (_, i) => `team-${i}`);
  const workloads = Math.max(1, Math.round(pods / 5));
  const list: Pod[] = [];
  for (let i = 0; i < pods; i++) {
    const w = i % workloads;
    const workload = `svc-${w}-${['api', 'worker', 'db', 'cache', 'gateway'][w % 5]}`;
    list.push({
      node: i % nodes,
      name: `${workload}-${suffix(r, 9)}-${suffix(r, 5)}`,
      namespace: namespaces[w % namespaces.length]!,
      workload,
      addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: [8080, 80, 443, 5432, 6379][w % 5]!,
      version: `v${1 + (w % 3)}`,
    });
  }
  const pairs: Array<[number, number]> = [];
  const seen = new Set<number>();
  while (pairs.length < edges) {
    const c = Math.floor(r() * pods);
    const s = Math.floor(r() * pods);
    if (c === s || list[c]!.workload === list[s]!.workload || seen.has(c * pods + s)) continue;
    seen.add(c * pods + s);
    pairs.push([c, s]);
  }
  return { nodes, pods: list, edges: pairs, start: new Date(Date.now() - 2 * 3_600_000).toISOString() };
}

export const nodeName = (n: number): string => `node-${n}`;

export function run(c: Cluster, node: number): wire.AgentRunV1 {
  return { agent: nodeName(node), node: nodeName(node), start: c.start };
}

export function hello(c: Cluster, node: number, intervalMs: number): wire.HelloV1 {
  return { v: 1, kind: 'hello', run: run(c, node), zone: `zone-${node % 3}`, version: 'bench', interval_ms: intervalMs, capabilities: { node: nodeName(node) } as unknown as wire.HelloV1['capabilities'] };
}

function workload(p: Pod): wire.WorkloadV1 {
  return { pod: p.name, namespace: p.namespace, workload: p.workload, version: p.version, image: `registry.local/${p.workload}:${p.version}`, labels: { app: p.workload, version: p.version } };
}

function hist(layout: readonly number[], r: () => number, n: number, around: number): wire.HistogramV1 {
  const counts = layout.map(() => 0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const b = Math.min(layout.length - 1, Math.max(0, around + Math.floor(r() * 3) - 1));
    counts[b]!++;
    sum += layout[b]!;
  }
  return { counts, sum, count: n };
}

/**
 * Every node's batch for one interval: for each edge, the client's record on the client's node
 * and the server's on the server's (edges split among `nodes`).
 */
export function intervalBatches(c: Cluster, seq: number, fromMs: number, toMs: number, r: () => number, edgeFilter?: (i: number) => boolean): wire.BatchV1[] {
  const byNode: wire.TcpEdgeV1[][] = Array.from({ length: c.nodes }, () => []);
  c.edges.forEach(([ci, si], i) => {
    if (edgeFilter && !edgeFilter(i)) return;
    const cp = c.pods[ci]!;
    const sp = c.pods[si]!;
    const n = 1 + Math.floor(r() * 5);
    const bytes = 200 + Math.floor(r() * 5000);
    const failed = r() < 0.02 ? 1 : 0;
    byNode[cp.node]!.push({
      role: 'client',
      process: cp.workload,
      cgroup: `/kubepods/burstable/pod${cp.name}`,
      peer: sp.addr,
      port: sp.port,
      local: workload(cp),
      remote: { pod: sp.name, namespace: sp.namespace, workload: sp.workload },
      local_addrs: [cp.addr],
      opened: n,
      closed: n,
      active: 1,
      ...(failed ? { failures: { refused: failed } } : {}),
      bytes_sent: bytes,
      bytes_received: bytes * 4,
      retransmits: r() < 0.05 ? 1 : 0,
      resets_sent: 0,
      resets_received: failed,
      connect: hist(CONNECT_BUCKETS, r, n, 3),
      rtt: hist(RTT_BUCKETS, r, n, 2),
    });
    byNode[sp.node]!.push({
      role: 'server',
      process: sp.workload,
      cgroup: `/kubepods/burstable/pod${sp.name}`,
      peer: cp.addr,
      port: sp.port,
      local: workload(sp),
      remote: { pod: cp.name, namespace: cp.namespace, workload: cp.workload },
      local_addrs: [sp.addr],
      opened: n,
      closed: n,
      active: 1,
      bytes_sent: bytes * 4,
      bytes_received: bytes,
      retransmits: 0,
      resets_sent: failed,
      resets_received: 0,
      rtt: hist(RTT_BUCKETS, r, n, 2),
    });
  });
  return byNode.map((tcp, node) => ({
    v: 1,
    kind: 'batch',
    run: run(c, node),
    seq,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    tcp,
    flows: [],
    drops: [],
    dns: [],
    losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 },
  }));
}
