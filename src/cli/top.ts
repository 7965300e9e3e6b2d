// `flowscope top`: the busiest TCP connections, refreshed every interval (like libbpf-tools tcptop).
import type { Command } from 'commander';
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import type { ConnIdentity, ConnStats } from '../model/connection.js';
import { openLive, columns, rightAlign } from './live.js';
import { parseCount, parseDuration, requireBpfPrivileges } from './options.js';

interface Flags {
  C?: boolean;
  interval: string;
  count?: string;
  rows: string;
  json?: boolean;
}

interface Seen {
  startNs: number;
  sent: number;
  received: number;
}

interface Row {
  pid: number;
  comm: string;
  laddr: string;
  raddr: string;
  rxBytes: number;
  txBytes: number;
}

const WIDTHS = [7, 12, 21, 21];

function header(): string {
  const now = new Date().toTimeString().slice(0, 8);
  let procs = '';
  try {
    procs = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(3, 5).join(' ').trim();
  } catch {
    // not Linux: omit
  }
  return `${now} loadavg: ${loadavg().map((l) => l.toFixed(2)).join(' ')} ${procs}`;
}

export function registerTop(program: Command): void {
  program
    .command('top')
    .description('show the TCP connections that moved the most bytes, refreshed every interval')
    .option('-C', 'do not clear the screen between intervals')
    .option('--interval <duration>', 'refresh interval (e.g. 1s, 2)', '1s')
    .option('--count <n>', 'stop after this many intervals')
    .option('--rows <n>', 'connections shown per interval', '20')
    .option('--json', 'one JSON object per interval')
    .action(async (flags: Flags) => {
      requireBpfPrivileges('top');
      const intervalMs = parseDuration(flags.interval, '--interval');
      const count = flags.count !== undefined ? parseCount(flags.count, '--count') : Infinity;
      const rows = parseCount(flags.rows, '--rows');
      const seen = new Map<number, Seen>();
      let current = new Map<string, Row>();

      const add = (id: ConnIdentity, st: ConnStats): void => {
        const key = id.socket;
        const prev = seen.get(key);
        const base = prev && prev.startNs === id.startNs ? prev : { startNs: id.startNs, sent: 0, received: 0 };
        const tx = Math.max(0, st.bytesSent - base.sent);
        const rx = Math.max(0, st.bytesReceived - base.received);
        seen.set(key, { startNs: id.startNs, sent: st.bytesSent, received: st.bytesReceived });
        if (tx === 0 && rx === 0) return;
        const laddr = `${id.localAddr}:${id.localPort}`;
        const raddr = `${id.remoteAddr}:${id.remotePort}`;
        const rowKey = `${id.pid}|${laddr}|${raddr}`;
        const row = current.get(rowKey) ?? { pid: id.pid, comm: live.owners.process(id.pid, id.comm, id.socketInode), laddr, raddr, rxBytes: 0, txBytes: 0 };
        row.rxBytes += rx;
        row.txBytes += tx;
        current.set(rowKey, row);
      };

      const live = openLive('TCP send/receive', (ev) => {
        // Connections that closed during the interval count with their final totals.
        if (ev.kind !== 'close') return;
        add(ev.id, ev.stats);
        seen.delete(ev.id.socket);
      });
      let intervals = 0;
      const timer = setInterval(() => {
        void live.tracer.flushEvents().then(() => {
          live.tracer.readConnections((c) => add(c.id, c.stats));
          const top = [...current.values()].sort((a, b) => b.rxBytes + b.txBytes - (a.rxBytes + a.txBytes)).slice(0, rows);
          current = new Map();
          if (flags.json) {
            console.log(JSON.stringify({ time: new Date().toISOString(), connections: top.map((r) => ({ pid: r.pid, comm: r.comm, laddr: r.laddr, raddr: r.raddr, rx_kb: Math.floor(r.rxBytes / 1024), tx_kb: Math.floor(r.txBytes / 1024), rx_bytes: r.rxBytes, tx_bytes: r.txBytes })) }));
          } else {
            if (!flags.C) process.stdout.write('\x1b[H\x1b[2J');
            const lines = [header(), '', `${columns(WIDTHS, ['PID', 'COMM', 'LADDR', 'RADDR'])} ${rightAlign(6, 'RX_KB')} ${rightAlign(6, 'TX_KB')}`];
            for (const r of top) lines.push(`${columns(WIDTHS, [r.pid, r.comm.slice(0, 12), r.laddr, r.raddr])} ${rightAlign(6, Math.floor(r.rxBytes / 1024))} ${rightAlign(6, Math.floor(r.txBytes / 1024))}`);
            console.log(lines.join('\n'));
          }
          if (++intervals >= count) live.stop();
        });
      }, intervalMs);
      await live.done;
      clearInterval(timer);
    });
}
