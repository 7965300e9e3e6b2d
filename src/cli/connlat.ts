// `flowscope connlat`: outgoing TCP connections and their connect latency, as they happen
// (like libbpf-tools tcpconnlat, without kprobes).
import type { Command } from 'commander';
import { openLive, columns } from './live.js';
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
        if (ev.kind !== 'open' || ev.id.role !== 'client') return;
        const ms = ev.stats.connectNs / 1e6;
        if (ms < minMs || n >= max) return;
        n++;
        const id = ev.id;
        const comm = live.owners.process(id.pid, id.comm, id.socketInode);
        const saddr = id.localAddr;
        const daddr = id.remoteAddr;
        if (flags.json) {
          console.log(JSON.stringify({ pid: id.pid, comm, ip: id.ipVersion, saddr, daddr, dport: id.remotePort, lat_ms: Math.round(ms * 1000) / 1000 }));
        } else {
          console.log(columns(WIDTHS, [id.pid, comm.slice(0, 12), id.ipVersion, saddr, daddr, id.remotePort, ms.toFixed(2)]));
        }
        if (n >= max) live.stop();
      });
      await live.done;
    });
}
