// The Prometheus path: Debian's Prometheus, and VictoriaMetrics, scrape three agents (each its own
// node); a hub pointed at each (--prometheus) returns the same edges as the embedded hub the agents
// also send to, with counts within one scrape interval's traffic.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/agent.js';
import { commandExists, sleep, waitFor } from '../support/run.js';
import { startTestHub, type TestHub } from './support.js';
import { caughtUp, createSegment, destroyCluster, graph, httpServer, load, nodes, startNodeAgent, stopChild, type AgentProc, type Edge, type Node } from './cluster.js';

const [na, nb, nc] = nodes as [Node, Node, Node];
const dir = mkdtempSync(join(tmpdir(), 'fs-hub-prom-'));
const hubs: TestHub[] = [];
const stores: ChildProcess[] = [];

after(async () => {
  for (const s of stores) await stopChild(s).catch(() => undefined);
  await destroyCluster();
  for (const h of hubs) await h.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function scrapeConfig(agents: AgentProc[]): string {
  const targets = agents.map((a) => `      - targets: ['127.0.0.1:${a.port}']\n        labels: { node: ${a.node.name}, zone: ${a.node.zone} }`).join('\n');
  return `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: flowscope\n    static_configs:\n${targets}\n`;
}

async function ready(url: string, what: string): Promise<void> {
  await waitFor(() => fetch(url).then((r) => r.ok, () => false), 30_000, what);
}

/** Edges of the node view on port 8080 as source>target -> edge. */
async function edges(hub: TestHub, from: number, to: number): Promise<Map<string, Edge>> {
  const g = await graph(hub, 'node', `&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&filter=port=8080`);
  return new Map(g.edges.map((e) => [`${e.source}>${e.target}`, e]));
}

test('Prometheus and VictoriaMetrics scrape the agents; the hub computes the same joined edges with PromQL', { timeout: 180_000 }, async (t) => {
  if (!commandExists('prometheus') || !commandExists('victoria-metrics')) {
    t.skip('Debian prometheus and victoria-metrics are not installed (scripts/setup.sh installs them)');
    return;
  }
  createSegment();
  const embedded = await startTestHub();
  hubs.push(embedded);
  const agents = await Promise.all(nodes.map((n) => startNodeAgent(n, embedded.url)));
  writeFileSync(join(dir, 'scrape.yml'), scrapeConfig(agents));
  const promPort = await freePort();
  const vmPort = await freePort();
  stores.push(spawn('prometheus', [`--config.file=${join(dir, 'scrape.yml')}`, `--storage.tsdb.path=${join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' }));
  stores.push(spawn('victoria-metrics', [`-promscrape.config=${join(dir, 'scrape.yml')}`, `-storageDataPath=${join(dir, 'vm')}`, `-httpListenAddr=127.0.0.1:${vmPort}`, '-search.latencyOffset=0s'], { stdio: 'ignore' }));
  await ready(`http://127.0.0.1:${promPort}/-/ready`, 'Prometheus');
  await ready(`http://127.0.0.1:${vmPort}/health`, 'VictoriaMetrics');
  const viaProm = await startTestHub({ prometheusUrl: `http://127.0.0.1:${promPort}`, prometheusStepMs: 1000 });
  const viaVm = await startTestHub({ prometheusUrl: `http://127.0.0.1:${vmPort}`, prometheusStepMs: 1000 });
  hubs.push(viaProm, viaVm);
  const servers = [await httpServer(nb, 8080), await httpServer(nc, 8080)];
  await sleep(3000);

  const from = Date.now();
  const started = Date.now();
  const counts = await load(na, [`${nb.addr}:8080`, `${nc.addr}:8080`], 100, 0.1);
  const seconds = (Date.now() - started) / 1000;
  await sleep(4000);
  const to = Date.now();
  await caughtUp(embedded);
  const truth = await edges(embedded, from, to);
  assert.equal(truth.get('node:node-a>node:node-b')?.connections, counts[`${nb.addr}:8080`]!.ok);
  // One scrape interval's worth of each edge's connections, at the generator's rate.
  const tolerance = Math.ceil((100 / seconds) * 1 * 1.5);
  for (const [name, hub] of [['Prometheus', viaProm], ['VictoriaMetrics', viaVm]] as const) {
    const got = await edges(hub, from, to);
    assert.deepEqual([...got.keys()].sort(), [...truth.keys()].sort(), `${name}: the same edges`);
    for (const [key, e] of truth) {
      const p = got.get(key)!;
      t.diagnostic(`${name} ${key}: ${p.connections} connections (server ${p.server!.connections}) against embedded ${e.connections} (server ${e.server!.connections}), tolerance ${tolerance}`);
      assert.deepEqual(p.sides, e.sides, `${name} ${key}: both sides joined`);
      assert.ok(Math.abs(p.connections - e.connections) <= tolerance, `${name} ${key}: ${p.connections} connections against ${e.connections} (tolerance ${tolerance})`);
      assert.ok(Math.abs(p.server!.connections - e.server!.connections) <= tolerance, `${name} ${key}: the server's view`);
    }
  }
  // History and breakdown work the same way on the Prometheus path.
  const id = encodeURIComponent([...(await graph(viaProm, 'zone', `&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&filter=port=8080`)).edges][0]!.id);
  const bd = await viaProm.get(`/api/v1/breakdown?by=node&edge=${id}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
  assert.equal(bd.status, 200, bd.text);
  assert.deepEqual(bd.body.parts.filter((p: { side: string }) => p.side === 'server').map((p: { value: string }) => p.value).sort(), ['node-b', 'node-c']);
  const hist = await viaProm.get(`/api/v1/history?edge=${id}&step=5s&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
  assert.equal(hist.status, 200, hist.text);
  const total = hist.body.series.connections.reduce((s: number, v: number) => s + v, 0);
  // Per-step increase() loses the growth between one step's last sample and the next step's first,
  // and extrapolates at every step's bounds: the steps' sum is near the traffic, not within one
  // scrape interval of it.
  t.diagnostic(`history over 5 s steps sums to ${total} of 200 connections`);
  assert.ok(total > 0.75 * 200 && total < 1.25 * 200, `history sums to the traffic: ${total}`);
  for (const s of servers) await stopChild(s);
  for (const a of agents) await a.stop();
});
