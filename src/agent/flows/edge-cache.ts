// The per-CPU edge cache in front of the kernel edge map: its flush program runs on each CPU every
// interval (in an interrupt there, or right here on the agent's own CPU) and moves the cached counts
// into the edge map. A try that interrupted the classifier does nothing and is tried again; after
// that the flush waits for the next interval (counted, nothing lost).
import type { Logger } from 'pino';
import { BpfError, type Program } from '../../bpf/index.js';
import { onlineCpus } from '../../bpf/features.js';
import { probeRunOnCpu } from '../../bpf/probes.js';
import { EdgeCacheFlushResult, EdgeCacheLayout } from '../../bpf/gen/flows.gen.js';
import { Every } from '../../lib/clock.js';

export const CACHE_FLUSH_PROGRAM = 'edge_cache_flush';

export interface EdgeCacheChoice {
  on: boolean;
  why: string;
}

/**
 * Whether the cache can be on: edge mode without the edge table, not turned off, and a kernel that
 * runs a program on a chosen CPU. In front of the edge table the cache is a second lookup for
 * nothing: the table's slots are per CPU, counted with plain adds like the cache's (without it the
 * classifier took 4-15 ns less a packet, node dist/bench/flows-ab.js, bench/RESULTS.md), and no
 * flush has to run on every CPU each interval.
 */
export function edgeCacheChoice(trackFlows: boolean, wanted: boolean | undefined, tableOn: boolean, log: Logger): EdgeCacheChoice {
  if (trackFlows) return { on: false, why: 'counting per flow (flow records are on): the cache is for edges' };
  if (wanted === false) return { on: false, why: 'turned off' };
  if (tableOn && wanted !== true) return { on: false, why: 'the edge table counts per CPU itself (--no-edge-table puts the cache in front of the edge map)' };
  const probe = probeRunOnCpu();
  if (!probe.ok) {
    log.warn({ probe: probe.detail }, 'flows: this kernel cannot run a program on a chosen CPU (Linux 5.10+); counting edges without the per-CPU edge cache');
    return { on: false, why: `the kernel cannot run its flush on a chosen CPU (${probe.detail}; needs Linux 5.10+)` };
  }
  return { on: true, why: `${EdgeCacheLayout.EDGE_CACHE_SLOTS} slots per CPU, flushed into the edge map every interval` };
}

export class EdgeCacheFlusher {
  private cpus = onlineCpus();
  /** CPUs come and go: the list is read again this often, and when a CPU went offline. */
  private readonly cpuRefresh = new Every(60_000);
  retries = 0;
  deferred = 0;
  pending = 0;
  errors = 0;

  constructor(
    private readonly program: Program,
    private readonly log: Logger,
  ) {}

  get cpuCount(): number {
    return this.cpus.length;
  }

  flush(): void {
    let refresh = false;
    for (const cpu of this.cpus) {
      let r: number = EdgeCacheFlushResult.ECF_BUSY;
      try {
        for (let tries = 0; tries < 8 && r & EdgeCacheFlushResult.ECF_BUSY; tries++) {
          if (tries) this.retries++;
          r = this.program.testRun({ cpu }).retval;
        }
      } catch (err) {
        // ENXIO: the CPU went offline (its slots wait until it is back).
        if (err instanceof BpfError && err.code === 'ENXIO') {
          refresh = true;
          continue;
        }
        this.errors++;
        if (this.errors === 1 || this.errors % 1000 === 0) this.log.error({ err, cpu, failures: this.errors }, 'flows: flushing the edge cache failed');
        continue;
      }
      if (r & EdgeCacheFlushResult.ECF_BUSY) this.deferred++;
      if (r & EdgeCacheFlushResult.ECF_PENDING) this.pending++;
    }
    if (this.cpuRefresh.due() || refresh) this.cpus = onlineCpus();
  }
}
