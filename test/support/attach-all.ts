// Child process for the clean-exit test: attaches one program of each kind, prints their program
// ids, then ends as told: `exit` (process.exit after a moment) or waits for SIGTERM/SIGINT.
//   node attach-all.js <interface> <exit|SIGTERM|SIGINT>
import { readFileSync } from 'node:fs';
import { BpfObject } from '../../src/bpf/index.js';
import { testObject } from './paths.js';
import { getppidNr } from './syscalls.js';

const [iface, ending] = process.argv.slice(2);
if (!iface || !ending) throw new Error('usage: attach-all.js <interface> <exit|SIGTERM|SIGINT>');

const obj = BpfObject.load(testObject('attach'), { globals: { targ_tgid: process.pid, targ_syscall_nr: getppidNr(), targ_port: 9 } });
const libc = readFileSync('/proc/self/maps', 'utf8')
  .split('\n')
  .map((l) => l.split(/\s+/)[5])
  .find((p) => p && /\/libc(\.so\.6|-[\d.]+\.so)$/.test(p))!;

const links = [
  obj.program('count_tracepoint').attach(),
  obj.program('count_raw_tp').attachRawTracepoint('sys_enter'),
  obj.program('count_tp_btf').attachTrace(),
  obj.program('count_sockops').attachCgroup(),
  obj.program('count_cgroup_skb').attachCgroup(),
  obj.program('count_tc').attachTc({ interface: iface, direction: 'egress', mode: 'legacy' }),
  obj.program('count_tc').attachTc({ interface: iface, direction: 'ingress', mode: 'tcx' }),
  obj.program('count_uprobe').attachUprobe({ binary: libc, function: 'getppid' }),
];

const ids = obj.programs().map((p) => obj.program(p.name).stats().id);
process.stdout.write(`${JSON.stringify({ ids, links: links.length })}\n`);
if (ending === 'exit') setTimeout(() => process.exit(0), 1500);
else setInterval(() => {}, 1000);
