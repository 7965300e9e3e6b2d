// Runs the real agent (bin/flowscope agent) as a separate process for tests, on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { flowscopeBin } from './paths.js';
import { Metrics, parseExposition } from './prom.js';
import { sleep } from './run.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface RunningAgent {
  url: string;
  proc: ChildProcess;
  stdout(): string;
  /** The JSON lines the agent has written to stdout so far; a line still being written is left out. */
  records<T = Record<string, unknown>>(): T[];
  stderr(): string;
  scrape(): Promise<Metrics>;
  text(): Promise<string>;
  json<T>(path: string): Promise<T>;
  /** Waits until `pred` holds on a scrape (or fails after `timeoutMs`). */
  waitFor(pred: (m: Metrics) => boolean, timeoutMs: number, what: string): Promise<Metrics>;
  stop(): Promise<number | null>;
}

/** Where the agent runs: this network namespace (default), or another one, serving on `host` there. */
export interface AgentPlace {
  netns?: string;
  host?: string;
}

export async function startAgent(args: string[] = [], command = 'agent', place: AgentPlace = {}): Promise<RunningAgent> {
  const host = place.host ?? '127.0.0.1';
  const port = place.netns ? 9387 : await freePort();
  const url = `http://${host}:${port}`;
  // Flows attach a classifier to every interface by default: tests keep it to loopback unless they
  // choose (--flow-interfaces, --no-flows), so that no test touches the host's own interfaces.
  const env = { ...process.env, FLOWSCOPE_FLOW_INTERFACES: process.env.FLOWSCOPE_FLOW_INTERFACES ?? '^lo$' };
  const argv = [command, '--listen', `${host}:${port}`, '--log-level', 'warn', ...args];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  // In another namespace (as in a pod: only the network namespace differs) through nsenter, not
  // `ip netns exec`, which remounts /sys and hides the cgroup v2 mount.
  const proc = place.netns ? spawn('nsenter', [`--net=/run/netns/${place.netns}`, flowscopeBin, ...argv], { stdio, env }) : spawn(flowscopeBin, argv, { stdio, env });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  const text = async (): Promise<string> => {
    const res = await fetch(`${url}/metrics`);
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return res.text();
  };
  const agent: RunningAgent = {
    url,
    proc,
    stdout: () => out,
    records: <T>() => completeJsonLines<T>(out),
    stderr: () => err,
    text,
    scrape: async () => new Metrics(parseExposition(await text())),
    json: async <T>(path: string) => (await (await fetch(`${url}${path}`)).json()) as T,
    waitFor: async (pred, timeoutMs, what) => {
      const deadline = Date.now() + timeoutMs;
      let last: Metrics | undefined;
      while (Date.now() < deadline) {
        last = await agent.scrape();
        if (pred(last)) return last;
        await sleep(100);
      }
      throw new Error(`agent: timed out after ${timeoutMs} ms waiting for ${what}`);
    },
    stop: async () => {
      if (!dead) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (dead) throw new Error(`agent exited during start-up: ${err}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await agent.stop();
      throw new Error(`agent did not become healthy: ${err}`);
    }
    await sleep(100);
  }
  return agent;
}

/** Parses the complete lines of NDJSON output that start with `{`; the unterminated tail is not parsed. */
export function completeJsonLines<T>(text: string): T[] {
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  return text
    .slice(0, end)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}
