// The agent as a benchmark variant (bench/flows-pps.ts, bench/flows-agent-ab.ts): a process of this
// build or of another checkout, its classifier and drop hook switched on and off through a map they
// both read (FLOWSCOPE_BENCH_GATE), its BPF run time read with bpftool.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject, enableBpfStats } from '../src/bpf/index.js';
import { sleep } from './flow-traffic.js';
import { repoPath } from '../src/lib/paths.js';
import { flowscopeBin } from '../test/support/paths.js';
import { freePort } from '../test/support/agent.js';
import { type FlowLink } from '../test/flows/support.js';

export const VARIANTS_OBJ = repoPath('bpf/.output/bench/flow_variants.bpf.o');

export interface RunStats {
  ns: number;
  runs: number;
}

/** A variant made ready once per cell, then switched on and off many times while trafgen runs. */
export interface Switchable {
  on(): Promise<void>;
  off(): Promise<void>;
  close(): Promise<void>;
  /** Cumulative BPF run time and run count of the variant's programs (statistics must be enabled). */
  runStats(): RunStats | undefined;
}

export interface Variant {
  name: string;
  /** Object and program for a cache-hot BPF_PROG_TEST_RUN of one 60-byte UDP frame. */
  testRun?: { obj: string; prog: string; globals?: Record<string, number> };
  /** How the variant is switched: a tcx attach and detach, a gate in front of it, a process started and stopped. */
  switchedBy: string;
  prepare(link: FlowLink): Promise<Switchable>;
}

/** A map the agent's packet programs read (FLOWSCOPE_BENCH_GATE): 1 switches them off. */
function agentGate(): { path: string; open(): void; shut(): void; close(): void } {
  const o = BpfObject.load(VARIANTS_OBJ, { programs: ['v_gate'] });
  const path = `/sys/fs/bpf/flowscope-bench-gate-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  const gate = o.map('gate');
  const key = Buffer.alloc(4);
  const set = (v: number): void => gate.set(key, Buffer.from(new Uint32Array([v]).buffer));
  try {
    set(1);
    o.pinMap('gate', path);
  } catch (err) {
    o.close();
    throw err;
  }
  return {
    path,
    open: () => set(0),
    shut: () => set(1),
    close() {
      rmSync(path, { force: true });
      o.close();
    },
  };
}

/** Programs behind BPF links now (bpftool here cannot tell a program's owner: new links can). */
function linkedProgIds(): Set<number> {
  const links = JSON.parse(execFileSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8' })) as Array<{ prog_id: number }>;
  return new Set(links.map((l) => l.prog_id));
}

export function agentProcess(name: string, extra: string[], bin = flowscopeBin): Variant {
  return {
    name,
    switchedBy: 'its own gate (classifier and drop hook)',
    async prepare(link) {
      const gate = agentGate();
      const before = linkedProgIds();
      const proc: ChildProcess = spawn(
        bin,
        ['agent', '--listen', `127.0.0.1:${await freePort()}`, '--flow-interfaces', `^${link.host}$`, '--log-level', 'info', ...extra],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FLOWSCOPE_BENCH_GATE: gate.path } },
      );
      let err = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          gate.close();
          reject(new Error(`agent did not attach: ${err}`));
        }, 20_000);
        proc.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('serving metrics')) {
            clearTimeout(t);
            resolve();
          }
        });
        proc.once('exit', (c) => {
          gate.close();
          reject(new Error(`agent exited ${c}: ${err}`));
        });
      });
      // Its programs: behind the links that came with it.
      const mine = [...linkedProgIds()].filter((id) => !before.has(id));
      const onExit = (): void => {
        proc.kill('SIGTERM');
        rmSync(gate.path, { force: true });
      };
      process.once('exit', onExit); // an interrupted bench leaves no agent behind
      const stopAgent = async (): Promise<void> => {
        process.off('exit', onExit);
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('close', r));
        gate.close();
      };
      return {
        on: async () => gate.open(),
        off: async () => gate.shut(),
        async close() {
          await stopAgent();
        },
        runStats() {
          // The agent's ingress classifier and drop hook (per packet: their run time over the classifier's runs).
          const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as Array<{ id: number; name: string; run_time_ns?: number; run_cnt?: number }>;
          const ours = progs.filter((p) => mine.includes(p.id));
          const classifier = ours.find((p) => p.name === 'flow_in');
          const drop = ours.find((p) => p.name.startsWith('drop_'));
          return { ns: (classifier?.run_time_ns ?? 0) + (drop?.run_time_ns ?? 0), runs: classifier?.run_cnt ?? 0 };
        },
      };
    },
  };
}

/** The agent of another checkout (e.g. the previous revision, built with make all), with `extra` flags. */
export function referenceAgent(dir: string, name: string, extra: string[] = []): Variant {
  const bin = join(dir, 'bin/flowscope');
  if (!existsSync(bin)) throw new Error(`${dir}: no bin/flowscope there (a checkout of flowscope, built with make all)`);
  const rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  return agentProcess(`${name}, reference build ${rev}`, extra, bin);
}

/** Run time per packet of a variant, in a short extra "on" phase with kernel BPF statistics on (they cost time themselves). */
export async function nsPerPacket(sw: Switchable): Promise<number | undefined> {
  await sw.on();
  const stats = enableBpfStats();
  try {
    const s0 = sw.runStats();
    await sleep(500);
    const s1 = sw.runStats();
    return s0 && s1 && s1.runs > s0.runs ? (s1.ns - s0.ns) / (s1.runs - s0.runs) : undefined;
  } finally {
    stats.close();
    await sw.off();
  }
}
