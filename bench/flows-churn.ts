// The agent under flow churn: trafgen sends 64-byte UDP frames whose source address and port are
// random (each packet a new flow, as from a scan or a flood of new clients) at a fixed rate over a
// veth pair, and the agent follows that interface (a flow per packet in, plus the kernel's
// rate-limited ICMP port-unreachable answers out). Measured per variant in the same run: the
// agent's CPU per flow that ended (flows/s as the agent counted them, not as requested), its
// interval duration (how long the JavaScript thread is held each interval) and resident memory;
// the agent without flows (--no-flows) is the baseline.
//
//   node dist/bench/flows-churn.js [packets per second = 20000] [seconds = 20]
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowscopeBin } from '../test/support/paths.js';
import { freePort } from '../test/support/agent.js';
import { parseExposition, Metrics } from '../test/support/prom.js';
import { createFlowLink, type FlowLink } from '../test/flows/support.js';
import { fmt, processCpuSeconds, table } from './support.js';
import { spawnTrafgen, stopTrafgen } from './flow-traffic.js';

const rate = Number(process.argv[2] ?? 20_000);
const seconds = Number(process.argv[3] ?? 20);

interface Sample {
  cpu: number;
  intervals: number;
  intervalSeconds: number;
  maxRss: number;
  flowsEvicted: number;
  lost: string;
}

async function scrape(url: string): Promise<Metrics> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return new Metrics(parseExposition(await res.text()));
}

async function runAgent(link: FlowLink, conf: string, extra: string[]): Promise<Sample> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const agent: ChildProcess = spawn(flowscopeBin, ['agent', '--listen', `127.0.0.1:${port}`, '--flow-interfaces', `^${link.host}$`, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
  let trafgen: ChildProcess | undefined;
  try {
    for (let i = 0; ; i++) {
      try {
        await scrape(url);
        break;
      } catch {
        if (i > 100) throw new Error('the agent did not start');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    trafgen = spawnTrafgen(link, conf, ['-b', `${rate}pps`]);
    await new Promise((r) => setTimeout(r, 3000)); // past the first intervals, which create the map's flows
    const m0 = await scrape(url);
    const cpu0 = processCpuSeconds(agent.pid!);
    let maxRss = 0;
    for (let t = 0; t < seconds; t++) {
      await new Promise((r) => setTimeout(r, 1000));
      maxRss = Math.max(maxRss, (await scrape(url)).sum('process_resident_memory_bytes'));
    }
    const m1 = await scrape(url);
    const cpu1 = processCpuSeconds(agent.pid!);
    const d = (name: string): number => m1.sum(name) - m0.sum(name);
    return {
      cpu: cpu1 - cpu0,
      intervals: d('flowscope_agent_interval_duration_seconds_count'),
      intervalSeconds: d('flowscope_agent_interval_duration_seconds_sum'),
      maxRss,
      flowsEvicted: d('flowscope_agent_flows_evicted_total'),
      lost:
        m1
          .select('flowscope_agent_flow_lost_total')
          .map((x) => ({ source: x.labels.source, n: x.value - m0.sum('flowscope_agent_flow_lost_total', { source: x.labels.source ?? '' }) }))
          .filter((x) => x.n > 0)
          .map((x) => `${x.source}: ${fmt(x.n)}`)
          .join(', ') || '0',
    };
  } finally {
    if (trafgen) await stopTrafgen(trafgen);
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('close', r));
  }
}

async function main(): Promise<void> {
  const link = createFlowLink();
  const dir = mkdtempSync(join(tmpdir(), 'fs-churn-'));
  const stop = (): void => {
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const conf = join(dir, 'churn.cfg');
    writeFileSync(conf, `{ eth(da=${link.hostMac}, sa=${link.peerMac}), ipv4(saddr=drnd(), daddr=${link.hostAddr}, ttl=64), udp(sport=drnd(), dport=9), fill(0x00, 18) }\n`);
    const rows: Array<Record<string, string | number>> = [];
    let baseCpu = 0;
    for (const [name, extra] of [
      ['agent --no-flows (baseline)', ['--no-flows']],
      ['agent, flows (idle timeout 2 s)', ['--flow-idle-timeout', '2s', '--max-flows', '262144']],
      ['agent, flows (idle timeout 15 s, default)', ['--max-flows', '262144']],
    ] as const) {
      console.error(`running: ${name}`);
      const s = await runAgent(link, conf, [...extra]);
      if (name.includes('baseline')) baseCpu = s.cpu;
      rows.push({
        variant: name,
        'packets/s sent': fmt(rate),
        'flows/s ended': name.includes('baseline') ? '-' : fmt(s.flowsEvicted / seconds),
        'agent CPU, % of a core': fmt((100 * s.cpu) / seconds, 1),
        'µs CPU per flow (over baseline)': name.includes('baseline') || !s.flowsEvicted ? '-' : fmt((1e6 * (s.cpu - baseCpu)) / s.flowsEvicted, 1),
        'mean interval, ms': s.intervals ? fmt((1000 * s.intervalSeconds) / s.intervals) : '-',
        'max RSS, MB': fmt(s.maxRss / 1e6),
        'flows evicted': fmt(s.flowsEvicted),
        'lost, by source': s.lost,
      });
    }
    console.log(table(rows));
  } finally {
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
