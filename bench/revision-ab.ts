// This checkout against another revision (built in its own directory), alternated in one run, on
// the hot paths: connection churn at the generator's full rate (agent CPU per connection, the rate
// kept), a flood of new flows from random sources over a veth (agent CPU per flow, interval time),
// and a custom program's 100,000-key scrape (warm median). The per-packet work is the BPF objects'
// (compared byte for byte and reported); everything measured here is the agent's user space.
//
//   node dist/bench/revision-ab.js OTHER_CHECKOUT [rounds=4] [seconds=5]
//
// Build the other revision first: git worktree add /tmp/prev REV && cd /tmp/prev &&
// cp -al ../main/node_modules . && make -s all
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { freePort } from '../test/support/agent.js';
import { parseExposition, Metrics } from '../test/support/prom.js';
import { tcpload, startServer } from '../test/support/tcpload.js';
import { runCommand, sleep } from '../test/support/run.js';
import { createFlowLink, type FlowLink } from '../test/flows/support.js';
import { repoPath } from '../src/lib/paths.js';
import { spawnTrafgen, stopTrafgen } from './flow-traffic.js';
import { cpuSeconds, fmt, median, processCpuSeconds, table } from './support.js';

const other = resolve(process.argv[2] ?? '');
const rounds = Number(process.argv[3] ?? 4);
const secs = Number(process.argv[4] ?? 5);
if (!process.argv[2]) {
  console.error('usage: node dist/bench/revision-ab.js OTHER_CHECKOUT [rounds=4] [seconds=5]');
  process.exit(2);
}

interface Rev {
  name: string;
  root: string;
}
const revs: Rev[] = [
  { name: 'other', root: other },
  { name: 'this', root: repoPath() },
];

async function scrape(url: string): Promise<Metrics> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return new Metrics(parseExposition(await res.text()));
}

async function startAgentOf(rev: Rev, extra: string[]): Promise<{ proc: ChildProcess; url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(join(rev.root, 'bin/flowscope'), ['agent', '--listen', `127.0.0.1:${port}`, '--log-level', 'error', ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      await scrape(url);
      break;
    } catch {
      if (i > 150) throw new Error(`${rev.name}: the agent did not start`);
      await sleep(100);
    }
  }
  await sleep(1000);
  return {
    proc,
    url,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('close', r));
    },
  };
}

/** Both revisions in alternating order, `rounds` times. */
async function alternate<T>(what: string, fn: (rev: Rev) => Promise<T>): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(revs.map((r) => [r.name, []]));
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? revs : [...revs].reverse();
    for (const rev of order) {
      out.get(rev.name)!.push(await fn(rev));
      process.stderr.write(`${what}: round ${i + 1}/${rounds} ${rev.name} done\n`);
    }
  }
  return out;
}

async function churnOnce(port: number): Promise<number> {
  const r = await runCommand(tcpload('fs-ab-churn'), ['churn', '127.0.0.1', String(port), String(secs), '2']);
  if (r.code !== 0) throw new Error(`churn failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { per_second: number }).per_second;
}

async function churnBench(): Promise<Array<Record<string, string>>> {
  const port = await freePort();
  const server = await startServer(tcpload('fs-ab-srv'), '127.0.0.1', port, { threads: 1 });
  try {
    const base: number[] = [];
    const res = await alternate('churn', async (rev) => {
      base.push(await churnOnce(port));
      const agent = await startAgentOf(rev, []);
      try {
        const cpu0 = processCpuSeconds(agent.proc.pid!);
        const t0 = Date.now();
        const rate = await churnOnce(port);
        const cpu = processCpuSeconds(agent.proc.pid!) - cpu0;
        const conns = rate * ((Date.now() - t0) / 1000);
        return { rate, usPerConn: (1e6 * cpu) / conns };
      } finally {
        await agent.stop();
      }
    });
    const b = median(base);
    return revs.map((rev) => {
      const xs = res.get(rev.name)!;
      const rates = xs.map((x) => x.rate);
      const us = xs.map((x) => x.usPerConn);
      return {
        revision: rev.name,
        'conn/s without agent (median of all rounds)': fmt(b),
        'conn/s with agent, median (min-max)': `${fmt(median(rates))} (${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))})`,
        'ratio kept': fmt(median(rates) / b, 3),
        'agent µs CPU per connection, median (min-max)': `${fmt(median(us), 2)} (${fmt(Math.min(...us), 2)}-${fmt(Math.max(...us), 2)})`,
      };
    });
  } finally {
    await server.stop();
  }
}

async function flowsBench(link: FlowLink, conf: string): Promise<Array<Record<string, string>>> {
  const rate = 20_000;
  const res = await alternate('flows', async (rev) => {
    const agent = await startAgentOf(rev, ['--flow-interfaces', `^${link.host}$`, '--max-flows', '262144']);
    const tg = spawnTrafgen(link, conf, ['-b', `${rate}pps`]);
    try {
      await sleep(3000);
      const m0 = await scrape(agent.url);
      const cpu0 = processCpuSeconds(agent.proc.pid!);
      await sleep(secs * 1000);
      const cpu = processCpuSeconds(agent.proc.pid!) - cpu0;
      const m1 = await scrape(agent.url);
      const d = (n: string): number => m1.sum(n) - m0.sum(n);
      const packets = d('flowscope_flow_packets_total');
      return { usPerPacket: (1e6 * cpu) / Math.max(1, packets), intervalMs: (1000 * d('flowscope_agent_interval_duration_seconds_sum')) / Math.max(1, d('flowscope_agent_interval_duration_seconds_count')), packets };
    } finally {
      await stopTrafgen(tg);
      await agent.stop();
    }
  });
  return revs.map((rev) => {
    const xs = res.get(rev.name)!;
    const us = xs.map((x) => x.usPerPacket);
    return {
      revision: rev.name,
      'packets/s sent (each a new flow)': fmt(rate),
      'packets counted per round (median)': fmt(median(xs.map((x) => x.packets))),
      'agent µs CPU per packet, median (min-max)': `${fmt(median(us), 2)} (${fmt(Math.min(...us), 2)}-${fmt(Math.max(...us), 2)})`,
      'mean interval ms (median)': fmt(median(xs.map((x) => x.intervalMs)), 1),
    };
  });
}

interface ExporterModule {
  Exporter: {
    start(o: { configPaths: string[]; listen: { host: string; port: number }; bpfStats: boolean; log: unknown }): Promise<{
      registry: { get(name: string): { mapReader(m: string): { set(k: Buffer, v: Buffer): void } | undefined } | undefined };
      stop(): Promise<void>;
    }>;
  };
}

async function scrapeBench(dir: string): Promise<Array<Record<string, string>>> {
  const keys = 100_000;
  const object = repoPath('bpf/.output/examples/writes_by_process.bpf.o');
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, `name: bench\nobject: ${object}\nmax_entries: { write_calls: ${keys + 16384} }\nmetrics:\n  counters:\n    - name: bench_writes_total\n      help: bench\n      map: write_calls\n      labels:\n        - { name: pid, size: 4, decoders: [{ name: uint }] }\n`);
  const res = await alternate('programs-scrape', async (rev) => {
    const mod = (await import(join(rev.root, 'dist/src/programs/exporter.js'))) as ExporterModule;
    const port = await new Promise<number>((r) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => r(p));
      });
    });
    const exporter = await mod.Exporter.start({ configPaths: [file], listen: { host: '127.0.0.1', port }, bpfStats: false, log: pino({ level: 'silent' }) });
    try {
      const map = exporter.registry.get('bench')!.mapReader('write_calls')!;
      const k = Buffer.alloc(4);
      const v = Buffer.alloc(8);
      for (let i = 0; i < keys; i++) {
        k.writeUInt32LE(0x40000000 + i);
        v.writeBigUInt64LE(BigInt(i + 1));
        map.set(k, v);
      }
      await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(); // cold
      const times: number[] = [];
      const c0 = process.cpuUsage();
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        times.push(performance.now() - t);
      }
      return { ms: median(times), cpuMs: (1000 * cpuSeconds(process.cpuUsage(c0))) / 10 };
    } finally {
      await exporter.stop();
    }
  });
  return revs.map((rev) => {
    const xs = res.get(rev.name)!;
    const ms = xs.map((x) => x.ms);
    return { revision: rev.name, 'warm scrape ms, median of rounds (min-max)': `${fmt(median(ms), 1)} (${fmt(Math.min(...ms), 1)}-${fmt(Math.max(...ms), 1)})`, 'CPU ms per warm scrape (median)': fmt(median(xs.map((x) => x.cpuMs)), 1) };
  });
}

/** The programs' instructions of both revisions' objects (BTF line info holds absolute paths, so whole files differ). */
function objectsSame(): string {
  const h = (p: string): string => createHash('sha256').update(execFileSync('llvm-objdump', ['-d', '--no-show-raw-insn', p], { encoding: 'utf8' }).split('\n').slice(2).join('\n')).digest('hex').slice(0, 12);
  return ['tcp', 'flows']
    .map((o) => {
      const a = h(join(other, `bpf/.output/${o}.bpf.o`));
      const b = h(repoPath(`bpf/.output/${o}.bpf.o`));
      return `${o}.bpf.o: ${a === b ? 'same instructions' : 'instructions differ'}`;
    })
    .join('; ');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-revab-'));
  const link = createFlowLink();
  try {
    console.log(`other: ${other}; this: ${repoPath()}; ${rounds} alternating rounds of ${secs} s; BPF objects: ${objectsSame()}\n`);
    console.log('Connection churn (tcpload churn, 2 threads, loopback, default agent):');
    console.log(table(await churnBench()));
    const conf = join(dir, 'flood.cfg');
    writeFileSync(conf, `{ eth(da=${link.hostMac}, sa=${link.peerMac}), ipv4(saddr=drnd(), daddr=${link.hostAddr}, ttl=64), udp(sport=drnd(), dport=9), fill(0x00, 18) }\n`);
    console.log('\nFlows from random sources over a veth (trafgen, 64-byte UDP):');
    console.log(table(await flowsBench(link, conf)));
    console.log('\nCustom program scrape, 100,000 keys (in-process exporter of each revision):');
    console.log(table(await scrapeBench(dir)));
  } finally {
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
