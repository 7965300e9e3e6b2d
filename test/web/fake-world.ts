// DEV ONLY (to be replaced by real agents): a hub fed wire batches every second by three fake agents.
import { startTestHub, type TestHub } from '../hub/support.js';
import { repoPath } from '../../src/lib/paths.js';
import { CONNECT_BUCKETS, RTT_BUCKETS } from '../../src/model/distribution.js';
import type { wire } from '../../src/model/index.js';
import { sendToHub } from './synthetic.js';

const start = new Date(Date.now() - 600_000).toISOString();
const agents = [
  { agent: 'node-a', node: 'node-a', zone: 'zone-1', addr: '10.77.0.1' },
  { agent: 'node-b', node: 'node-b', zone: 'zone-1', addr: '10.77.0.2' },
  { agent: 'node-c', node: 'node-c', zone: 'zone-2', addr: '10.77.0.3' },
];
interface Pair {
  client: string;
  ca: number;
  server: string;
  sa: number;
  port: number;
  refused?: boolean;
}

export interface World {
  hub: TestHub;
  talked: string[];
  newTraffic(client: string, server: string): Promise<void>;
  stop(): Promise<void>;
}

const hist = (layout: readonly number[], b: number, n: number, v: number): wire.HistogramV1 => ({ counts: layout.map((_, i) => (i === b ? n : 0)), sum: n * v, count: n });

export async function startWorld(): Promise<World> {
  const hub = await startTestHub({ webDir: repoPath('dist/web') });
  const pairs: Pair[] = [
    { client: 'frontend', ca: 0, server: 'api', sa: 1, port: 8080 },
    { client: 'api', ca: 1, server: 'db', sa: 2, port: 5432 },
    { client: 'db', ca: 2, server: 'cache', sa: 0, port: 6379 },
    { client: 'api', ca: 1, server: 'payments', sa: 2, port: 9000, refused: true },
    { client: '<svg onload=x>', ca: 0, server: 'api', sa: 1, port: 8080 },
  ];
  await sendToHub(
    hub.url,
    agents.map((a) => ({ v: 1, kind: 'hello', run: { agent: a.agent, node: a.node, start }, zone: a.zone, version: 't', interval_ms: 1000, capabilities: { node: a.node } })),
  );
  let seq = 0;
  const tick = async (): Promise<void> => {
    seq++;
    const now = Date.now();
    const recs: wire.TcpEdgeV1[][] = agents.map(() => []);
    for (const p of pairs) {
      const base = { opened: 5, closed: 5, active: 0, retransmits: 0, resets_sent: 0, resets_received: 0, local: {}, remote: {} };
      recs[p.ca]!.push({ ...base, role: 'client', process: p.client, peer: agents[p.sa]!.addr, port: p.port, local_addrs: [agents[p.ca]!.addr], bytes_sent: 500, bytes_received: 4000, ...(p.refused ? { failures: { refused: 3 }, opened: 2, closed: 2 } : {}), connect: hist(CONNECT_BUCKETS, 3, 5, 0.0008), rtt: hist(RTT_BUCKETS, 2, 5, 0.0002) });
      recs[p.sa]!.push({ ...base, role: 'server', process: p.server, peer: agents[p.ca]!.addr, port: p.port, local_addrs: [agents[p.sa]!.addr], bytes_sent: 4000, bytes_received: 500, ...(p.refused ? { opened: 2, closed: 2 } : {}) });
    }
    await sendToHub(
      hub.url,
      agents.map((a, i) => ({ v: 1, kind: 'batch', run: { agent: a.agent, node: a.node, start }, seq, from: new Date(now - 1000).toISOString(), to: new Date(now).toISOString(), tcp: recs[i], flows: [], drops: [], dns: [], losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 } })),
    );
  };
  await tick();
  await hub.settle();
  const timer = setInterval(() => void tick().catch(() => undefined), 1000);
  return {
    hub,
    talked: [...new Set(pairs.flatMap((p) => [p.client, p.server]))],
    async newTraffic(client, server) {
      pairs.push({ client, ca: 0, server, sa: 2, port: 7000 + pairs.length });
      await new Promise((r) => setTimeout(r, 2500));
    },
    async stop() {
      clearInterval(timer);
      await hub.destroy();
    },
  };
}
