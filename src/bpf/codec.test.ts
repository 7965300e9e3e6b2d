import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readU64, writeU64, readI64, writeI64, readCString, writeCString, u32, encodeToBuffer, viewOf } from './codec.js';

test('u64 and i64 round trip up to 2^53', () => {
  const buf = Buffer.alloc(16);
  const view = viewOf(buf);
  for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 123456789012345]) {
    writeU64(view, 0, v);
    assert.equal(readU64(view, 0), v);
    assert.equal(buf.readBigUInt64LE(0), BigInt(v));
  }
  for (const v of [-1, -(2 ** 40), 2 ** 40, -1234567890123]) {
    writeI64(view, 8, v);
    assert.equal(readI64(view, 8), v);
  }
});

test('C strings stop at NUL and are truncated to fit', () => {
  const buf = Buffer.alloc(8);
  writeCString(viewOf(buf), 0, 8, 'flowscope-long');
  assert.equal(readCString(viewOf(buf), 0, 8), 'flowsco');
  writeCString(viewOf(buf), 0, 8, 'ab');
  assert.equal(readCString(viewOf(buf), 0, 8), 'ab');
});

test('encodeToBuffer writes little-endian', () => {
  assert.deepEqual([...encodeToBuffer(u32, 0x01020304)], [4, 3, 2, 1]);
});
