// Ring buffer: a million records from the kernel, in order, none lost; exact loss accounting when
// the consumer is paused; close() ends readers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BpfObject, type RingBufReader } from '../../src/bpf/index.js';
import { layout, RbRecordView } from '../gen/ringbuf.gen.js';
import { testObject } from '../support/paths.js';
import { compileC } from '../support/cbin.js';
import { callGetppid } from '../support/syscalls.js';

const TAG = 0xf10f5c09;

/** A process that calls getppid() `calls` times once it reads a byte on stdin. */
function producer(calls: number): { pid: number; start(): void; done: Promise<number | null> } {
  const bin = compileC(
    'getppid_loop',
    `#include <unistd.h>
#include <sys/syscall.h>
int main(void) { char c; if (read(0, &c, 1) != 1) return 1; for (int i = 0; i < ${calls}; i++) syscall(SYS_getppid); return 0; }
`,
  );
  const child = spawn(bin, [], { stdio: ['pipe', 'ignore', 'inherit'] });
  return {
    pid: child.pid!,
    start: () => child.stdin.end('g'),
    done: new Promise((r) => child.on('close', (code) => r(code))),
  };
}

/**
 * Reads every record, checking sequence order; returns counts. `until` must not make syscalls that
 * touch BPF maps while the producer runs: a map syscall holds the CPU's bpf_prog_active, and a
 * tracepoint program that fires on that CPU meanwhile is skipped by the kernel (a recursion miss).
 * When nothing arrives for `idleMs`, the reader is closed so that a shortfall fails instead of hanging.
 */
async function consume(
  rb: RingBufReader,
  until: (received: number) => boolean,
  idleMs = 10_000,
): Promise<{ received: number; gaps: number; outOfOrder: number; badTag: number; nextSeq: number; stalled: boolean }> {
  const rec = new RbRecordView();
  let next = 0;
  let received = 0;
  let gaps = 0;
  let outOfOrder = 0;
  let badTag = 0;
  let lastProgress = Date.now();
  let stalled = false;
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > idleMs) {
      stalled = true;
      rb.close();
    }
  }, 250);
  try {
    for await (const batch of rb) {
      lastProgress = Date.now();
      batch.forEach((view, offset) => {
        rec.at(view, offset);
        const seq = rec.seq;
        if (seq < next) outOfOrder++;
        else gaps += seq - next;
        next = seq + 1;
        if (rec.tag !== TAG) badTag++;
        received++;
      });
      if (until(received)) break;
    }
  } finally {
    clearInterval(watchdog);
  }
  return { received, gaps, outOfOrder, badTag, nextSeq: next, stalled };
}

/**
 * Runs `attempt` until the producing program ran on every call: a run the kernel skipped (counted in
 * the program's recursion misses) produced no records, which is not loss in the ring buffer.
 */
async function withoutSkippedRuns(what: string, attempt: () => Promise<number>): Promise<void> {
  for (let i = 1; ; i++) {
    const misses = await attempt();
    if (misses === 0) return;
    console.log(`# ${what}: the kernel skipped the program ${misses} time(s) (recursion misses); attempt ${i} repeated`);
    if (i === 3) assert.fail(`${what}: the kernel skipped the producing program in 3 attempts running; the ring buffer could not be judged`);
  }
}

// 1,000,000 records of 24 bytes (16 + the 8-byte record header) fit in 32 MiB: the producer's burst
// cannot outrun a consumer on a slow machine, so any loss is a defect of delivery.
const RING_FOR_ALL = 1 << 25;

test('1,000,000 records from the kernel arrive in order with none lost', async () => {
  const perCall = 10_000;
  const calls = 100;
  const total = perCall * calls;
  await withoutSkippedRuns('1,000,000 records', async () => {
    const p = producer(calls);
    const obj = BpfObject.load(testObject('ringbuf'), { layout, globals: { targ_tgid: p.pid, per_call: perCall }, maxEntries: { events: RING_FOR_ALL } });
    try {
      const prog = obj.program('produce');
      prog.attach();
      const rb = obj.ringBuffer('events', { lostMap: 'events_lost' });
      const reading = consume(rb, (received) => received >= total);
      const started = process.hrtime.bigint();
      p.start();
      assert.equal(await p.done, 0);
      const r = await reading;
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      const misses = prog.stats().recursionMisses;
      console.log(`# ${r.received} records in ${secs.toFixed(2)} s (${Math.round(r.received / secs)} records/s), batches ${rb.stats().batches}, lost ${rb.lost()}, skipped runs ${misses}`);
      if (misses > 0 && rb.lost() === 0 && r.gaps === 0 && r.received === r.nextSeq) return misses;
      assert.equal(rb.lost(), 0, 'nothing lost');
      assert.equal(r.received, total, `every record arrived${r.stalled ? ' (the reader stalled)' : ''}`);
      assert.equal(r.gaps, 0, 'no gap in the sequence');
      assert.equal(r.outOfOrder, 0, 'in order');
      assert.equal(r.badTag, 0, 'records decoded intact');
      return 0;
    } finally {
      obj.close();
    }
  });
});

for (const overflow of ['block', 'drop'] as const) {
  test(`paused consumer, small ring (overflow ${overflow}): what arrives plus what is counted lost equals what was sent, exactly`, async () => {
    const perCall = 1_000;
    const calls = 100;
    const total = perCall * calls;
    await withoutSkippedRuns(`overflow ${overflow}`, async () => {
      const obj = BpfObject.load(testObject('ringbuf'), {
        layout,
        globals: { targ_tgid: process.pid, per_call: perCall },
        maxEntries: { events: 64 * 1024 },
      });
      try {
        const prog = obj.program('produce');
        prog.attach();
        const rb = obj.ringBuffer('events', { lostMap: 'events_lost', maxBatchBytes: 4096, maxPendingBatches: 1, pollTimeoutMs: 1, overflow });
        // Produce everything while nobody reads: the consumer is paused.
        for (let i = 0; i < calls; i++) {
          callGetppid(1);
          await new Promise((r) => setTimeout(r, 1));
        }
        await rb.flush();
        const misses = prog.stats().recursionMisses;
        if (misses > 0) return misses;
        const lost = rb.lost();
        assert.ok(lost > 0, `a 64 KiB ring must overflow with ${total} records (lost ${lost})`);
        // Resume: read until everything that was not lost has arrived (production is over, so the
        // map syscalls of lost() can no longer make the kernel skip the program).
        const r = await consume(rb, (received) => received + rb.lost() >= total);
        const s = rb.stats();
        console.log(`# ${overflow}: received ${r.received}, lost in the kernel ${s.kernelLost}, dropped by the consumer ${s.dropped}`);
        assert.equal(r.received + rb.lost(), total, `received + lost = sent${r.stalled ? ' (the reader stalled)' : ''}`);
        const missing = r.gaps + (total - r.nextSeq);
        assert.equal(missing, rb.lost(), 'every missing sequence number is counted as lost, and nothing else');
        assert.equal(r.outOfOrder, 0);
        assert.equal(r.badTag, 0);
        if (overflow === 'block') assert.equal(s.dropped, 0, 'block mode never drops in user space');
        else assert.ok(s.dropped > 0, 'drop mode drops in user space');
        return 0;
      } finally {
        obj.close();
      }
    });
  });
}

test('a handler that throws neither ends the process nor stops the reader: its failures are counted', async () => {
  const perCall = 100;
  const obj = BpfObject.load(testObject('ringbuf'), { layout, globals: { targ_tgid: process.pid, per_call: perCall } });
  try {
    obj.program('produce').attach();
    let records = 0;
    let batches = 0;
    const errors: unknown[] = [];
    const rb = obj.ringBuffer('events', {
      handler: (batch) => {
        records += batch.count;
        if (batches++ % 2 === 0) throw new Error('handler failure on purpose');
      },
      onHandlerError: (err) => errors.push(err),
      pollTimeoutMs: 1,
    });
    for (let i = 0; i < 10; i++) {
      callGetppid(1);
      await rb.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(records, 10 * perCall, 'every record was handed to the handler, failures or not');
    assert.ok(rb.handlerErrors >= 1, `failures counted (${rb.handlerErrors} of ${batches} batches)`);
    assert.equal(errors.length, rb.handlerErrors);
    assert.match(String(errors[0]), /on purpose/);
    rb.close();
  } finally {
    obj.close();
  }
});

test('close() ends a reader that is waiting, and iteration stops', async () => {
  const obj = BpfObject.load(testObject('ringbuf'), { layout, globals: { targ_tgid: process.pid, per_call: 1 } });
  try {
    const rb = obj.ringBuffer('events');
    const waiting = rb.read();
    const iterating = (async () => {
      let n = 0;
      for await (const _ of rb) n++;
      return n;
    })();
    setTimeout(() => rb.close(), 50);
    assert.equal(await waiting, null);
    assert.equal(await iterating, 0);
    assert.equal(await rb.read(), null, 'reads after close resolve at once');
  } finally {
    obj.close();
  }
});
