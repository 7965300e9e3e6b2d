// MapReader on real kernel maps: batch reads against iteration, draining, per-CPU sums, the
// one-time fallback for map types without batch operations, a full map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, BpfError, codec } from '../../src/bpf/index.js';
import { layout, pairValueCodec } from '../gen/maps.gen.js';
import { testObject } from '../support/paths.js';
import { callGetppid } from '../support/syscalls.js';

function open(): BpfObject {
  return BpfObject.load(testObject('maps'), { layout, globals: { targ_tgid: process.pid } });
}

test('batch read of a 100,000-entry hash map equals key-by-key iteration, entry for entry', () => {
  const obj = open();
  try {
    const m = obj.map('big_hash', codec.u32, pairValueCodec);
    for (let i = 0; i < 100_000; i++) m.set(i, { first: i * 3, second: 2 ** 40 + i });
    const viaBatch = new Map(m.entries().map(([k, v]) => [k, v]));
    assert.equal(m.mode, 'batch');
    assert.equal(viaBatch.size, 100_000);
    m.mode = 'iterate';
    const viaIteration = new Map(m.entries().map(([k, v]) => [k, v]));
    assert.equal(viaIteration.size, 100_000);
    for (let i = 0; i < 100_000; i += 997) {
      assert.deepEqual(viaBatch.get(i), { first: i * 3, second: 2 ** 40 + i });
      assert.deepEqual(viaIteration.get(i), viaBatch.get(i));
    }
    assert.deepEqual([...viaBatch.keys()].sort((a, b) => a - b), [...viaIteration.keys()].sort((a, b) => a - b));
  } finally {
    obj.close();
  }
});

test('draining reads each entry exactly once and leaves the map empty', () => {
  const obj = open();
  try {
    const m = obj.map('big_hash', codec.u32, pairValueCodec);
    for (let i = 0; i < 50_000; i++) m.set(i, { first: 1, second: i });
    const batch = m.readAll({ drain: true });
    assert.equal(batch.count, 50_000);
    let sum = 0;
    for (let i = 0; i < batch.count; i++) sum += batch.values.getUint32(batch.valueOffset(i) + 8, true);
    assert.equal(sum, (49_999 * 50_000) / 2, 'every value read once');
    assert.equal(m.readAll().count, 0, 'empty after the drain');
  } finally {
    obj.close();
  }
});

test('deleteMany removes the keys given in one call, skips keys already gone, and leaves the rest', () => {
  const obj = open();
  try {
    const m = obj.map('big_hash', codec.u32, pairValueCodec);
    for (let i = 0; i < 10_000; i++) m.set(i, { first: i, second: i });
    // Every even key, with absent keys (>= 10,000) interleaved, packed as the kernel wants them.
    const wanted = [];
    for (let i = 0; i < 10_000; i += 2) wanted.push(i, 1_000_000 + i);
    const keys = Buffer.alloc(wanted.length * 4);
    wanted.forEach((k, i) => keys.writeUInt32LE(k, i * 4));
    assert.equal(m.deleteMany(keys, wanted.length), 5_000, 'each present key deleted once');
    const left = m.keys().sort((a, b) => a - b);
    assert.equal(left.length, 5_000);
    assert.ok(left.every((k) => k % 2 === 1), 'only the odd keys remain');
    assert.equal(m.deleteMany(keys, wanted.length), 0, 'nothing left to delete');
  } finally {
    obj.close();
  }
});

test('a per-CPU counter written by the kernel sums to the number of events', () => {
  const obj = open();
  try {
    obj.program('count_per_cpu').attach();
    callGetppid(1234);
    const m = obj.map('per_cpu', codec.u32, codec.u64);
    assert.equal(m.sumPerCpuU64(process.pid), 1234);
    const [[key, values]] = m.perCpuEntries() as [[number, number[]]];
    assert.equal(key, process.pid);
    assert.equal(values.length, m.cpus);
    assert.equal(values.reduce((a, b) => a + b, 0), 1234);
  } finally {
    obj.close();
  }
});

test('a map type without batch operations falls back to iteration once, and for good', () => {
  const obj = open();
  try {
    obj.program('count_per_cpu').attach();
    callGetppid(10); // the program records its kernel stack in a stack trace map
    const m = obj.map('stacks', codec.u32);
    assert.equal(m.mode, 'batch');
    const first = m.entries();
    assert.equal(m.mode, 'iterate', 'switched after the kernel refused the batch');
    assert.ok(first.length >= 1, 'the recorded stack is read');
    assert.deepEqual(first.map(([k]) => k).sort(), m.keys().sort(), 'same keys as a get_next_key walk');
    for (const [, stack] of first) assert.notEqual(new BigUint64Array(stack.buffer, stack.byteOffset, 32)[0], 0n, 'a real return address');
    assert.equal(m.entries().length, first.length, 'later reads iterate directly');
    assert.equal(m.mode, 'iterate');
  } finally {
    obj.close();
  }
});

test('a full map gives E2BIG with a hint, and reading it still works', () => {
  const obj = open();
  try {
    const m = obj.map('small', codec.u32, codec.u64);
    for (let i = 0; i < 4; i++) m.set(i, i);
    assert.throws(
      () => m.set(99, 99),
      (err: unknown) => err instanceof BpfError && err.code === 'E2BIG' && /max_entries/.test(err.message),
    );
    assert.equal(m.entries().length, 4);
  } finally {
    obj.close();
  }
});

test('arrays cannot be drained, and say so', () => {
  const obj = open();
  try {
    const m = obj.map('arr', codec.u32, codec.u64);
    assert.equal(m.entries().length, 8);
    assert.throws(() => m.readAll({ drain: true }), /cannot be deleted/);
  } finally {
    obj.close();
  }
});

test('a closed object refuses further reads with EBADF instead of touching a reused descriptor', () => {
  const obj = open();
  const m = obj.map('small', codec.u32, codec.u64);
  obj.close();
  assert.throws(() => m.entries(), (err: unknown) => err instanceof BpfError && err.code === 'EBADF');
});
