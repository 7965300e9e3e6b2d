// Runs code with every thread of this process on one CPU (taskset), then puts the process's CPU
// list back: for tests whose BPF_PROG_TEST_RUN calls must run on a known CPU (a TC program's test
// run runs on the calling thread's CPU).
import { execFileSync } from 'node:child_process';

function affinity(): string {
  const out = execFileSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' });
  const list = /:\s*(\S+)\s*$/.exec(out.trim())?.[1];
  if (!list) throw new Error(`taskset: no CPU list in '${out.trim()}'`);
  return list;
}

function pin(cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

export function onCpu<T>(cpu: number, run: () => T): T {
  const before = affinity();
  pin(String(cpu));
  try {
    return run();
  } finally {
    pin(before);
  }
}
