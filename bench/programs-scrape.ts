// Scrape time and exporter CPU for a custom program whose map holds N keys (default 100,000).
//   node dist/bench/programs-scrape.js [keys]
// The writes_by_process example with its map enlarged; N keys written from user space; the exporter
// runs in this process and /metrics is fetched over HTTP. Cold = the first scrape (every key decoded);
// warm = later scrapes (decoded labels cached by key bytes).
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import net from 'node:net';
import { Exporter } from '../src/programs/exporter.js';
import { repoPath } from '../src/lib/paths.js';
import { cpuSeconds, fmt, median, table } from './support.js';

const keys = Number(process.argv[2] ?? 100_000);
const object = repoPath('bpf/.output/examples/writes_by_process.bpf.o');

const variants: Array<{ name: string; labels: string }> = [
  { name: 'uint', labels: '        - { name: pid, size: 4, decoders: [{ name: uint }] }' },
  {
    name: 'uint + hex + static_map',
    labels: [
      '        - { name: pid, size: 4, decoders: [{ name: uint }] }',
      '        - { name: hex, offset: 0, size: 4, decoders: [{ name: hex, byte_order: little }] }',
      '        - { name: parity, offset: 0, size: 1, decoders: [{ name: uint }, { name: static_map, allow_unknown: true, static_map: { 0: even, 2: even, 4: even } }] }',
    ].join('\n'),
  },
];

const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-'));
const rows: Array<Record<string, string | number>> = [];
try {
  for (const v of variants) {
    const file = join(dir, 'bench.yaml');
    writeFileSync(file, `name: bench\nobject: ${object}\nmax_entries: { write_calls: ${keys + 16384} }\nmetrics:\n  counters:\n    - name: bench_writes_total\n      help: bench\n      map: write_calls\n      labels:\n${v.labels}\n`);
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const exporter = await Exporter.start({ configPaths: [file], listen: { host: '127.0.0.1', port }, bpfStats: false, log: pino({ level: 'silent' }) });
    try {
      const map = exporter.registry.get('bench')!.mapReader('write_calls')!;
      const k = Buffer.alloc(4);
      const val = Buffer.alloc(8);
      // Keys far above real pids, so the program's own writes do not collide.
      for (let i = 0; i < keys; i++) {
        k.writeUInt32LE(0x40000000 + i);
        val.writeBigUInt64LE(BigInt(i + 1));
        map.set(k, val);
      }
      const scrape = async (): Promise<{ ms: number; bytes: number; lines: number }> => {
        const t = performance.now();
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return { ms: performance.now() - t, bytes: text.length, lines: text.split('\n').filter((l) => l.startsWith('bench_writes_total')).length };
      };
      const cold = await scrape();
      const times: number[] = [];
      const cpu0 = process.cpuUsage();
      const n = 10;
      let last = cold;
      for (let i = 0; i < n; i++) {
        last = await scrape();
        times.push(last.ms);
      }
      const cpuPerScrape = (cpuSeconds(process.cpuUsage(cpu0)) / n) * 1000;
      const reads: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        map.readAll();
        reads.push(performance.now() - t);
      }
      if (last.lines < keys) throw new Error(`expected ${keys} series, got ${last.lines}`);
      rows.push({
        labels: v.name,
        keys: fmt(keys),
        series: fmt(last.lines),
        'cold scrape ms': fmt(cold.ms, 1),
        'warm scrape ms (median of 10)': fmt(median(times), 1),
        'warm max ms': fmt(Math.max(...times), 1),
        'CPU ms per warm scrape': fmt(cpuPerScrape, 1),
        'of which map read ms': fmt(median(reads), 1),
        'response MB': fmt(last.bytes / 1e6, 1),
      });
    } finally {
      await exporter.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(table(rows));
