// `flowscope tcplife`: each TCP connection when it closes, with its traffic and lifetime
// (like libbpf-tools tcplife).
import type { Command } from 'commander';
import { openLive, columns, rightAlign } from './live.js';
import { parseCount, requireBpfPrivileges } from './options.js';

interface Flags {
  json?: boolean;
  count?: string;
}

const WIDTHS = [7, 16, 15, 5, 15, 5];

export function registerTcplife(program: Command): void {
  program
    .command('tcplife')
    .description('print each TCP connection as it closes: addresses, KB sent and received, lifetime')
    .option('--json', 'one JSON object per line')
    .option('--count <n>', 'stop after this many connections')
    .action(async (flags: Flags) => {
      requireBpfPrivileges('tcplife');
      const max = flags.count !== undefined ? parseCount(flags.count, '--count') : Infinity;
      let n = 0;
      if (!flags.json) console.log(`${columns(WIDTHS, ['PID', 'COMM', 'LADDR', 'LPORT', 'RADDR', 'RPORT'])} ${rightAlign(6, 'TX_KB')} ${rightAlign(6, 'RX_KB')} MS`);
      const live = openLive('TCP connection lifetimes', (ev) => {
        if (ev.kind !== 'close' || n >= max) return;
        n++;
        const id = ev.id;
        const st = ev.stats;
        const comm = live.owners.process(id.pid, id.comm, id.socketInode);
        const laddr = id.localAddr;
        const raddr = id.remoteAddr;
        const ms = (ev.tsNs - id.startNs) / 1e6;
        if (flags.json) {
          console.log(
            JSON.stringify({ pid: id.pid, comm, laddr, lport: id.localPort, raddr, rport: id.remotePort, tx_bytes: st.bytesSent, rx_bytes: st.bytesReceived, ms: Math.round(ms * 1000) / 1000 }),
          );
        } else {
          const kb = (b: number): string => rightAlign(6, Math.floor(b / 1024));
          console.log(`${columns(WIDTHS, [id.pid, comm.slice(0, 16), laddr, id.localPort, raddr, id.remotePort])} ${kb(st.bytesSent)} ${kb(st.bytesReceived)} ${ms.toFixed(2)}`);
        }
        if (n >= max) live.stop();
      });
      await live.done;
    });
}
