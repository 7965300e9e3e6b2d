// Enrichment cost per new connection with warm caches, against the same loop without enrichment.
//
//   node --expose-gc dist/bench/identity-enrich.js [connections=300000]
//
// Real inputs where they matter: 100 container cgroups created under the cgroup v2 root (Podman
// layout), live process ids, a Kubernetes index of 100,000 pods built by the watcher's own trimming
// code; peers are pod IPs. Each "connection" runs what ConnTracker does for a new connection:
// identity (process, cgroup, address text, and with enrichment local + remote ends) → edge lookup →
// opened(). Both loops run twice; the second (warm) pass is measured.
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { KubeConfig } from '@kubernetes/client-node';
import { features } from '../src/bpf/index.js';
import { ConnIdLayout, ConnValueLayout } from '../src/bpf/gen/tcp.gen.js';
import { ConnSnapshotReader } from '../src/agent/tcp/records.js';
import { CgroupPaths } from '../src/lib/cgroups.js';
import { Owners } from '../src/agent/identity/owners.js';
import { Enricher } from '../src/agent/enrich/enricher.js';
import { K8sWatcher } from '../src/agent/enrich/k8s.js';
import { trimPod } from '../src/agent/enrich/k8s-index.js';
import { EdgeTable } from '../src/agent/edges/table.js';
import { tcpEdgeKind, type TcpEdge } from '../src/agent/tcp/edge.js';
import { tcpLabels } from '../src/agent/export/prometheus.js';
import type { TcpEdgeIdentity } from '../src/model/edge.js';
import { NO_WORKLOAD } from '../src/model/workload.js';
import { cpuSeconds, fmt, table } from './support.js';

const N = Number(process.argv[2] ?? 300_000);
const root = features.cgroup2Root();
const base = join(root, `fsid-bench-${randomBytes(3).toString('hex')}`);
const dirs: string[] = [];
mkdirSync(base);
mkdirSync(join(base, 'libpod_parent'));
const cgroupIds: number[] = [];
try {
  for (let i = 0; i < 100; i++) {
    const d = join(base, 'libpod_parent', `libpod-${randomBytes(32).toString('hex')}`);
    mkdirSync(d);
    dirs.push(d);
    cgroupIds.push(statSync(d).ino);
  }
  run();
} finally {
  for (const d of dirs) rmdirSync(d);
  rmdirSync(join(base, 'libpod_parent'));
  rmdirSync(base);
}

function run(): void {
  const log = pino({ level: 'silent' });
  const cgroups = new CgroupPaths(root);
  const owners = new Owners(cgroups);
  const enricher = new Enricher(owners, { kubernetes: 'off', nat: false, log, runtimeSockets: [] });
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'bench', server: 'http://127.0.0.1:1', skipTLSVerify: true }, { name: 'u' });
  const watcher = new K8sWatcher(kc, { log, nodeName: 'node-0' });
  enricher.k8s = watcher; // indexed directly, never started
  const podIps: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    podIps.push(ip);
    const hash = 'abcde12345';
    watcher.index.upsertPod(
      trimPod(
        {
          metadata: { name: `app${i % 500}-${hash}-${i}`, namespace: `ns${i % 50}`, uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, labels: { 'pod-template-hash': hash }, ownerReferences: [{ kind: 'ReplicaSet', name: `app${i % 500}-${hash}`, controller: true }] },
          spec: { nodeName: `node-${i % 100}`, containers: [{ name: 'app', image: `registry.example/app${i % 500}:v1.${i % 7}` }] },
          status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
        },
        'node-0',
      ).rec,
    );
  }
  const pids = [process.pid, process.ppid, 1];

  // Connection records as the kernel writes them (struct conn_value: the id first).
  const size = ConnValueLayout.size;
  const buf = new DataView(new ArrayBuffer(N * size));
  const F = ConnIdLayout.fields;
  for (let i = 0; i < N; i++) {
    const o = i * size + ConnValueLayout.fields.id.offset;
    buf.setBigUint64(o + F.cgroup_id.offset, BigInt(cgroupIds[i % cgroupIds.length]!), true);
    buf.setUint32(o + F.pid.offset, pids[i % pids.length]!, true);
    const ip = podIps[(i * 7919) % 1000]!.split('.').map(Number);
    for (let b = 0; b < 4; b++) buf.setUint8(o + F.daddr.offset + b, ip[b]!);
    for (let b = 0; b < 4; b++) buf.setUint8(o + F.saddr.offset + b, [10, 200, 0, 1][b]!);
    buf.setUint16(o + F.dport.offset, 8080, true);
    buf.setUint16(o + F.sport.offset, 30000 + (i % 30000), true);
    buf.setUint8(o + F.family.offset, 2);
    buf.setUint8(o + F.role.offset, 1);
    new Uint8Array(buf.buffer, o + F.comm.offset, 16).set(Buffer.from('app'));
  }

  const reader = new ConnSnapshotReader();
  const loop = (enrich: boolean, edges: EdgeTable<TcpEdgeIdentity, TcpEdge>): number => {
    const r = enrich ? enricher : owners;
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      const id = reader.at(buf, i * size).id;
      const peer = id.remoteAddr;
      const identity: TcpEdgeIdentity = {
        role: 'client',
        process: r.process(id.pid, id.comm, id.socketInode),
        cgroup: r.cgroup(id.cgroupId),
        peer,
        port: id.remotePort,
        local: enrich ? enricher.local(id) : NO_WORKLOAD,
        remote: enrich ? enricher.remote(peer) : NO_WORKLOAD,
      };
      const edge = edges.get(identity);
      if (enrich) enricher.opened(edge, id);
      edge.opened++;
    }
    return (cpuSeconds(process.cpuUsage(t0)) / N) * 1e6;
  };

  const plainEdges = new EdgeTable(tcpEdgeKind, { maxSeries: 1_000_000 });
  const enrichedEdges = new EdgeTable(tcpEdgeKind, { maxSeries: 1_000_000 });
  loop(false, plainEdges);
  loop(true, enrichedEdges); // warm: caches filled, edges exist
  const rows: Array<Record<string, string>> = [];
  for (let round = 0; round < 3; round++) {
    const plain = loop(false, plainEdges);
    const enriched = loop(true, enrichedEdges);
    rows.push({ round: String(round + 1), 'without enrichment µs/conn': fmt(plain, 3), 'with enrichment µs/conn': fmt(enriched, 3), 'enrichment µs/conn': fmt(enriched - plain, 3), ratio: `${fmt(enriched / plain, 2)}x` });
  }
  const sample = [...enrichedEdges.values()][0]!;
  console.log(`connections per pass: ${fmt(N)}; edges: ${fmt(enrichedEdges.size)}; pods indexed: ${fmt(watcher.index.podsByUid.size)}; process cache hits ${fmt(enricher.processes.stats.hits)}, misses ${enricher.processes.stats.misses}`);
  console.log(`example labels: ${tcpLabels(sample.identity)}`);
  console.log(table(rows));
}
