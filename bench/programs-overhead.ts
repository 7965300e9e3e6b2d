// Per-event cost of the example programs, from the kernel's own BPF statistics (run_time_ns / run_cnt).
//   node dist/bench/programs-overhead.js [writes]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enableBpfStats } from '../src/bpf/index.js';
import { loadConfigPaths } from '../src/programs/config.js';
import { ProgramRegistry } from '../src/programs/registry.js';
import { systemDecoderEnv } from '../src/programs/exporter.js';
import { createVethNamespace } from '../test/support/netns.js';
import { sh } from '../test/support/run.js';
import { exampleConfig, startWriter } from '../test/programs/support.js';
import { fmt, table } from './support.js';

const writes = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-'));
const link = createVethNamespace();
const stats = enableBpfStats();
const registry = new ProgramRegistry(systemDecoderEnv(), () => true);
try {
  const files = ['writes_by_process', 'container_writes', 'block_io_latency', 'tcp_retransmits'].map((n) => exampleConfig(dir, n));
  files.push(exampleConfig(dir, 'packets_by_protocol', [['interface: eth0', `interface: ${link.host}`]]));
  for (const c of loadConfigPaths(files).configs) {
    const s = registry.apply(c);
    if (s.error) throw new Error(`${c.name}: ${s.error.message}`);
  }
  const w = startWriter('fsbenchw', writes);
  w.go();
  await new Promise((r) => setTimeout(r, 500));
  await w.stop();
  sh('dd', ['if=/dev/zero', `of=${join(dir, 'io')}`, 'bs=4096', 'count=2000', 'oflag=direct'], { allowFail: true });
  link.exec('ping', ['-f', '-c', '20000', '-W', '1', link.hostAddr]);
  const rows = [];
  for (const name of registry.names()) {
    for (const p of registry.get(name)!.programStats()) {
      rows.push({
        'program set': name,
        program: p.program,
        runs: fmt(p.runCount),
        'ns per run': p.runCount ? fmt(p.runTimeNs / p.runCount, 0) : '-',
      });
    }
  }
  console.log(table(rows));
} finally {
  registry.close();
  stats.close();
  link.destroy();
  rmSync(dir, { recursive: true, force: true });
}
