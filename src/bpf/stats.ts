// Kernel BPF run-time statistics (run_time_ns, run_cnt per program).
import { native } from './native.js';

/**
 * Turns kernel BPF statistics on for as long as the returned handle is open (BPF_ENABLE_STATS).
 * They cost a little time per program run, so they are off by default.
 */
export function enableBpfStats(): { close(): void } {
  const fd = native().enableStats();
  let open = true;
  return {
    close() {
      if (!open) return;
      open = false;
      native().closeFd(fd);
    },
  };
}

/** Whether statistics are on system-wide (sysctl kernel.bpf_stats_enabled or an open enable handle). */
export async function bpfStatsSysctl(): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  try {
    return (await readFile('/proc/sys/kernel/bpf_stats_enabled', 'utf8')).trim() === '1';
  } catch {
    return false;
  }
}
