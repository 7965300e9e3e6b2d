// Several nodes on one kernel for hub tests: network namespaces on one bridge (in a switch
// namespace: nothing in the root namespace), an agent per namespace standing for one node, real
// servers and a real load generator (its own counts are the ground truth).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { sh, waitFor } from '../support/run.js';
import { uniqueName } from '../support/netns.js';
import type { TestHub } from './support.js';

export interface Node {
  name: string;
  zone: string;
  ns: string;
  addr: string;
}

const subnet = 100 + Math.floor(Math.random() * 100);
const sw = uniqueName('fshsw');
/** Three nodes: node-a in zone-1, node-b and node-c in zone-2. */
export const nodes: Node[] = ['a', 'b', 'c'].map((x, i) => ({ name: `node-${x}`, zone: i === 0 ? 'zone-1' : 'zone-2', ns: uniqueName(`fsh${x}`), addr: `10.66.${subnet}.${i + 1}` }));
const children: ChildProcess[] = [];

/** One L2 segment: a bridge in a switch namespace, each node's namespace on it (nothing in the root namespace). */
export function createSegment(): void {
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

/** Stops every process started here and removes the namespaces. */
export async function destroyCluster(): Promise<void> {
  for (const c of children) await stopChild(c).catch(() => undefined);
  destroySegment();
}

function destroySegment(): void {
  for (const n of nodes) sh('ip', ['netns', 'del', n.ns], { allowFail: true });
  sh('ip', ['netns', 'del', sw], { allowFail: true });
}

export function startIn(ns: string, cmd: string, args: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

export async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** An HTTP server (python3, or node for a second program on the same address). */
export async function httpServer(n: Node, port: number, program: 'python3' | 'node' = 'python3'): Promise<ChildProcess> {
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
export async function load(n: Node, targets: string[], rounds: number, pauseS = 0.01): Promise<Record<string, { ok: number; refused: number; other: number }>> {
  const child = startIn(n.ns, 'python3', ['-c', LOAD, JSON.stringify(targets), String(rounds), String(pauseS)]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, 'the load generator ran');
  return JSON.parse(out);
}

export interface AgentProc {
  node: Node;
  proc: ChildProcess;
  /** Its metrics endpoint on 127.0.0.1. */
  port: number;
  stop(): Promise<void>;
}

export async function startNodeAgent(n: Node, hubUrl: string): Promise<AgentProc> {
  const port = await freePort();
  const proc = spawn(flowscopeBin, ['agent', '--netns', `/run/netns/${n.ns}`, '--node-name', n.name, '--zone', n.zone, '--hub', hubUrl, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return { node: n, proc, port, stop: () => stopChild(proc) };
}

export interface Edge {
  id: string;
  source: string;
  target: string;
  port: number;
  connections: number;
  failures: Record<string, number>;
  sides: string[];
  server: { connections: number } | null;
}

export async function graph(hub: TestHub, view: string, query = '&from=-15m'): Promise<{ nodes: Array<{ id: string; labels: Record<string, string> }>; edges: Edge[] }> {
  const r = await hub.get(`/api/v1/graph?view=${view}${query}&sides=true`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** Waits until the hub has joined everything up to now (the agents' next intervals included). */
export async function caughtUp(hub: TestHub): Promise<void> {
  const now = Date.now() + 1500;
  await waitFor(async () => Date.parse((await hub.get('/api/v1/status')).body.joined_to) >= now, 60_000, 'the hub to join up to now');
}


type Graph = Awaited<ReturnType<typeof graph>>;

/**
 * The graph once the hub has joined up to now and `ready` holds (what the agents counted can reach
 * the hub an interval or two later on a loaded machine); the last answer after `timeoutMs` either
 * way, for the caller's assertions.
 */
export async function graphWhen(hub: TestHub, view: string, query: string, ready: (g: Graph) => boolean, timeoutMs = 30_000): Promise<Graph> {
  await caughtUp(hub);
  const deadline = Date.now() + timeoutMs;
  let g = await graph(hub, view, query);
  while (!ready(g) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    g = await graph(hub, view, query);
  }
  return g;
}
