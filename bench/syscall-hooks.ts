// The fixed cost of the syscall hooks L7 capture can use, with empty programs
// (bench/bpf/syscall_hooks.bpf.c) on a write()/read() loop over a loopback TCP connection
// (bench/fixtures/syscall-loop.c, CPU time per write+read pair, per read(-1) and per getppid()):
//
//   node dist/bench/syscall-hooks.js [rounds] [iterations]
//
// Variants, alternated in each round: nothing; per-syscall tracepoints (syscalls:sys_{enter,exit}_*
// of the nine data syscalls, as bpf/l7.bpf.c attached them); their exit halves only; raw_tp
// sys_enter + sys_exit; raw_tp sys_exit only; tp_btf sys_exit only. The raw and BTF programs run on
// every syscall of every process and exit early on the syscall number.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BpfObject, type Link } from '../src/bpf/index.js';
import { repoPath } from '../src/lib/paths.js';
import { compileC } from '../test/support/cbin.js';
import { fmt, median, table } from './support.js';

const rounds = Number(process.argv[2] ?? 5);
const iterations = Number(process.argv[3] ?? 100_000);
const SYSCALLS = ['read', 'write', 'readv', 'writev', 'sendfile64', 'recvfrom', 'sendto', 'recvmsg', 'sendmsg'];

const loop = compileC('syscall-loop', readFileSync(repoPath('bench/fixtures/syscall-loop.c'), 'utf8'), ['-O2']);
const obj = BpfObject.load(repoPath('bpf/.output/bench/syscall_hooks.bpf.o'));
const p = (n: string) => obj.program(n);

const VARIANTS: Record<string, () => Link[]> = {
  none: () => [],
  'tracepoints enter+exit': () => SYSCALLS.flatMap((s) => [p(`e_${s}`).attachTracepoint('syscalls', `sys_enter_${s}`), p(`x_${s}`).attachTracepoint('syscalls', `sys_exit_${s}`)]),
  'tracepoints exit': () => SYSCALLS.map((s) => p(`x_${s}`).attachTracepoint('syscalls', `sys_exit_${s}`)),
  'raw_tp enter+exit': () => [p('e_raw').attachRawTracepoint('sys_enter'), p('x_raw').attachRawTracepoint('sys_exit')],
  'raw_tp exit': () => [p('x_raw').attachRawTracepoint('sys_exit')],
  'tp_btf exit': () => [p('x_btf').attachTrace()],
};

const results: Record<string, { io: number[]; bad: number[]; other: number[] }> = {};
for (const k of Object.keys(VARIANTS)) results[k] = { io: [], bad: [], other: [] };
try {
  for (let r = 0; r < rounds; r++) {
    for (const [name, attach] of Object.entries(VARIANTS)) {
      const links = attach();
      try {
        const out = execFileSync(loop, [String(iterations)], { encoding: 'utf8' });
        const m = /write\+read (\d+) ns, read\(-1\) (\d+) ns, getppid (\d+) ns/.exec(out);
        if (!m) throw new Error(`syscall-loop output not understood: ${out}`);
        results[name]!.io.push(Number(m[1]));
        results[name]!.bad.push(Number(m[2]));
        results[name]!.other.push(Number(m[3]));
      } finally {
        for (const l of links) l.destroy();
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds}\n`);
  }
} finally {
  obj.close();
}
const base = results.none!;
console.log(`${rounds} rounds of ${iterations} iterations, CPU time, best of 5 per run; load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
console.log(
  table(
    Object.entries(results).map(([name, r]) => {
      const added = r.io.map((v, i) => v - base.io[i]!);
      const addedOther = r.other.map((v, i) => v - base.other[i]!);
      const addedBad = r.bad.map((v, i) => v - base.bad[i]!);
      return {
        hooks: name,
        'write+read ns (median)': fmt(median(r.io)),
        'added ns per write+read, median (min-max)': `${fmt(median(added))} (${fmt(Math.min(...added))}-${fmt(Math.max(...added))})`,
        'added ns per read(-1), median (min-max)': `${fmt(median(addedBad))} (${fmt(Math.min(...addedBad))}-${fmt(Math.max(...addedBad))})`,
        'getppid ns (median)': fmt(median(r.other)),
        'added ns per other syscall, median (min-max)': `${fmt(median(addedOther))} (${fmt(Math.min(...addedOther))}-${fmt(Math.max(...addedOther))})`,
      };
    }),
  ),
);
