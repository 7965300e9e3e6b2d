// iperf3 with the agent's flow classifier on the interface: what it keeps of the throughput.
//   node dist/bench/flows-iperf.js [seconds = 60] [phase ms = 500] [agent args...]
//
// One iperf3 stream from this namespace into a namespace over a veth pair runs without a break
// while the agent's packet programs (classifier and drop hook) are switched on and off every phase
// through the map they read (FLOWSCOPE_BENCH_GATE, as in flows-pps); throughput per phase from the
// interface's byte counter, each "on" phase against the mean of the "off" phases on either side.
// Switching inside one stream keeps the machine's drift (it is shared) out of the ratio.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { BpfObject, enableBpfStats } from '../src/bpf/index.js';
import { repoPath } from '../src/lib/paths.js';
import { flowscopeBin } from '../test/support/paths.js';
import { freePort } from '../test/support/agent.js';
import { createVethNamespace } from '../test/support/netns.js';
import { sleep } from '../test/support/run.js';
import { quantile } from './flow-traffic.js';
import { median } from './support.js';

const seconds = Number(process.argv[2] ?? 60);
const phaseMs = Number(process.argv[3] ?? 500);
const agentArgs = process.argv.slice(4);
const VARIANTS_OBJ = repoPath('bpf/.output/bench/flow_variants.bpf.o');

/** Programs behind tcx links (link type 11, BPF_LINK_TYPE_TCX: this bpftool has no name for it). */
function tcxProgIds(): number[] {
  const links = JSON.parse(execFileSync('bpftool', ['link', 'show', '-j'], { encoding: 'utf8' })) as Array<{ type: number | string; prog_id: number }>;
  return links.filter((l) => l.type === 11 || l.type === 'tcx').map((l) => l.prog_id);
}

async function main(): Promise<void> {
  const veth = createVethNamespace();
  const gateObj = BpfObject.load(VARIANTS_OBJ, { programs: ['v_gate'] });
  const gatePath = `/sys/fs/bpf/flowscope-iperf-gate-${process.pid}`;
  const gate = gateObj.map('gate');
  const key = Buffer.alloc(4);
  const set = (v: number): void => gate.set(key, Buffer.from(new Uint32Array([v]).buffer));
  set(1);
  gateObj.pinMap('gate', gatePath);
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  try {
    server = spawn('ip', ['netns', 'exec', veth.ns, 'iperf3', '-s'], { stdio: 'ignore' });
    const tcxBefore = new Set(tcxProgIds());
    agent = spawn(flowscopeBin, ['agent', '--listen', `127.0.0.1:${await freePort()}`, '--flow-interfaces', `^${veth.host}$`, '--log-level', 'info', ...agentArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, FLOWSCOPE_BENCH_GATE: gatePath },
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      agent!.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('serving metrics')) resolve();
      });
      agent!.once('exit', (c) => reject(new Error(`agent exited ${c}: ${err}`)));
    });
    await sleep(1000);
    client = spawn('iperf3', ['-c', veth.peerAddr, '-t', String(seconds + 10)], { stdio: 'ignore' });
    await sleep(2000);
    const txBytes = (): number => Number(readFileSync(`/sys/class/net/${veth.host}/statistics/tx_bytes`, 'utf8'));
    const txPackets = (): number => Number(readFileSync(`/sys/class/net/${veth.host}/statistics/tx_packets`, 'utf8'));
    const phase = async (): Promise<number> => {
      const b0 = txBytes();
      const t0 = process.hrtime.bigint();
      await sleep(phaseMs);
      return ((txBytes() - b0) * 8) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9;
    };
    const off: number[] = [await phase()];
    const on: number[] = [];
    const ratios: number[] = [];
    const pairs = Math.round((seconds * 1000) / (2 * phaseMs));
    for (let i = 0; i < pairs; i++) {
      set(0);
      on.push(await phase());
      set(1);
      off.push(await phase());
      ratios.push(on[i]! / ((off[i]! + off[i + 1]!) / 2));
    }
    // Packets (skbs) per second through the classifier, and its run time per packet, with the agent on.
    set(0);
    const stats = enableBpfStats();
    let ns = 0;
    let runs = 0;
    try {
      // The agent's egress classifier: a flow_out behind a tcx link that appeared with the agent.
      const ours = tcxProgIds().filter((id) => !tcxBefore.has(id));
      const mine = (): { ns: number; runs: number } => {
        const all = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as Array<{ name: string; id: number; run_time_ns?: number; run_cnt?: number }>;
        const egress = all.find((p) => p.name === 'flow_out' && ours.includes(p.id));
        return { ns: egress?.run_time_ns ?? 0, runs: egress?.run_cnt ?? 0 };
      };
      const p0 = txPackets();
      const a = mine();
      await sleep(2000);
      const b = mine();
      ns = b.ns - a.ns;
      runs = b.runs - a.runs;
      console.log(`skbs out per second on the veth: ${Math.round((txPackets() - p0) / 2)}; classifier (egress) ${runs ? (ns / runs).toFixed(0) : '-'} ns per skb`);
    } finally {
      stats.close();
      set(1);
    }
    console.log(`iperf3 over a veth pair, ${seconds} s, the agent (${agentArgs.join(' ') || 'defaults'}) switched every ${phaseMs} ms by its own gate`);
    console.log(`Gbit/s off ${median(off).toFixed(2)}, on ${median(on).toFixed(2)}; kept ${(100 * median(ratios)).toFixed(1)}% (quartiles ${(100 * quantile(ratios, 0.25)).toFixed(1)}-${(100 * quantile(ratios, 0.75)).toFixed(1)}, ${ratios.length} switches)`);
  } finally {
    client?.kill('SIGKILL');
    server?.kill('SIGKILL');
    agent?.kill('SIGTERM');
    await sleep(500);
    rmSync(gatePath, { force: true });
    gateObj.close();
    veth.destroy();
  }
}

await main();
