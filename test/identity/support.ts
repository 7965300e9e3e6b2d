// Helpers for identity tests: a "container" made of a cgroup v2 directory and a network namespace
// (no runtime), Node one-liners as clients and servers (their command lines carry what we check).
import { mkdirSync, rmdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { features } from '../../src/bpf/index.js';
import { sleep } from '../support/run.js';

export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

export interface CgroupDir {
  rel: string;
  path: string;
  /** Removes the directory and its parents up to (and including) the first created one. */
  destroy(): void;
}

/** Creates `rel` (several levels) under the cgroup v2 root. */
export function createCgroup(rel: string): CgroupDir {
  const root = features.cgroup2Root();
  const parts = rel.split('/').filter(Boolean);
  const created: string[] = [];
  let p = root;
  for (const part of parts) {
    p = join(p, part);
    if (!existsSync(p)) {
      mkdirSync(p);
      created.push(p);
    }
  }
  return {
    rel: `/${parts.join('/')}`,
    path: p,
    destroy: () => {
      for (const dir of created.reverse()) {
        for (let i = 0; i < 50; i++) {
          try {
            rmdirSync(dir);
            break;
          } catch {
            // processes still leaving
            const t = Date.now();
            while (Date.now() - t < 20);
          }
        }
      }
    },
  };
}

/** Runs `cmd args` inside cgroup `cg` (and netns `ns` when given). */
export function spawnIn(cg: CgroupDir | undefined, ns: string | undefined, cmd: string, args: string[]): ChildProcess {
  const inner = ns ? ['ip', 'netns', 'exec', ns, cmd, ...args] : [cmd, ...args];
  const script = cg ? `echo $$ > ${cg.path}/cgroup.procs && exec "$@"` : 'exec "$@"';
  return spawn('sh', ['-c', script, 'sh', ...inner], { stdio: ['ignore', 'pipe', 'pipe'] });
}

const NODE = process.execPath;

/** A TCP server (node) answering each connection with 100 bytes and closing; resolves once listening. */
export async function nodeServer(cg: CgroupDir | undefined, ns: string | undefined, host: string, port: number, extraArgs: string[] = []): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const code = `const s=require('net').createServer(c=>{c.on('error',()=>{});c.end(Buffer.alloc(100))});s.listen(${port},'${host}',()=>console.error('ready'))`;
  const proc = spawnIn(cg, ns, NODE, ['-e', code, ...(extraArgs.length ? ['--', ...extraArgs] : [])]);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('ready')) resolve();
    });
    proc.on('close', (c) => reject(new Error(`server exited ${c}: ${err}`)));
  });
  return {
    proc,
    stop: async () => {
      const closed = new Promise((r) => proc.once('close', r));
      proc.kill('SIGKILL');
      await closed;
    },
  };
}

/** Opens `n` connections one after another to host:port, reading each to its end; optionally holds the last open for holdMs. */
export async function nodeClient(cg: CgroupDir | undefined, ns: string | undefined, host: string, port: number, n: number, extraArgs: string[] = [], holdMs = 0): Promise<string> {
  const code = `const net=require('net');let i=0;const go=()=>{if(i++>=${n}){setTimeout(()=>process.exit(0),${holdMs});return}const c=net.connect(${port},'${host}');c.on('data',()=>{});c.on('end',go);c.on('error',e=>{console.error(e.message);process.exit(1)})};go()`;
  const proc = spawnIn(cg, ns, NODE, ['-e', code, ...(extraArgs.length ? ['--', ...extraArgs] : [])]);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const status = await new Promise<number | null>((r) => proc.on('close', r));
  if (status !== 0) throw new Error(`client exited ${status}: ${err}`);
  return err;
}

export interface ConnectionsEdge {
  role: string;
  port: number;
  local: Record<string, unknown> & { processes: Array<{ pid: number; nsPid: number; exe: string; cmdline: string; startedAt: string }> };
  peer: Record<string, unknown> & { addr: string };
  actual_peer: (Record<string, unknown> & { addr: string; port: number }) | null;
  actual_peers: Array<Record<string, unknown>>;
  connections: { opened: number; closed: number; active: number };
}

export async function connections(url: string): Promise<ConnectionsEdge[]> {
  return ((await (await fetch(`${url}/connections`)).json()) as { edges: ConnectionsEdge[] }).edges;
}

export async function waitForEdge(url: string, pred: (e: ConnectionsEdge) => boolean, timeoutMs: number, what: string): Promise<ConnectionsEdge> {
  const deadline = Date.now() + timeoutMs;
  let last: ConnectionsEdge[] = [];
  while (Date.now() < deadline) {
    last = await connections(url);
    const e = last.find(pred);
    if (e) return e;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; edges: ${JSON.stringify(last.slice(0, 20))}`);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
