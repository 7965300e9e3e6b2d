// A synthetic cluster sent to a real hub through its ingest API, for the UI's scale test and
// benchmark: workloads (one pod each) in namespaces, on nodes in three zones, calling each other;
// each call reported by both agents, the way agents report it (wire v1). Deterministic for a seed.
import { gzipSync } from 'node:zlib';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../src/model/distribution.js';
import type { wire } from '../../src/model/index.js';
import { rng } from '../../bench/hub-synthetic.js';

export interface SyntheticOptions {
  workloads: number;
  edges: number;
  seed?: number;
  /** Share of edges with failed connects (refused). */
  failingShare?: number;
}

interface Workload {
  name: string;
  namespace: string;
  agent: number;
  addr: string;
  port: number;
  version: string;
}

export interface SyntheticCluster {
  agents: number;
  zones: number;
  namespaces: string[];
  workloads: Workload[];
  edges: Array<[number, number]>;
  start: string;
}

export function syntheticCluster(o: SyntheticOptions): SyntheticCluster {
  const r = rng(o.seed ?? 7);
  const agents = Math.max(3, Math.round(o.workloads / 150));
  const namespaces = Array.from({ length: Math.max(2, Math.round(o.workloads / 50)) }, (_, i) => `team-${String(i).padStart(2, '0')}`);
  const kinds = ['api', 'worker', 'db', 'cache', 'gateway'];
  const workloads: Workload[] = Array.from({ length: o.workloads }, (_, i) => ({
    name: `${kinds[i % kinds.length]}-${i}`,
    namespace: namespaces[Math.floor((i * namespaces.length) / o.workloads)]!,
    agent: i % agents,
    addr: `10.${100 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}`,
    port: [8080, 80, 443, 5432, 6379][i % 5]!,
    version: `v${1 + (i % 3)}`,
  }));
  // Most calls stay in the caller's namespace; the rest cross.
  const byNs = new Map<string, number[]>();
  workloads.forEach((w, i) => byNs.set(w.namespace, [...(byNs.get(w.namespace) ?? []), i]));
  const edges: Array<[number, number]> = [];
  const seen = new Set<number>();
  const max = Math.min(o.edges, o.workloads * (o.workloads - 1));
  while (edges.length < max) {
    const c = Math.floor(r() * o.workloads);
    const local = byNs.get(workloads[c]!.namespace)!;
    const s = r() < 0.7 ? local[Math.floor(r() * local.length)]! : Math.floor(r() * o.workloads);
    if (c === s || seen.has(c * o.workloads + s)) continue;
    seen.add(c * o.workloads + s);
    edges.push([c, s]);
  }
  return { agents, zones: 3, namespaces, workloads, edges, start: new Date(Date.now() - 3_600_000).toISOString() };
}

const agentName = (a: number): string => `sim-node-${a}`;

function runOf(c: SyntheticCluster, a: number): wire.AgentRunV1 {
  return { agent: agentName(a), node: agentName(a), start: c.start };
}

function identity(w: Workload): wire.WorkloadV1 {
  return { pod: `${w.name}-0`, namespace: w.namespace, workload: w.name, version: w.version, image: `registry.local/${w.name}:${w.version}`, labels: { app: w.name, tier: w.name.split('-')[0]! } };
}

function hist(layout: readonly number[], bucket: number, n: number, value: number): wire.HistogramV1 {
  return { counts: layout.map((_, i) => (i === bucket ? n : 0)), sum: n * value, count: n };
}

/** The agents' hellos and one interval of batches (ending `endMs`). */
export function syntheticMessages(c: SyntheticCluster, endMs: number, failingShare = 0.02, seq = 1): Array<wire.HelloV1 | wire.BatchV1> {
  const r = rng(99 + seq);
  const records: wire.TcpEdgeV1[][] = Array.from({ length: c.agents }, () => []);
  for (const [ci, si] of c.edges) {
    const cw = c.workloads[ci]!;
    const sw = c.workloads[si]!;
    const opened = 1 + Math.floor(r() * 20);
    const failing = r() < failingShare;
    const base = { opened, closed: opened, active: 0, retransmits: 0, resets_sent: 0, resets_received: 0 };
    records[cw.agent]!.push({
      ...base,
      role: 'client',
      process: cw.name.split('-')[0]!,
      peer: sw.addr,
      port: sw.port,
      local: identity(cw),
      remote: {},
      local_addrs: [cw.addr],
      bytes_sent: opened * 400,
      bytes_received: opened * 2000,
      ...(failing ? { failures: { refused: 1 + Math.floor(opened / 2) } } : {}),
      connect: hist(CONNECT_BUCKETS, 3, opened, 0.0008),
      rtt: hist(RTT_BUCKETS, 2, opened, 0.0002),
    });
    records[sw.agent]!.push({ ...base, role: 'server', process: sw.name.split('-')[0]!, peer: cw.addr, port: sw.port, local: identity(sw), remote: {}, local_addrs: [sw.addr], bytes_sent: opened * 2000, bytes_received: opened * 400 });
  }
  const out: Array<wire.HelloV1 | wire.BatchV1> = [];
  for (let a = 0; a < c.agents; a++) {
    out.push({ v: 1, kind: 'hello', run: runOf(c, a), zone: `zone-${a % c.zones}`, version: 'synthetic', interval_ms: 10_000, capabilities: { node: agentName(a) } as unknown as wire.HelloV1['capabilities'] });
  }
  for (let a = 0; a < c.agents; a++) {
    out.push({
      v: 1,
      kind: 'batch',
      run: runOf(c, a),
      seq,
      from: new Date(endMs - 10_000).toISOString(),
      to: new Date(endMs).toISOString(),
      tcp: records[a]!,
      flows: [],
      drops: [],
      dns: [],
      losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 },
    });
  }
  return out;
}

/** Sends messages to a hub's ingest in gzip JSON requests of at most `perRequest` messages. */
export async function sendToHub(url: string, messages: unknown[], token?: string, perRequest = 4): Promise<void> {
  for (let i = 0; i < messages.length; i += perRequest) {
    const body = gzipSync(Buffer.from(JSON.stringify(messages.slice(i, i + perRequest))));
    const res = await fetch(`${url}/api/v1/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  }
}
