// What the UI tests look at: three nodes (network namespaces on one bridge, an agent each, the
// hub's test cluster), and real programs talking across them, each under its own process name:
//   frontend (node-a) -> api (node-b:8080) -> db (node-c:5432) -> cache (node-a:6379)
//   api -> payments (node-c:9000, which resets every connection)
//   "<svg onload=x>" (node-a) -> api: a process named with HTML
// Every program counts what it did (connections that worked, failed) and says so on stdout: those
// counts are the ground truth the tests compare with.
import { type ChildProcess } from 'node:child_process';
import { startTestHub, type TestHub } from '../hub/support.js';
import { caughtUp, createSegment, destroyCluster, graph, nodes, startIn, startNodeAgent, type Node } from '../hub/cluster.js';
import { repoPath } from '../../src/lib/paths.js';
import type { HubOptions } from '../../src/hub/hub.js';
import { waitFor } from '../support/run.js';

/** A program under a name of its own: a TCP server (optional; `reset` answers with RST) and a client loop. */
const PROGRAM = `
import json, socket, sys, threading, time
name, listen, reset, targets = sys.argv[1], sys.argv[2], sys.argv[3] == "reset", json.loads(sys.argv[4])
said = threading.Lock()
def say(line):
    # One write per line, under a lock: print() writes the text and the newline apart, and the
    # server thread's "listening" could land inside the client loop's first line.
    with said:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()
with open("/proc/self/comm", "w") as f:
    f.write(name[:15])
def serve(host, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, int(port))); s.listen(128)
    say("listening")
    while True:
        c, _ = s.accept()
        if reset:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"); c.close(); continue
        try:
            c.recv(1024); c.sendall(b"y" * 2000)
        except OSError:
            pass
        c.close()
if listen:
    host, port = listen.split(":")
    threading.Thread(target=serve, args=(host, port), daemon=True).start()
elif not targets:
    say("listening")
seen = {}
while targets:
    for t in targets:
        host, port = t.split(":")
        c = socket.socket(); c.settimeout(2)
        try:
            c.connect((host, int(port))); c.sendall(b"x" * 300); c.recv(4096); r = "ok"
        except ConnectionRefusedError:
            r = "refused"
        except OSError:
            r = "reset"
        finally:
            c.close()
        if (t, r) not in seen:
            seen[(t, r)] = 1
            say(json.dumps({"target": t, "result": r}))
    time.sleep(0.2)
else:
    threading.Event().wait()
`;

export interface Talk {
  client: string;
  server: string;
  port: number;
  result: string;
}

export interface World {
  hub: TestHub;
  nodes: Node[];
  /** What the programs said they did: client, server (by name), port, and how it went. */
  talks: Talk[];
  /** Names of the programs that talked (both ends of every connection that worked or was reset). */
  talked(): string[];
  /** Starts a new server on node-c and a client on node-a calling it; resolves when the hub has their edge. */
  newTraffic(client: string, server: string): Promise<void>;
  stop(): Promise<void>;
}

interface Program {
  name: string;
  node: Node;
  port?: number;
  reset?: boolean;
  calls: string[];
}

/** `hub`: options for the hub (alerting, a token...). */
export async function startWorld(hubOptions: Partial<HubOptions> = {}): Promise<World> {
  const hub = await startTestHub({ webDir: repoPath('dist/web'), ...hubOptions });
  const [a, b, c] = nodes as [Node, Node, Node];
  const talks: Talk[] = [];
  const addrOf = new Map<string, string>();
  const started: ChildProcess[] = [];
  try {
    createSegment();
    for (const n of nodes) await startNodeAgent(n, hub.url);
    const run = async (p: Program): Promise<void> => {
      if (p.port) addrOf.set(`${p.node.addr}:${p.port}`, p.name);
      const child = startIn(p.node.ns, 'python3', ['-c', PROGRAM, p.name, p.port ? `${p.node.addr}:${p.port}` : '', p.reset ? 'reset' : '', JSON.stringify(p.calls)]);
      started.push(child);
      let errors = '';
      child.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
      let buf = '';
      let listening = false;
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line === 'listening') listening = true;
          else {
            let r: { target: string; result: string };
            try {
              r = JSON.parse(line) as typeof r;
            } catch {
              throw new Error(`${p.name} said something that is neither "listening" nor a result: ${line}`);
            }
            talks.push({ client: p.name, server: addrOf.get(r.target) ?? r.target, port: Number(r.target.split(':')[1]), result: r.result });
          }
        }
      });
      if (p.port) await waitFor(() => listening, 10_000, `${p.name} listening`).catch((err: Error) => Promise.reject(new Error(`${err.message}; its stderr: ${errors || '(nothing)'}`)));
    };
    const world: World = {
      hub,
      nodes,
      talks,
      talked: () => [...new Set(talks.filter((t) => t.result !== 'refused').flatMap((t) => [t.client, t.server]))],
      async newTraffic(client, server) {
        const port = 7000 + talks.length;
        await run({ name: server, node: c, port, calls: [] });
        await run({ name: client, node: a, calls: [`${c.addr}:${port}`] });
        await waitFor(async () => (await graph(hub, 'process', '&from=-1m')).edges.some((e) => e.port === port && e.sides.length === 2), 60_000, `the hub to join ${client} -> ${server}`);
      },
      async stop() {
        await destroyCluster();
        await hub.destroy();
      },
    };
    // Servers first, so that the first connections find them.
    await run({ name: 'cache', node: a, port: 6379, calls: [] });
    await run({ name: 'payments', node: c, port: 9000, reset: true, calls: [] });
    await run({ name: 'db', node: c, port: 5432, calls: [`${a.addr}:6379`] });
    await run({ name: 'api', node: b, port: 8080, calls: [`${c.addr}:5432`, `${c.addr}:9000`] });
    await run({ name: 'frontend', node: a, calls: [`${b.addr}:8080`] });
    await run({ name: '<svg onload=x>', node: a, calls: [`${b.addr}:8080`] });
    await waitFor(() => talks.length >= 5, 30_000, 'every client to have connected');
    await caughtUp(hub);
    await waitFor(async () => (await graph(hub, 'process', '&from=-1m')).edges.filter((e) => e.sides.length === 2).length >= 4, 60_000, 'the hub to join both sides of the edges');
    return world;
  } catch (err) {
    await destroyCluster().catch(() => undefined);
    await hub.destroy().catch(() => undefined);
    throw err;
  }
}

