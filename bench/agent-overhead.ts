// The TCP agent's cost to the node, with and without the agent in the same run, alternating:
// connection churn, iperf3 over a veth pair, keep-alive HTTP latency (wrk); the agent's CPU per
// 1,000 connections/s and its memory; and coverage beside libbpf-tools' tcplife on the same churn.
//   node dist/bench/agent-overhead.js [rounds=3] [seconds=5]
// Two agent configurations, each in its own alternation: TCP only (--no-flows), and the default
// (TCP plus the packet-flow classifier on every interface).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { startAgent, freePort, type RunningAgent } from '../test/support/agent.js';
import { tcpload, startServer } from '../test/support/tcpload.js';
import { compileC } from '../test/support/cbin.js';
import { createVethNamespace } from '../test/support/netns.js';
import { runCommand, sleep } from '../test/support/run.js';
import { repoPath } from '../src/lib/paths.js';
import { fmt, median, processCpuSeconds, table } from './support.js';

const rounds = Number(process.argv[2] ?? 3);
const secs = Number(process.argv[3] ?? 5);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Resident memory of its own: private pages plus its share of shared ones (Node's code pages). */
function pssMb(pid: number): number {
  const m = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs `fn` with the agent off, then on, `rounds` times; returns both series and what the agent used. */
let agentArgs: string[] = [];

async function alternate(name: string, fn: () => Promise<number>): Promise<{ off: number[]; on: number[]; agentCpu: number[]; agentRss: number[] }> {
  const r = { off: [] as number[], on: [] as number[], agentCpu: [] as number[], agentRss: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    r.off.push(await fn());
    const agent = await startAgent(['--log-level', 'error', ...agentArgs]);
    try {
      await sleep(1000);
      const cpu0 = processCpuSeconds(agent.proc.pid!);
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(agent.proc.pid!))), 250);
      r.on.push(await fn());
      clearInterval(sampler);
      r.agentCpu.push(processCpuSeconds(agent.proc.pid!) - cpu0);
      r.agentRss.push(peak);
    } finally {
      await agent.stop();
    }
    process.stderr.write(`${name}: round ${i + 1}/${rounds} off ${fmt(r.off.at(-1)!)} on ${fmt(r.on.at(-1)!)}\n`);
  }
  return r;
}

async function churn(port: number): Promise<{ perSecond: number; connections: number; seconds: number }> {
  const r = await runCommand(tcpload('fs-churn'), ['churn', '127.0.0.1', String(port), String(secs), '2']);
  if (r.code !== 0) throw new Error(`churn failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { connections: number; per_second: number; seconds: number };
  return { perSecond: out.per_second, connections: out.connections, seconds: out.seconds };
}

function wrkP99Ms(output: string): number {
  const m = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output);
  if (!m) throw new Error(`no p99 in wrk output: ${output}`);
  const scale = { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  return Number(m[1]) * scale;
}

async function main(): Promise<void> {
  const rows: Array<Record<string, string | number>> = [];

  const extra: Array<Record<string, string | number>> = [];
  const coverages: string[] = [];
  for (const config of [
    { label: 'TCP only', args: ['--no-flows'] },
    { label: 'default: TCP + flows on every interface', args: ['--flow-interfaces', '.'] },
  ]) {
  agentArgs = config.args;
  process.stderr.write(`agent configuration: ${config.label}\n`);
  // Idle memory.
  const idle = await startAgent(['--log-level', 'error', ...agentArgs]);
  await sleep(5000);
  const idleRss = rssMb(idle.proc.pid!);
  const idlePss = pssMb(idle.proc.pid!);
  const idleCpu0 = processCpuSeconds(idle.proc.pid!);
  await sleep(5000);
  const idleCpu = (processCpuSeconds(idle.proc.pid!) - idleCpu0) / 5;
  await idle.stop();

  // Connection churn.
  const churnPort = await freePort();
  const churnServer = await startServer(tcpload('fs-srv'), '127.0.0.1', churnPort, { threads: 1 });
  let c;
  try {
    c = await alternate('churn', async () => (await churn(churnPort)).perSecond);
  } finally {
    await churnServer.stop();
  }
  const churnRatio = median(c.on) / median(c.off);
  const connPerSec = median(c.on);
  const cpuPerSec = median(c.agentCpu) / secs;
  rows.push({ agent: config.label, load: 'connection churn (conn/s, loopback, 2 threads)', without: fmt(median(c.off)), with: fmt(median(c.on)), ratio: churnRatio.toFixed(3), target: '>= 0.95' });

  // iperf3 over a veth pair into a namespace.
  const veth = createVethNamespace();
  const iperfServer = spawn('ip', ['netns', 'exec', veth.ns, 'iperf3', '-s'], { stdio: 'ignore' });
  let ip;
  try {
    await sleep(1000);
    ip = await alternate('iperf3', async () => {
      const r = await runCommand('iperf3', ['-c', veth.peerAddr, '-t', String(secs), '-J']);
      const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
      return j.end.sum_received.bits_per_second / 1e9;
    });
  } finally {
    iperfServer.kill();
    veth.destroy();
  }
  rows.push({ agent: config.label, load: 'iperf3 over veth (Gbit/s)', without: median(ip.off).toFixed(2), with: median(ip.on).toFixed(2), ratio: (median(ip.on) / median(ip.off)).toFixed(3), target: '>= 0.99' });

  // Keep-alive HTTP latency.
  const httpd = compileC('fs-httpd', readFileSync(repoPath('bench/fixtures/httpd.c'), 'utf8'));
  const httpPort = await freePort();
  const server = spawn(httpd, ['127.0.0.1', String(httpPort)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let w;
  try {
    await new Promise<void>((r) => server.stderr!.on('data', (d: Buffer) => d.toString().includes('ready') && r()));
    w = await alternate('wrk p99', async () => {
      const r = await runCommand('wrk', ['-t1', '-c16', `-d${secs}s`, '--latency', `http://127.0.0.1:${httpPort}/`]);
      return wrkP99Ms(r.stdout);
    });
  } finally {
    server.kill();
  }
  rows.push({ agent: config.label, load: 'HTTP keep-alive p99 latency (ms, wrk -c16)', without: median(w.off).toFixed(3), with: median(w.on).toFixed(3), ratio: (median(w.on) / median(w.off)).toFixed(3), target: '<= 1.05' });

  // Coverage beside libbpf-tools tcplife, on the same churn.
  let coverage = 'libbpf-tools tcplife not installed';
  if (existsSync('/usr/sbin/tcplife')) {
    const port = await freePort();
    const srv = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
    const agent: RunningAgent = await startAgent(['--log-level', 'error', ...agentArgs]);
    const tl = spawn('stdbuf', ['-oL', '/usr/sbin/tcplife', '-D', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tlOut = '';
    tl.stdout!.on('data', (d: Buffer) => (tlOut += d.toString()));
    try {
      await sleep(2000);
      const run = await churn(port);
      await sleep(2000);
      const m = await agent.scrape();
      const ours = m.sum('flowscope_tcp_connections_opened_total', { port: String(port), role: 'client' });
      tl.kill('SIGINT');
      await new Promise((r) => tl.on('close', r));
      const theirs = tlOut.split('\n').filter((l) => new RegExp(`\\s${port}\\s`).test(l)).length;
      coverage = `${config.label}: churn of ${fmt(run.connections)} connections (${fmt(run.perSecond)}/s): flowscope saw ${fmt(ours)} (${((100 * ours) / run.connections).toFixed(2)}%), libbpf-tools tcplife ${fmt(theirs)} (${((100 * theirs) / run.connections).toFixed(2)}%)`;
    } finally {
      tl.kill('SIGKILL');
      await agent.stop();
      await srv.stop();
    }
  }

  coverages.push(coverage);
  extra.push(
    { agent: config.label, measure: 'agent CPU at idle (cores)', value: idleCpu.toFixed(3) },
    { agent: config.label, measure: 'agent RSS idle (MB, target <= 75)', value: idleRss.toFixed(1) },
    { agent: config.label, measure: 'agent PSS idle (MB: private + share of shared pages)', value: idlePss.toFixed(1) },
    { agent: config.label, measure: `agent CPU under churn (cores, at ${fmt(connPerSec)} conn/s)`, value: cpuPerSec.toFixed(3) },
    { agent: config.label, measure: 'agent CPU per 1,000 conn/s (% of a core)', value: ((100 * cpuPerSec) / (connPerSec / 1000)).toFixed(2) },
    { agent: config.label, measure: 'agent RSS peak under churn (MB)', value: median(c.agentRss).toFixed(1) },
    { agent: config.label, measure: 'agent CPU during iperf3 (cores)', value: (median(ip.agentCpu) / secs).toFixed(3) },
  );
  }

  console.log(`agent overhead, ${rounds} alternating rounds of ${secs} s, medians`);
  console.log(table(rows));
  console.log('');
  console.log(
    table([
      ...extra,
    ]),
  );
  console.log('');
  for (const c of coverages) console.log(`coverage, ${c}`);
}

await main();
