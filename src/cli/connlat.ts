// `flowscope connlat`: outgoing TCP connections and their connect latency, as they happen
// (like libbpf-tools tcpconnlat, without kprobes).
import type { Command } from 'commander';
import { ConnEventType, ConnRole } from '../bpf/gen/tcp.gen.js';
import { formatAddr, ipVersion } from '../agent/net/addr.js';
import { openLive, columns } from '../tools/live.js';
import { parseNumber, parseCount, requireBpfPrivileges } from './options.js';

interface Flags {
  minMs?: string;
  json?: boolean;
  count?: string;
}

const WIDTHS = [6, 12, 2, 16, 16, 5];

export function registerConnlat(program: Command): void {
  program
    .command('connlat')
    .description('print each outgoing TCP connection with its connect latency (SYN sent to established)')
    .option('--min-ms <ms>', 'only connections slower than this many milliseconds')
    .option('--json', 'one JSON object per line')
    .option('--count <n>', 'stop after this many connections')
    .action(async (flags: Flags) => {
      requireBpfPrivileges('connlat');
      const minMs = flags.minMs !== undefined ? parseNumber(flags.minMs, '--min-ms') : 0;
      const max = flags.count !== undefined ? parseCount(flags.count, '--count') : Infinity;
      let n = 0;
      if (!flags.json) console.log(columns(WIDTHS, ['PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'DPORT', 'LAT(ms)']));
      const live = openLive('TCP connects', (ev) => {
        if (ev.type !== ConnEventType.EV_OPEN || ev.id.role !== ConnRole.ROLE_CLIENT) return;
        const ms = ev.stats.connect_ns / 1e6;
        if (ms < minMs || n >= max) return;
        n++;
        const id = ev.id;
        const comm = live.owners.process(id.pid, id.comm, id.sock_ino);
        const saddr = formatAddr(id.family, id.saddr);
        const daddr = formatAddr(id.family, id.daddr);
        if (flags.json) {
          console.log(JSON.stringify({ pid: id.pid, comm, ip: ipVersion(id.family, id.daddr), saddr, daddr, dport: id.dport, lat_ms: Math.round(ms * 1000) / 1000 }));
        } else {
          console.log(columns(WIDTHS, [id.pid, comm.slice(0, 12), ipVersion(id.family, id.daddr), saddr, daddr, id.dport, ms.toFixed(2)]));
        }
        if (n >= max) live.stop();
      });
      await live.done;
    });
}
