// CPU, memory and file descriptors of this process, in the standard process_* names.
// (prom-client's default collectors also emit nodejs_*_total gauges, which promtool rejects.)
import { readdirSync, readFileSync } from 'node:fs';
import * as client from './metrics/prom.js';

const startTime = Date.now() / 1000 - process.uptime();

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

function maxFds(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return Number(line?.split(/\s+/)[3]) || 0;
  } catch {
    return 0;
  }
}

export function registerProcessMetrics(registry: client.Registry): void {
  new client.Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds.',
    registers: [registry],
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
  new client.Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new client.Gauge({
    name: 'process_heap_bytes',
    help: 'JavaScript heap in use, in bytes.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new client.Gauge({
    name: 'process_open_fds',
    help: 'Open file descriptors.',
    registers: [registry],
    collect() {
      this.set(openFds());
    },
  });
  const max = maxFds();
  new client.Gauge({
    name: 'process_max_fds',
    help: 'Maximum number of open file descriptors.',
    registers: [registry],
    collect() {
      this.set(max);
    },
  });
  new client.Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch, in seconds.',
    registers: [registry],
    collect() {
      this.set(startTime);
    },
  });
}
