// Several nodes on one kernel, one hub: three agents, each observing its own network namespace as
// its own node (--netns, --node-name, --zone), real servers and a real load generator across them.
// The hub joins both views of each edge with the generator's counts; breakdown puts the failing
// server's node on top; a server replaced by another on the same address gets only its own
// traffic; the hub stopped for 30 s and an agent restarted lose and double nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../support/agent.js';
import { sleep } from '../support/run.js';
import { startTestHub, type TestHub } from './support.js';
import { createSegment, destroyCluster, graph, graphWhen, httpServer, load, nodes, startNodeAgent, stopChild, type Edge, type Node } from './cluster.js';

const [na, nb, nc] = nodes as [Node, Node, Node];

let hub: TestHub | undefined;
after(async () => {
  await destroyCluster();
  await hub?.destroy();
});

test('three agents as three nodes, one hub: joined edges with the generator\'s counts, failure domains, address reuse, hub and agent restarts', { timeout: 240_000 }, async () => {
  createSegment();
  const hubPort = await freePort();
  hub = await startTestHub({ listen: { host: '127.0.0.1', port: hubPort } });
  const agents = await Promise.all(nodes.map((n) => startNodeAgent(n, hub!.url)));
  const serverB = await httpServer(nb, 8080);
  const serverC = await httpServer(nc, 8080);
  await sleep(1500);

  // 1. Traffic from node-a to both servers: one edge per server, both sides, the generator's counts.
  const p1 = await load(na, [`${nb.addr}:8080`, `${nc.addr}:8080`], 40);
  assert.equal(p1[`${nb.addr}:8080`]!.ok, 40);
  const edgeTo = (g: { edges: Array<{ source: string; target: string; connections: number; server: { connections: number } | null }> }, target: string) => g.edges.find((e) => e.source === 'node:node-a' && e.target === target);
  let g = await graphWhen(hub, 'node', '&from=-15m&filter=port=8080', (x) => ['node:node-b', 'node:node-c'].every((t) => edgeTo(x, t)?.connections === 40 && edgeTo(x, t)?.server?.connections === 40));
  const toB = edgeTo(g, 'node:node-b') as Edge;
  const toC = edgeTo(g, 'node:node-c') as Edge;
  assert.ok(toB && toC, JSON.stringify(g.edges));
  assert.deepEqual(toB.sides, ['client', 'server']);
  assert.equal(toB.connections, 40);
  assert.equal(toB.server!.connections, 40, "the server's view of the same connections");
  assert.equal(toC.connections, 40);
  const pyB = (await graph(hub, 'process')).nodes.find((n) => n.labels.node === 'node-b' && n.labels.process === 'python3');
  assert.equal(pyB?.labels.zone, 'zone-2');

  // 2. node-c's server goes away: its refused connections put node-c on top of the breakdown.
  await stopChild(serverC);
  const p2 = await load(na, [`${nb.addr}:8080`, `${nc.addr}:8080`], 30);
  assert.equal(p2[`${nc.addr}:8080`]!.refused, 30);
  g = await graphWhen(hub, 'zone', '&from=-15m&filter=port=8080', (x) => x.edges.some((e) => e.target === 'zone:zone-2' && e.failures.refused === 30));
  const zoneEdge = g.edges.find((e) => e.source === 'zone:zone-1' && e.target === 'zone:zone-2')!;
  assert.deepEqual(zoneEdge.failures, { refused: 30 });
  const bd = await hub.get(`/api/v1/breakdown?by=node&from=-15m&edge=${encodeURIComponent(zoneEdge.id)}`);
  assert.equal(bd.status, 200, bd.text);
  assert.equal(bd.body.parts[0].side, 'server');
  assert.equal(bd.body.parts[0].value, 'node-c');
  assert.equal(bd.body.parts[0].failure_count, 30);
  const nh = await hub.get(`/api/v1/neighbourhood?view=node&node=node:node-b&hops=2&from=-15m`);
  assert.deepEqual(nh.body.nodes.map((n: { id: string }) => n.id).sort(), ['node:node-a', 'node:node-b', 'node:node-c']);
  const found = await hub.get(`/api/v1/search?q=${nc.addr}`);
  assert.equal(found.body.results[0].labels.node, 'node-c');

  // 3. The address changes hands: another program on node-c's address and port.
  const nodeC = await httpServer(nc, 8080, 'node');
  const p3 = await load(na, [`${nc.addr}:8080`], 25);
  assert.equal(p3[`${nc.addr}:8080`]!.ok, 25);
  const procs = await graphWhen(hub, 'process', '&from=-15m&filter=node=node-c', (x) => x.edges.filter((e) => e.target.endsWith('/node')).reduce((n, e) => n + e.connections, 0) === 25);
  const toPython = procs.edges.filter((e) => e.target.startsWith('process:node-c/') && e.target.endsWith('/python3'));
  const toNode = procs.edges.filter((e) => e.target.startsWith('process:node-c/') && e.target.endsWith('/node'));
  assert.equal(toNode.reduce((s, e) => s + e.connections, 0), 25, 'the new holder has exactly the traffic after the switch');
  assert.equal(toPython.reduce((s, e) => s + e.connections, 0), 40, 'the old one keeps only its own');
  await stopChild(nodeC);

  // 4. The hub stops for 30 s while traffic flows, then comes back: agents resend, nothing twice.
  const before = (await graph(hub, 'node', '&from=-15m&filter=port=8080')).edges.find((e) => e.target === 'node:node-b')!.connections;
  await hub.stop();
  const during = load(na, [`${nb.addr}:8080`], 60, 0.5);
  await sleep(30_000);
  hub = await startTestHub({ listen: { host: '127.0.0.1', port: hubPort }, dir: hub.dir });
  const p4 = await during;
  // 5. node-a's agent restarts (a new run): what it counted is sent before it goes.
  await agents[0]!.stop();
  agents[0] = await startNodeAgent(na, hub.url);
  const p5 = await load(na, [`${nb.addr}:8080`], 20);
  await sleep(1500);
  const expected = before + p4[`${nb.addr}:8080`]!.ok + p5[`${nb.addr}:8080`]!.ok;
  const settled = await graphWhen(hub, 'node', '&from=-15m&filter=port=8080', (x) => edgeTo(x, 'node:node-b')?.connections === expected && edgeTo(x, 'node:node-b')?.server?.connections === expected);
  const after = edgeTo(settled, 'node:node-b')!;
  assert.equal(after.connections - before, p4[`${nb.addr}:8080`]!.ok + p5[`${nb.addr}:8080`]!.ok, 'every connection during and after the outage, once');
  assert.equal(after.server!.connections, after.connections, "the server's view agrees");
  for (const a of agents) await a.stop();
  await stopChild(serverB);
});
