import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowIndex, keyHash, keyWords, KEY_SIZE, PackedKeys, type Indexed } from './flow-index.js';

interface E extends Indexed {
  n: number;
}

function keyView(i: number): DataView {
  const b = new DataView(new ArrayBuffer(KEY_SIZE));
  b.setUint32(0, i, true);
  b.setUint32(40, i * 7, true);
  return b;
}

test('entries are found by key bytes, chained on hash collisions, removed from any chain position', () => {
  const idx = new FlowIndex<E>();
  const all: E[] = [];
  for (let i = 0; i < 1000; i++) {
    const v = keyView(i);
    // Force collisions: every third entry shares a hash with its neighbour.
    const e: E = { keyWords: keyWords(v, 0), hash: i % 3 === 0 ? 42 : keyHash(v, 0), next: undefined, n: i };
    idx.add(e);
    all.push(e);
  }
  assert.equal(idx.size, 1000);
  for (let i = 0; i < 1000; i++) assert.equal(idx.get(keyView(i), 0, all[i]!.hash)?.n, i);
  assert.equal(idx.get(keyView(5000), 0), undefined);
  for (let i = 0; i < 1000; i += 2) idx.remove(all[i]!);
  assert.equal(idx.size, 500);
  for (let i = 0; i < 1000; i++) assert.equal(idx.get(keyView(i), 0, all[i]!.hash)?.n, i % 2 ? i : undefined);
  assert.equal([...idx.values()].length, 500);
});

test('PackedKeys packs keys past its first buffer for one batch delete, then empties', () => {
  const packed = new PackedKeys<number>(28);
  const src = Buffer.alloc(28 * 600);
  for (let i = 0; i < 600; i++) src.writeUInt32LE(i + 1, i * 28);
  for (let i = 0; i < 600; i += 2) packed.push(src, i * 28, i);
  assert.equal(packed.count, 300);
  let deleted: number[] = [];
  const seen: number[] = [];
  packed.deleteFrom(
    {
      deleteMany: (keys, count) => {
        deleted = Array.from({ length: count }, (_, j) => keys.readUInt32LE(j * 28));
        return count;
      },
    },
    (st) => seen.push(st),
  );
  assert.deepEqual(deleted, Array.from({ length: 300 }, (_, j) => j * 2 + 1), 'every pushed key, in order, packed');
  assert.deepEqual(seen, Array.from({ length: 300 }, (_, j) => j * 2));
  assert.equal(packed.count, 0);
  let called = false;
  packed.deleteFrom({ deleteMany: () => ((called = true), 0) }, () => undefined);
  assert.equal(called, false, 'nothing to delete: no call');
});
