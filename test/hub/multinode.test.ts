// Several nodes on one kernel, one hub: three agents, each observing its own network namespace as
// its own node (--netns, --node-name, --zone), real servers and a real load generator across them.
// The hub joins both views of each edge with the generator's counts; breakdown puts the failing
// server's node on top; a server replaced by another on the same address gets only its own
// traffic; the hub stopped for 30 s and an agent restarted lose and double nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { sh, sleep, waitFor } from '../support/run.js';
import { uniqueName } from '../support/netns.js';
import { startTestHub, type TestHub } from './support.js';

interface Node {
  name: string;
  zone: string;
  ns: string;
  addr: string;
}

const subnet = 100 + Math.floor(Math.random() * 100);
const sw = uniqueName('fshsw');
const nodes: Node[] = ['a', 'b', 'c'].map((x, i) => ({ name: `node-${x}`, zone: i === 0 ? 'zone-1' : 'zone-2', ns: uniqueName(`fsh${x}`), addr: `10.66.${subnet}.${i + 1}` }));
const [na, nb, nc] = nodes as [Node, Node, Node];
const children: ChildProcess[] = [];

/** One L2 segment: a bridge in a switch namespace, each node's namespace on it (nothing in the root namespace). */
function createSegment(): void {
  sh('ip', ['netns', 'add', sw]);
  sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  for (const n of nodes) {
    const dev = uniqueName('fshv');
    sh('ip', ['netns', 'add', n.ns]);
    sh('ip', ['link', 'add', dev, 'netns', n.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', sw]);
    // The switch side is renamed after the node so that several fit in one namespace.
    sh('ip', ['-n', sw, 'link', 'set', 'eth0', 'name', `p${n.name.slice(-1)}`]);
    sh('ip', ['-n', sw, 'link', 'set', `p${n.name.slice(-1)}`, 'master', 'br0', 'up']);
    sh('ip', ['-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', dev]);
    sh('ip', ['-n', n.ns, 'link', 'set', dev, 'up']);
    sh('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
  }
}

function destroySegment(): void {
  for (const n of nodes) sh('ip', ['netns', 'del', n.ns], { allowFail: true });
  sh('ip', ['netns', 'del', sw], { allowFail: true });
}

function startIn(ns: string, cmd: string, args: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** An HTTP server (python3, or node for a second program on the same address). */
async function httpServer(n: Node, port: number, program: 'python3' | 'node' = 'python3'): Promise<ChildProcess> {
  const child =
    program === 'python3'
      ? startIn(n.ns, 'python3', ['-m', 'http.server', String(port), '--bind', n.addr])
      : startIn(n.ns, process.execPath, ['-e', `require('http').createServer((q,s)=>s.end('ok')).listen(${port}, '${n.addr}')`]);
  await waitFor(() => sh('ip', ['netns', 'exec', n.ns, 'ss', '-Htln', `sport = :${port}`]).includes(`${n.addr}:${port}`), 10_000, `a server on ${n.addr}:${port}`);
  return child;
}

const LOAD = `
import http.client, json, sys, time
targets = json.loads(sys.argv[1]); rounds = int(sys.argv[2]); pause = float(sys.argv[3])
counts = {t: {"ok": 0, "refused": 0, "other": 0} for t in targets}
for _ in range(rounds):
    for t in targets:
        host, port = t.split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            c.request("GET", "/", headers={"Connection": "close"}); c.getresponse().read(); counts[t]["ok"] += 1
        except ConnectionRefusedError:
            counts[t]["refused"] += 1
        except Exception:
            counts[t]["other"] += 1
        finally:
            c.close()
    time.sleep(pause)
print(json.dumps(counts))
`;

/** The load generator in a node's namespace: its own counts per target, the ground truth. */
async function load(n: Node, targets: string[], rounds: number, pauseS = 0.01): Promise<Record<string, { ok: number; refused: number; other: number }>> {
  const child = startIn(n.ns, 'python3', ['-c', LOAD, JSON.stringify(targets), String(rounds), String(pauseS)]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, 'the load generator ran');
  return JSON.parse(out);
}

interface AgentProc {
  node: Node;
  proc: ChildProcess;
  stop(): Promise<void>;
}

async function startNodeAgent(n: Node, hubUrl: string): Promise<AgentProc> {
  const port = await freePort();
  const proc = spawn(flowscopeBin, ['agent', '--netns', `/run/netns/${n.ns}`, '--node-name', n.name, '--zone', n.zone, '--hub', hubUrl, '--no-flows', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`agent for ${n.name} exited: ${err}`);
      return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
    },
    30_000,
    `the agent of ${n.name}`,
  );
  return { node: n, proc, stop: () => stopChild(proc) };
}

interface Edge {
  id: string;
  source: string;
  target: string;
  port: number;
  connections: number;
  failures: Record<string, number>;
  sides: string[];
  server: { connections: number } | null;
}

async function graph(hub: TestHub, view: string, query = ''): Promise<{ nodes: Array<{ id: string; labels: Record<string, string> }>; edges: Edge[] }> {
  const r = await hub.get(`/api/v1/graph?view=${view}&from=-15m${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** Waits until the hub has joined everything up to now (the agents' next intervals included). */
async function caughtUp(hub: TestHub): Promise<void> {
  const now = Date.now() + 1500;
  await waitFor(async () => Date.parse((await hub.get('/api/v1/status')).body.joined_to) >= now, 60_000, 'the hub to join up to now');
}

let hub: TestHub | undefined;
after(async () => {
  for (const c of children) await stopChild(c).catch(() => undefined);
  await hub?.destroy();
  destroySegment();
});

test('three agents as three nodes, one hub: joined edges with the generator\'s counts, failure domains, address reuse, hub and agent restarts', { timeout: 240_000 }, async () => {
  createSegment();
  const hubPort = await freePort();
  // The join waits for every agent's report of an interval; a short wait keeps the test quick.
  hub = await startTestHub({ listen: { host: '127.0.0.1', port: hubPort } });
  const agents = await Promise.all(nodes.map((n) => startNodeAgent(n, hub!.url)));
  const serverB = await httpServer(nb, 8080);
  const serverC = await httpServer(nc, 8080);
  await sleep(1500);

  // 1. Traffic from node-a to both servers: one edge per server, both sides, the generator's counts.
  const p1 = await load(na, [`${nb.addr}:8080`, `${nc.addr}:8080`], 40);
  assert.equal(p1[`${nb.addr}:8080`]!.ok, 40);
  await caughtUp(hub);
  let g = await graph(hub, 'node', '&filter=port=8080');
  const toB = g.edges.find((e) => e.source === 'node:node-a' && e.target === 'node:node-b')!;
  const toC = g.edges.find((e) => e.source === 'node:node-a' && e.target === 'node:node-c')!;
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
  await caughtUp(hub);
  g = await graph(hub, 'zone', '&filter=port=8080');
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
  await caughtUp(hub);
  const procs = await graph(hub, 'process', '&filter=node=node-c');
  const toPython = procs.edges.filter((e) => e.target.startsWith('process:node-c/') && e.target.endsWith('/python3'));
  const toNode = procs.edges.filter((e) => e.target.startsWith('process:node-c/') && e.target.endsWith('/node'));
  assert.equal(toNode.reduce((s, e) => s + e.connections, 0), 25, 'the new holder has exactly the traffic after the switch');
  assert.equal(toPython.reduce((s, e) => s + e.connections, 0), 40, 'the old one keeps only its own');
  await stopChild(nodeC);

  // 4. The hub stops for 30 s while traffic flows, then comes back: agents resend, nothing twice.
  const before = (await graph(hub, 'node', '&filter=port=8080')).edges.find((e) => e.target === 'node:node-b')!.connections;
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
  await caughtUp(hub);
  const after = (await graph(hub, 'node', '&filter=port=8080')).edges.find((e) => e.source === 'node:node-a' && e.target === 'node:node-b')!;
  assert.equal(after.connections - before, p4[`${nb.addr}:8080`]!.ok + p5[`${nb.addr}:8080`]!.ok, 'every connection during and after the outage, once');
  assert.equal(after.server!.connections, after.connections, "the server's view agrees");
  for (const a of agents) await a.stop();
  await stopChild(serverB);
});
