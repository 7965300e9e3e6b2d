// Ring buffer → JavaScript throughput: records per second delivered with no loss, and the reading
// process's CPU per million records, for the adaptive wake-up the project uses and for a wake-up
// on every record (libbpf's default), in the same run.
//   node dist/bench/runtime-ringbuf.js [records]
import { spawn } from 'node:child_process';
import { BpfObject } from '../src/bpf/index.js';
import { layout, RbRecordView } from '../test/gen/ringbuf.gen.js';
import { testObject } from '../test/support/paths.js';
import { compileC } from '../test/support/cbin.js';
import { cpuSeconds, fmt, table } from './support.js';

const total = Number(process.argv[2] ?? 5_000_000);
const perCall = 10_000;
const bin = compileC(
  'getppid_loop',
  `#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) { int calls = atoi(argv[1]); char c; if (read(0, &c, 1) != 1) return 1; for (int i = 0; i < calls; i++) syscall(SYS_getppid); return 0; }
`,
);

async function runOnce(wakeupEach: boolean): Promise<Record<string, string | number>> {
  // A wake-up per record is two orders of magnitude slower: a tenth of the records shows it.
  const calls = Math.ceil((wakeupEach ? total / 10 : total) / perCall);
  const child = spawn(bin, [String(calls)], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>((r) => child.on('close', () => r()));
  const obj = BpfObject.load(testObject('ringbuf'), {
    layout,
    globals: { targ_tgid: child.pid!, per_call: perCall, wakeup_mode: wakeupEach ? 1 : 0 },
    maxEntries: { events: 1 << 24 },
  });
  try {
    obj.program('produce').attach();
    const rb = obj.ringBuffer('events', { lostMap: 'events_lost' });
    const rec = new RbRecordView();
    let received = 0;
    let checksum = 0;
    const expected = calls * perCall;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    child.stdin.end('g');
    let producerSecs = 0;
    void done.then(() => (producerSecs = Number(process.hrtime.bigint() - t0) / 1e9));
    for await (const batch of rb) {
      batch.forEach((view, offset) => {
        checksum += rec.at(view, offset).cpu;
        received++;
      });
      if (received + rb.lost() >= expected) break;
    }
    const t1 = process.hrtime.bigint();
    const cpu = cpuSeconds(process.cpuUsage(cpu0));
    await done;
    const secs = Number(t1 - t0) / 1e9;
    void checksum;
    return {
      'producer wake-up': wakeupEach ? 'every record (FORCE_WAKEUP)' : 'adaptive (project default)',
      delivered: fmt(received),
      lost: rb.lost(),
      'producer s': producerSecs.toFixed(2),
      'delivered/s': fmt(received / secs),
      'reader CPU s per 1M': (cpu / (received / 1e6)).toFixed(3),
      'reader cores': (cpu / secs).toFixed(2),
    };
  } finally {
    obj.close();
  }
}

const rows = [];
for (const wakeupEach of [false, true, false, true]) rows.push(await runOnce(wakeupEach));
console.log(`ring buffer → JavaScript: records of 16 bytes from a producer process, read and decoded in JavaScript`);
console.log(table(rows));
