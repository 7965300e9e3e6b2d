// A small cluster on one kernel for alerting tests: three nodes (network namespaces) behind a
// switch namespace, pods made of a cgroup under kubepods plus their node's namespace, a local
// Kubernetes API server that names them (Deployments checkout and payments, two payments pods on
// two nodes), one agent per node sending to a hub. node-c hangs off the switch by a link of its
// own whose delay and loss can be switched on and off while it stays up: tc netem where the kernel
// has it, else a tun pair whose forwarder holds packets back (test/fixtures/netdelay.c).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';
import { compileC } from '../support/cbin.js';
import { hasNetem } from '../support/impair.js';
import { freePort } from '../support/agent.js';
import { uniqueName } from '../support/netns.js';
import { flowscopeBin } from '../support/paths.js';
import { sh, sleep, waitFor } from '../support/run.js';
import { createCgroup, randomHex, spawnIn, type CgroupDir } from '../identity/support.js';
import { FakeApiServer, node as nodeObject, pod as podObject, replicaSet } from '../identity/fake-apiserver.js';

export interface ClusterNode {
  name: string;
  zone: string;
  ns: string;
  addr: string;
  /** The node's interface (where a fault on its link is put). */
  dev: string;
}

export interface Pod {
  name: string;
  workload: string;
  node: ClusterNode;
  cgroup: CgroupDir;
}

export interface Proc {
  proc: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

async function stopProc(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill(signal);
  const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

function track(proc: ChildProcess): Proc {
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out, stop: () => stopProc(proc) };
}

let netdelayBin: string | undefined;

/** The load generator: one thread per target and slot, each request on a new connection (Connection: close); cumulative counts per target every second. */
const LOAD = `
import http.client, json, socket, sys, threading, time
targets = json.loads(sys.argv[1]); per = int(sys.argv[2]); pause = float(sys.argv[3]); timeout = float(sys.argv[4])
counts = {t: {"ok": 0, "refused": 0, "timeout": 0, "other": 0} for t in targets}
lock = threading.Lock(); stop = threading.Event()
def worker(t):
    host, port = t.split(":")
    while not stop.is_set():
        c = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            c.request("GET", "/", headers={"Connection": "close"}); c.getresponse().read(); k = "ok"
        except ConnectionRefusedError: k = "refused"
        except (socket.timeout, TimeoutError): k = "timeout"
        except Exception: k = "other"
        finally: c.close()
        with lock: counts[t][k] += 1
        time.sleep(pause)
threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in targets for _ in range(per)]
for th in threads: th.start()
import signal
signal.signal(signal.SIGTERM, lambda *a: stop.set())
while not stop.is_set():
    with lock: print(json.dumps(counts), flush=True)
    stop.wait(1)
with lock: print(json.dumps(counts), flush=True)
`;

export type Counts = Record<string, { ok: number; refused: number; timeout: number; other: number }>;

export interface Load extends Proc {
  /** The latest cumulative counts per target. */
  counts(): Counts;
}

export interface HubProc extends Proc {
  url: string;
  port: number;
  dataDir: string;
  get(path: string): Promise<{ status: number; body: any }>;
  post(path: string, body: unknown, method?: string): Promise<{ status: number; body: any }>;
}

export class Cluster {
  readonly sw = uniqueName('fsalsw');
  readonly nodes: ClusterNode[];
  readonly api = new FakeApiServer();
  readonly dir = mkdtempSync(join(tmpdir(), 'fs-alerts-'));
  readonly kubeconfig = join(this.dir, 'kubeconfig.yaml');
  private readonly procs: Proc[] = [];
  private readonly cgroups: CgroupDir[] = [];
  private readonly chains: Array<{ ns: string; chain: string }> = [];
  private readonly prefix = `fsal-${randomHex(3)}`;
  private link: { mechanism: 'netem' | 'tun'; forwarder?: Proc; control?: string } | undefined;
  readonly agents: Proc[] = [];

  constructor() {
    const net = `10.68.${Math.floor(Math.random() * 250)}`;
    this.nodes = ['a', 'b', 'c'].map((x, i) => ({ name: `node-${x}`, zone: i === 0 ? 'zone-1' : 'zone-2', ns: uniqueName(`fsal${x}`), addr: x === 'c' ? `${net.replace(/^10\.68/, '10.69')}.2` : `${net}.${i + 1}`, dev: '' }));
    this.segment(net);
  }

  node(name: string): ClusterNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  /** a and b on a bridge in the switch namespace; c on a link of its own, routed by the switch. */
  private segment(net: string): void {
    const sw = this.sw;
    sh('ip', ['netns', 'add', sw]);
    sh('ip', ['netns', 'exec', sw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    sh('ip', ['-n', sw, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', sw, 'addr', 'add', `${net}.254/24`, 'dev', 'br0']);
    sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const n of this.nodes.slice(0, 2)) {
      const dev = uniqueName('fsalv');
      sh('ip', ['netns', 'add', n.ns]);
      sh('ip', ['link', 'add', dev, 'netns', n.ns, 'type', 'veth', 'peer', 'name', `p${n.name.slice(-1)}`, 'netns', sw]);
      sh('ip', ['-n', sw, 'link', 'set', `p${n.name.slice(-1)}`, 'master', 'br0', 'up']);
      sh('ip', ['-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', dev]);
      sh('ip', ['-n', n.ns, 'link', 'set', dev, 'up']);
      sh('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', `${net}.254`]);
      n.dev = dev;
    }
    const c = this.nodes[2]!;
    sh('ip', ['netns', 'add', c.ns]);
    sh('ip', ['-n', c.ns, 'link', 'set', 'lo', 'up']);
    this.link = { mechanism: hasNetem() ? 'netem' : 'tun' };
  }

  /** Brings node-c's link up (async for the tun forwarder). */
  async linkNodeC(): Promise<void> {
    const c = this.nodes[2]!;
    const swAddr = c.addr.replace(/\.2$/, '.1');
    if (this.link!.mechanism === 'netem') {
      const dev = uniqueName('fsalv');
      sh('ip', ['link', 'add', dev, 'netns', c.ns, 'type', 'veth', 'peer', 'name', 'pc', 'netns', this.sw]);
      sh('ip', ['-n', this.sw, 'addr', 'add', swAddr, 'peer', c.addr, 'dev', 'pc']);
      sh('ip', ['-n', this.sw, 'link', 'set', 'pc', 'up']);
      sh('ip', ['-n', c.ns, 'addr', 'add', c.addr, 'peer', swAddr, 'dev', dev]);
      sh('ip', ['-n', c.ns, 'link', 'set', dev, 'up']);
      c.dev = dev;
    } else {
      netdelayBin ??= compileC('netdelay', readFileSync(repoPath('test/fixtures/netdelay.c'), 'utf8'));
      const control = join(this.dir, 'link-c');
      writeFileSync(control, '0 0 0\n');
      const forwarder = track(spawn(netdelayBin, [c.ns, this.sw, '0', '0', '0', control], { stdio: ['ignore', 'pipe', 'pipe'] }));
      this.procs.push(forwarder);
      const m = (await waitFor(() => /ready (\S+) (\S+)/.exec(forwarder.out()), 10_000, 'the tun link of node-c'))!;
      const [tunC, tunSw] = [m[1]!, m[2]!];
      sh('ip', ['-n', this.sw, 'addr', 'add', swAddr, 'peer', c.addr, 'dev', tunSw]);
      sh('ip', ['-n', this.sw, 'link', 'set', tunSw, 'up']);
      sh('ip', ['-n', c.ns, 'addr', 'add', c.addr, 'peer', swAddr, 'dev', tunC]);
      sh('ip', ['-n', c.ns, 'link', 'set', tunC, 'up']);
      c.dev = tunC;
      this.link = { mechanism: 'tun', forwarder, control };
    }
    sh('ip', ['-n', c.ns, 'route', 'add', 'default', 'via', swAddr]);
  }

  get linkMechanism(): 'netem' | 'tun' {
    return this.link!.mechanism;
  }

  /** Delay (ms) and loss (%) on what node-c sends: its one interface. */
  async impairNodeC(delayMs: number, lossPct: number): Promise<void> {
    const c = this.nodes[2]!;
    if (this.link!.mechanism === 'netem') {
      if (delayMs === 0 && lossPct === 0) sh('ip', ['netns', 'exec', c.ns, 'tc', 'qdisc', 'del', 'dev', c.dev, 'root'], { allowFail: true });
      else sh('ip', ['netns', 'exec', c.ns, 'tc', 'qdisc', 'replace', 'dev', c.dev, 'root', 'netem', 'delay', `${delayMs}ms`, ...(lossPct ? ['loss', `${lossPct}%`] : [])]);
      return;
    }
    const { forwarder, control } = this.link!;
    const before = forwarder!.out().split('\nset ').length;
    writeFileSync(control!, `${delayMs} 0 ${lossPct}\n`);
    forwarder!.proc.kill('SIGHUP');
    await waitFor(() => forwarder!.out().split('\nset ').length > before || forwarder!.out().startsWith('set '), 5000, 'the link to take the new delay and loss');
  }

  /** Drops TCP to a port in a node's namespace (its own chain, removed by removeDrops or destroy). */
  dropTcp(n: ClusterNode, port: number): string {
    const chain = `FSAL${randomHex(4)}`.toUpperCase().slice(0, 28);
    sh('ip', ['netns', 'exec', n.ns, 'iptables', '-w', '-N', chain]);
    this.chains.push({ ns: n.ns, chain });
    sh('ip', ['netns', 'exec', n.ns, 'iptables', '-w', '-A', chain, '-p', 'tcp', '--dport', String(port), '-j', 'DROP']);
    sh('ip', ['netns', 'exec', n.ns, 'iptables', '-w', '-I', 'INPUT', '-j', chain]);
    return chain;
  }

  removeDrops(): void {
    for (const { ns, chain } of this.chains.splice(0)) {
      sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-D', 'INPUT', '-j', chain], { allowFail: true });
      sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-F', chain], { allowFail: true });
      sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '-X', chain], { allowFail: true });
    }
  }

  /** The Kubernetes side: nodes, and a Deployment's ReplicaSet per workload. */
  async startApi(workloads: string[]): Promise<void> {
    await this.api.start();
    this.api.kubeconfig(this.kubeconfig);
    for (const n of this.nodes) this.api.add('nodes', nodeObject(n.name, n.addr, n.zone));
    for (const w of workloads) this.api.add('replicasets', replicaSet('shop', `${w}-${HASH}`, w));
  }

  /** A pod of a workload on a node: a kubepods cgroup, announced to the API server with the node's address. */
  pod(workload: string, n: ClusterNode, suffix: string, version = 'v1'): Pod {
    const uid = crypto.randomUUID();
    const cid = randomHex(32);
    const cgroup = createCgroup(`${this.prefix}/kubepods/burstable/pod${uid}/${cid}`);
    this.cgroups.push(cgroup);
    const name = `${workload}-${HASH}-${suffix}`;
    this.api.add('pods', podObject({ ns: 'shop', name, uid, node: n.name, ip: n.addr, rs: `${workload}-${HASH}`, hash: HASH, container: workload, image: `registry.example/${workload}:${version}`, containerId: cid }));
    return { name, workload, node: n, cgroup };
  }

  /** An HTTP server (python3) in a pod; resolves once it listens. */
  async server(p: Pod, port: number): Promise<Proc> {
    const s = track(spawnIn(p.cgroup, p.node.ns, 'python3', ['-m', 'http.server', String(port), '--bind', p.node.addr]));
    this.procs.push(s);
    await waitFor(() => sh('ip', ['netns', 'exec', p.node.ns, 'ss', '-Htln', `sport = :${port}`]).includes(`${p.node.addr}:${port}`), 10_000, `a server on ${p.node.addr}:${port}`);
    return s;
  }

  /** Requests from a pod to each target, `per` threads each, until stopped. */
  load(p: Pod, targets: string[], o: { per?: number; pauseS?: number; timeoutS?: number } = {}): Load {
    const t = track(spawnIn(p.cgroup, p.node.ns, 'python3', ['-u', '-c', LOAD, JSON.stringify(targets), String(o.per ?? 1), String(o.pauseS ?? 0.05), String(o.timeoutS ?? 2)]));
    this.procs.push(t);
    return {
      ...t,
      counts: () => {
        const lines = t.out().trim().split('\n').filter((l) => l.startsWith('{'));
        return lines.length ? (JSON.parse(lines[lines.length - 1]!) as Counts) : {};
      },
    };
  }

  async startAgents(hubUrl: string): Promise<void> {
    for (const n of this.nodes) {
      const port = await freePort();
      const a = track(
        spawn(flowscopeBin, ['agent', '--netns', `/run/netns/${n.ns}`, '--node-name', n.name, '--zone', n.zone, '--hub', hubUrl, '--no-flows', '--kubeconfig', this.kubeconfig, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      this.procs.push(a);
      this.agents.push(a);
      await waitFor(
        async () => {
          if (a.proc.exitCode !== null) throw new Error(`the agent of ${n.name} exited: ${a.out()}`);
          return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
        },
        30_000,
        `the agent of ${n.name}`,
      );
    }
  }

  /** `flowscope hub` as a process, with an alerts file (port and data kept for restarts). */
  async startHub(alertsFile: string, o: { port?: number; dataDir?: string } = {}): Promise<HubProc> {
    const port = o.port ?? (await freePort());
    const dataDir = o.dataDir ?? mkdtempSync(join(this.dir, 'hub-'));
    const p = track(spawn(flowscopeBin, ['hub', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--alerts', alertsFile, '--log-level', 'info', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.procs.push(p);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (p.proc.exitCode !== null) throw new Error(`the hub exited: ${p.out()}`);
        return fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
      },
      30_000,
      'the hub',
    );
    const call = async (path: string, init?: RequestInit): Promise<{ status: number; body: any }> => {
      const r = await fetch(`${url}${path}`, init);
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    };
    return {
      ...p,
      url,
      port,
      dataDir,
      get: (path) => call(path),
      post: (path, body, method = 'POST') => call(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    };
  }

  async destroy(): Promise<void> {
    for (const p of this.procs.reverse()) await p.stop().catch(() => undefined);
    this.removeDrops();
    await this.api.stop().catch(() => undefined);
    for (const n of this.nodes) sh('ip', ['netns', 'del', n.ns], { allowFail: true });
    sh('ip', ['netns', 'del', this.sw], { allowFail: true });
    await sleep(100);
    for (const c of this.cgroups.reverse()) c.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const HASH = '7f8d9c6b5';
