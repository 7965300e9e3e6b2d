// wrk against Debian's nginx, HTTP and HTTPS, with and without L7 capture, alternated in one run.
//
//   node dist/bench/l7-wrk.js [rounds] [seconds] [connections]
//
// Each round runs wrk three times per protocol: with nothing attached (off), with the L7 part of the
// agent running in this process (syscall tracepoints, OpenSSL uprobes on libssl.so.3, HTTP/1 parsing
// in the kernel, matching and per-edge metrics here) capturing both ends (both: wrk as client and
// nginx as server, each request parsed twice), and capturing nginx only (server: wrk runs in a cgroup
// switched off, as a load generator on another node would be), in an order rotated every round.
// Reported: requests per second B/A, p99 latency B/A (wrk --latency), the CPU nginx's worker and wrk
// spend per request (the probes' traps and programs run in their context: on a shared machine this
// is the steadier figure, rates follow other people's load) and the agent's CPU per 10,000
// requests (this process's CPU during B, less its CPU during A). A last B round with kernel BPF
// statistics on gives the kernel-side time per request. Both wrk (client role) and nginx (server role)
// are traced: every request is parsed twice.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { L7Monitor } from '../src/agent/l7/monitor.js';
import { enableBpfStats, features } from '../src/bpf/index.js';
import { startNginx } from '../test/l7/support.js';
import { cpuSeconds, fmt, median, processCpuSeconds, table } from './support.js';
import { runCommand } from '../test/support/run.js';

const rounds = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 8);
const connections = Number(process.argv[4] ?? 32);
/** L7_WRK_PROTOS=https runs one protocol; L7_RING_BYTES sets the agent's record ring (default the object's). */
const protocols = (process.env.L7_WRK_PROTOS ?? 'http,https').split(',') as Proto[];
const ringBytes = process.env.L7_RING_BYTES ? Number(process.env.L7_RING_BYTES) : undefined;
/** L7_STALL_MS: the agent's event loop is blocked this long once a second while capturing (a slow scrape, a long GC). */
const stallMs = Number(process.env.L7_STALL_MS ?? 0);

interface WrkResult {
  rps: number;
  p99ms: number;
  requests: number;
  /** wrk's own CPU (user + system), traps and BPF programs run in its context included. */
  cpuSeconds: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

const cgroupRoot = features.cgroup2Root();
const clientCgroup = `fs-l7-bench-${process.pid}`;
mkdirSync(join(cgroupRoot, clientCgroup));

/** wrk, in its own cgroup (switched off in the "server" case); asynchronous, so that the agent's event loop runs meanwhile. */
async function wrk(url: string): Promise<WrkResult> {
  // `times` prints the shell's and then its children's user and system time: wrk's
  const r = await runCommand('sh', ['-c', `echo $$ > ${join(cgroupRoot, clientCgroup, 'cgroup.procs')} && wrk -t 1 -c ${connections} -d ${seconds}s --latency ${url}; times`]);
  const out = r.stdout;
  const times = out.trim().split('\n').pop()!.match(/(\d+)m([\d.]+)s/g) ?? [];
  const cpuSeconds = times.reduce((a, t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t)!;
    return a + Number(m[1]) * 60 + Number(m[2]);
  }, 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!rps || !requests) throw new Error(`wrk output not understood:\n${out}`);
  return { rps, p99ms: p99, requests, cpuSeconds };
}

const log = pino({ level: 'warn' });
const nginx = await startNginx();
/** nginx's worker processes (children of the master): the server's CPU is theirs. */
const nginxWorkers = (): number[] => {
  const master = readFileSync(join(nginx.dir, 'nginx.pid'), 'utf8').trim();
  return readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
};
const workersCpu = (): number => nginxWorkers().reduce((a, pid) => a + processCpuSeconds(pid), 0);
const urls = { http: `http://127.0.0.1:${nginx.port}/index.html`, https: `https://127.0.0.1:${nginx.tlsPort}/index.html` };
type Proto = keyof typeof urls;
type Mode = 'off' | 'both' | 'server';
const MODES: Mode[] = ['off', 'both', 'server'];
interface Runs {
  wrk: WrkResult[];
  cpu: number[];
  exchanges: number[];
  /** Records lost to a full ring buffer (the kernel's count of failed reservations). */
  ringLost: number[];
  /** CPU µs of nginx's worker and wrk per request: the served work, with the probes' traps and programs. */
  servedUs: number[];
  /** This process's resident memory at the end of the run (the ring buffer's pages are in it once touched). */
  rssMb: number[];
}
const results = {} as Record<Proto, Record<Mode, Runs>>;
for (const p of protocols) {
  results[p] = {} as Record<Mode, Runs>;
  for (const m of MODES) results[p][m] = { wrk: [], cpu: [], exchanges: [], ringLost: [], servedUs: [], rssMb: [] };
}

function startMonitor(mode: Mode): L7Monitor {
  return L7Monitor.start({ log, cgroupRoot, ...(ringBytes ? { ringBytes } : {}), ...(mode === 'server' ? { switch: [`off:cgroup=/${clientCgroup}`] } : {}) });
}

async function measure(proto: Proto, mode: Mode): Promise<void> {
  const monitor = mode === 'off' ? undefined : startMonitor(mode);
  const tick = monitor
    ? setInterval(() => {
        void monitor.tick();
        for (const until = Date.now() + stallMs; Date.now() < until; );
      }, 1000)
    : undefined;
  const cpu0 = process.cpuUsage();
  const nginx0 = workersCpu();
  const r = await wrk(urls[proto]);
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const runs = results[proto][mode];
  runs.servedUs.push(((workersCpu() - nginx0 + r.cpuSeconds) / r.requests) * 1e6);
  runs.wrk.push(r);
  runs.cpu.push(cpu);
  if (monitor) {
    await monitor.flush();
    const out: string[] = [];
    monitor.renderSelf(out);
    const n = out.filter((l) => l.startsWith('flowscope_agent_l7_exchanges_total{')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    runs.exchanges.push(n / r.requests);
    const full = out.find((l) => l.startsWith('flowscope_agent_l7_kernel_events_total{') && l.includes('event="ringbuf_full"'));
    runs.ringLost.push(Number(full?.split(' ').pop() ?? 0));
    runs.rssMb.push(process.memoryUsage().rss / 2 ** 20);
    clearInterval(tick);
    monitor.stop();
  }
}

try {
  for (let round = 0; round < rounds; round++) {
    for (const proto of protocols) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      for (const mode of order) await measure(proto, mode);
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
  // Kernel-side cost per request (BPF statistics on: they cost time themselves, so not in the rounds above).
  const kernel = {} as Record<Proto, Record<'both' | 'server', number>>;
  const perProgram: Array<Record<string, string>> = [];
  for (const proto of protocols) {
    kernel[proto] = { both: 0, server: 0 };
    for (const mode of ['both', 'server'] as const) {
      const stats = enableBpfStats();
      const monitor = startMonitor(mode);
      const r = await wrk(urls[proto]);
      const runs = monitor.bpfRuns();
      kernel[proto][mode] = runs.reduce((a, p) => a + p.runTimeNs, 0) / r.requests;
      for (const p of runs.filter((x) => x.runCount > 0).sort((a, b) => b.runTimeNs - a.runTimeNs)) {
        perProgram.push({
          protocol: proto,
          captured: mode === 'both' ? 'both ends' : 'nginx only',
          program: p.program,
          'runs per req': fmt(p.runCount / r.requests, 2),
          'ns per run': fmt(p.runTimeNs / p.runCount),
          'ns per req': fmt(p.runTimeNs / r.requests),
        });
      }
      monitor.stop();
      stats.close();
    }
  }
  const rows = protocols.flatMap((proto) =>
    (['both', 'server'] as const).map((mode) => {
      const off = results[proto].off;
      const on = results[proto][mode];
      const ratios = on.wrk.map((b, i) => b.rps / off.wrk[i]!.rps);
      const p99 = on.wrk.map((b, i) => b.p99ms / off.wrk[i]!.p99ms);
      const cpuPer10k = on.wrk.map((b, i) => ((on.cpu[i]! - off.cpu[i]!) / b.requests) * 10_000);
      const added = on.servedUs.map((u, i) => u - off.servedUs[i]!);
      return {
        protocol: proto,
        captured: mode === 'both' ? 'both ends' : 'nginx only',
        'rps off / on (median)': `${fmt(median(off.wrk.map((r) => r.rps)))} / ${fmt(median(on.wrk.map((r) => r.rps)))}`,
        'rps ratio median (min-max)': `${fmt(median(ratios), 3)} (${fmt(Math.min(...ratios), 3)}-${fmt(Math.max(...ratios), 3)})`,
        'p99 ms off / on (median)': `${fmt(median(off.wrk.map((r) => r.p99ms)), 2)} / ${fmt(median(on.wrk.map((r) => r.p99ms)), 2)}`,
        'p99 ratio median (min-max)': `${fmt(median(p99), 3)} (${fmt(Math.min(...p99), 3)}-${fmt(Math.max(...p99), 3)})`,
        'nginx+wrk CPU µs per req off / on': `${fmt(median(off.servedUs), 1)} / ${fmt(median(on.servedUs), 1)}`,
        'added µs per req (min-max)': `${fmt(median(added), 1)} (${fmt(Math.min(...added), 1)}-${fmt(Math.max(...added), 1)})`,
        'agent CPU ms per 10k req': fmt(median(cpuPer10k) * 1000, 1),
        'kernel µs per req': fmt(kernel[proto][mode] / 1000, 2),
        'exchanges per req': fmt(median(on.exchanges), 3),
        'ring lost (max)': fmt(Math.max(...on.ringLost)),
        'RSS MiB (max)': fmt(Math.max(...on.rssMb)),
      };
    }),
  );
  const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
  console.log(`wrk -t1 -c${connections} -d${seconds}s, ${rounds} rounds, nginx 1 worker, ring ${ringBytes ?? 'default'}, event loop stalls ${stallMs} ms/s; load average at the end: ${load}\n`);
  console.log(table(rows));
  console.log(`\nBPF programs (statistics on, one run per case):\n`);
  console.log(table(perProgram));
} finally {
  await nginx.stop();
  rmdirSync(join(cgroupRoot, clientCgroup));
}
