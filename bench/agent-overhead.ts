// The TCP agent's cost to the node at the load generator's full rate, this build against the
// previous revision's in the same run:
//   node dist/bench/agent-overhead.js [rounds=8] [seconds=5] [--previous DIR] [--only REGEXP] [--phases LIST]
// DIR: a clone of the previous revision, built (`make`); without it only this build is measured.
// --only: the configurations whose names match; --phases: a comma-separated subset of
// idle,churn,bpf,iperf (all by default).
//
// Connection churn: a C connect/close loop (test/fixtures/tcpload.c churn, 2 threads, loopback) at
// full rate. Each round runs every agent configuration once, in an order rotated from round to
// round, with a run without any agent before the first and after each: a configuration's ratio is
// its rate over the mean of the agent-less runs on either side (the machine is shared, and its rate
// drifts within minutes). Per configuration: the ratio's median and spread, the agent's own CPU per
// connection (utime + stime of its process over the run, divided by the connections made), its peak
// RSS under churn; idle RSS and CPU in a phase of their own. iperf3 over a veth pair into a
// namespace, the same way. BPF run time per connection, with kernel statistics on, in a last phase.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/support/agent.js';
import { tcpload, startServer } from '../test/support/tcpload.js';
import { createVethNamespace } from '../test/support/netns.js';
import { runCommand, sleep } from '../test/support/run.js';
import { flowscopeBin } from '../test/support/paths.js';
import { fmt, median, processCpuSeconds, table } from './support.js';

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const rounds = Number(positional[0] ?? 8);
const secs = Number(positional[1] ?? 5);
const previous = flag('--previous');
const only = flag('--only') ? new RegExp(flag('--only')!) : undefined;
const PHASES = ['idle', 'churn', 'bpf', 'iperf'] as const;
const phases = new Set((flag('--phases') ?? PHASES.join(',')).split(',').map((p) => p.trim()));
for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--phases: '${p}' is not one of ${PHASES.join(', ')}`);

interface Config {
  name: string;
  bin: string;
  args: string[];
}

const THIS = 'this build';
const PREV = 'previous build';
const configs: Config[] = [
  // Request capture (L7) is opt-in: the defaults are the A/B against the previous build (no L7).
  { name: `${THIS}, defaults`, bin: flowscopeBin, args: [] },
  { name: `${THIS}, --l7`, bin: flowscopeBin, args: ['--l7'] },
  { name: `${THIS}, flows on loopback too`, bin: flowscopeBin, args: ['--flow-interfaces', '.'] },
  { name: `${THIS}, --no-flows`, bin: flowscopeBin, args: ['--no-flows'] },
  ...(previous
    ? [
        { name: `${PREV}, defaults (flows on every interface)`, bin: join(previous, 'bin/flowscope'), args: [] },
        { name: `${PREV}, --no-flows`, bin: join(previous, 'bin/flowscope'), args: ['--no-flows'] },
      ]
    : []),
].filter((c) => !only || only.test(c.name));
if (previous && !existsSync(join(previous, 'dist/src/cli/main.js'))) throw new Error(`${previous}: build it first (make)`);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Resident memory of its own: private pages plus its share of shared ones (Node's code pages). */
function pssMb(pid: number): number {
  const m = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Agent {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** Starts an agent as a user would: its own defaults (no interface filter from the environment). */
async function startAgentBin(c: Config, extra: string[] = []): Promise<Agent> {
  const port = await freePort();
  const env = { ...process.env };
  delete env.FLOWSCOPE_FLOW_INTERFACES;
  const proc: ChildProcess = spawn(c.bin, ['agent', '--listen', `127.0.0.1:${port}`, '--log-level', 'error', ...c.args, ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => proc.on('close', () => r()));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    if (proc.exitCode !== null) throw new Error(`${c.name}: exited: ${err}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${c.name}: not healthy: ${err}`);
    await sleep(100);
  }
  return {
    pid: proc.pid!,
    url,
    async stop() {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function churn(port: number): Promise<{ perSecond: number; connections: number }> {
  const r = await runCommand(tcpload('fs-churn'), ['churn', '127.0.0.1', String(port), String(secs), '2']);
  if (r.code !== 0) throw new Error(`churn failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { connections: number; per_second: number };
  return { perSecond: out.per_second, connections: out.connections };
}

interface Sample {
  ratio: number;
  value: number;
  cpuUsPerConn: number;
  peakRss: number;
}

/**
 * `rounds` rounds; in each, every configuration once (order rotated), each run flanked by runs
 * without an agent. `load` returns the measure and what to divide the agent's CPU by.
 */
async function alternate(what: string, load: () => Promise<{ value: number; units: number }>): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = configs.map((_, i) => configs[(i + r) % configs.length]!);
    let before = (await load()).value;
    for (const c of order) {
      const agent = await startAgentBin(c);
      let on: { value: number; units: number };
      let cpu: number;
      let peak = 0;
      try {
        await sleep(1000);
        const cpu0 = processCpuSeconds(agent.pid);
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb(agent.pid))), 200);
        on = await load();
        clearInterval(sampler);
        cpu = processCpuSeconds(agent.pid) - cpu0;
      } finally {
        await agent.stop();
      }
      const after = (await load()).value;
      const ratio = on.value / ((before + after) / 2);
      out.get(c.name)!.push({ ratio, value: on.value, cpuUsPerConn: (cpu * 1e6) / on.units, peakRss: peak });
      process.stderr.write(`${what} round ${r + 1}/${rounds}: ${c.name}: ${fmt(on.value, 2)} vs ${fmt(before, 2)}/${fmt(after, 2)} without: ${ratio.toFixed(3)}, agent ${((cpu * 1e6) / on.units).toFixed(2)} us per unit, peak RSS ${peak.toFixed(1)} MB\n`);
      before = after;
    }
  }
  return out;
}

function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${median(s).toFixed(3)} (${s[0]!.toFixed(3)}-${s[s.length - 1]!.toFixed(3)})`;
}

/**
 * Idle memory and CPU: every configuration started at once (idle, they do not disturb each other),
 * read 8 s after start and again at 70 s, after the first periodic trim of the native heap; twice.
 */
async function idle(): Promise<Array<Record<string, string>>> {
  const at = configs.map(() => ({ rss8: [] as number[], rss70: [] as number[], pss: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < 2; i++) {
    const agents = await Promise.all(configs.map((c) => startAgentBin(c)));
    try {
      await sleep(8000);
      agents.forEach((a, j) => at[j]!.rss8.push(rssMb(a.pid)));
      await sleep(62_000);
      const c0 = agents.map((a) => processCpuSeconds(a.pid));
      agents.forEach((a, j) => {
        at[j]!.rss70.push(rssMb(a.pid));
        at[j]!.pss.push(pssMb(a.pid));
      });
      await sleep(5000);
      agents.forEach((a, j) => at[j]!.cpu.push((processCpuSeconds(a.pid) - c0[j]!) / 5));
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
    }
  }
  const list = (xs: number[], digits = 1): string => xs.map((x) => x.toFixed(digits)).join(', ');
  return configs.map((c, j) => {
    process.stderr.write(`idle: ${c.name}: RSS ${list(at[j]!.rss8)} at 8 s, ${list(at[j]!.rss70)} at 70 s\n`);
    return { agent: c.name, 'idle RSS MB at 8 s': list(at[j]!.rss8), 'idle RSS MB at 70 s (target <= 75)': list(at[j]!.rss70), 'idle PSS MB at 70 s': list(at[j]!.pss), 'idle CPU (cores)': list(at[j]!.cpu, 3) };
  });
}

/** BPF run time per connection (kernel statistics on), from the agent's own metric. */
async function bpfPerConnection(port: number): Promise<Array<Record<string, string>>> {
  const rows: Array<Record<string, string>> = [];
  const total = async (url: string): Promise<Record<string, number>> => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const by: Record<string, number> = {};
    for (const m of text.matchAll(/^flowscope_bpf_run_seconds_total\{component="(\w+)"[^}]*\} (\S+)$/gm)) by[m[1]!] = (by[m[1]!] ?? 0) + Number(m[2]);
    return by;
  };
  for (const c of configs) {
    const a = await startAgentBin(c, ['--bpf-stats']);
    try {
      await sleep(1500);
      const t0 = await total(a.url);
      const run = await churn(port);
      await sleep(1200);
      const t1 = await total(a.url);
      const cells: Record<string, string> = { agent: c.name, 'conn/s': fmt(run.perSecond) };
      for (const k of new Set([...Object.keys(t0), ...Object.keys(t1)])) cells[`${k} ns/conn`] = fmt((((t1[k] ?? 0) - (t0[k] ?? 0)) * 1e9) / run.connections);
      rows.push(cells);
      process.stderr.write(`bpf: ${JSON.stringify(cells)}\n`);
    } finally {
      await a.stop();
    }
  }
  return rows;
}

async function main(): Promise<void> {
  console.log(`agent overhead: ${rounds} rounds of ${secs} s, configurations rotated, each run between two runs without an agent${previous ? `; previous build: ${previous}` : ''}; phases: ${[...phases].join(', ')}\n`);
  const idleRows = phases.has('idle') ? await idle() : [];

  let c: Map<string, Sample[]> | undefined;
  let bpfRows: Array<Record<string, string>> = [];
  if (phases.has('churn') || phases.has('bpf')) {
    const churnPort = await freePort();
    const server = await startServer(tcpload('fs-srv'), '127.0.0.1', churnPort, { threads: 2 });
    try {
      if (phases.has('churn')) {
        c = await alternate('churn', async () => {
          const r = await churn(churnPort);
          return { value: r.perSecond, units: r.connections };
        });
      }
      if (phases.has('bpf')) bpfRows = await bpfPerConnection(churnPort);
    } finally {
      await server.stop();
    }
  }

  let ip: Map<string, Sample[]> | undefined;
  if (phases.has('iperf')) {
    const veth = createVethNamespace();
    const iperfServer = spawn('ip', ['netns', 'exec', veth.ns, 'iperf3', '-s'], { stdio: 'ignore' });
    try {
      await sleep(1000);
      ip = await alternate('iperf3', async () => {
        const r = await runCommand('iperf3', ['-c', veth.peerAddr, '-t', String(secs), '-J']);
        const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
        return { value: j.end.sum_received.bits_per_second / 1e9, units: j.end.sum_received.bytes / 1e9 };
      });
    } finally {
      iperfServer.kill();
      veth.destroy();
    }
  }

  if (c || ip) {
    const rows = configs.map((cf) => {
      const row: Record<string, string> = { agent: cf.name };
      const s = c?.get(cf.name);
      if (s) {
        row['churn: kept (median, range)'] = spread(s.map((x) => x.ratio));
        row['conn/s with'] = fmt(median(s.map((x) => x.value)));
        row['agent CPU us/conn'] = `${median(s.map((x) => x.cpuUsPerConn)).toFixed(2)} (${Math.min(...s.map((x) => x.cpuUsPerConn)).toFixed(2)}-${Math.max(...s.map((x) => x.cpuUsPerConn)).toFixed(2)})`;
        row['peak RSS MB under churn'] = `${median(s.map((x) => x.peakRss)).toFixed(1)} (max ${Math.max(...s.map((x) => x.peakRss)).toFixed(1)})`;
      }
      const i = ip?.get(cf.name);
      if (i) {
        row['iperf3: kept'] = spread(i.map((x) => x.ratio));
        row['iperf3 Gbit/s with'] = median(i.map((x) => x.value)).toFixed(2);
      }
      return row;
    });
    console.log('churn (tcpload churn, 2 threads, loopback) and iperf3 over a veth pair; targets: churn >= 0.95, agent CPU <= 3 us/conn, iperf3 >= 0.99\n');
    console.log(table(rows));
  }
  if (idleRows.length) {
    console.log('\nidle (every configuration started at once, twice; RSS 8 s and 70 s after start, CPU over the next 5 s)\n');
    console.log(table(idleRows));
  }
  if (bpfRows.length) {
    // A build without a component (or without its statistics) has no cell for it.
    const columns = [...new Set(bpfRows.flatMap((r) => Object.keys(r)))];
    console.log('\nBPF run time per connection under churn (kernel statistics on: they cost time themselves)\n');
    console.log(table(bpfRows.map((r) => Object.fromEntries(columns.map((k) => [k, r[k] ?? '-'])))));
  }
}

await main();
