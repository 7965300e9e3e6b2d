import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, huffmanDecode } from './hpack.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function decodeAll(d: HpackDecoder, block: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  d.decode(hex(block), (n, v) => out.push([n, v]));
  return out;
}

test('RFC 7541 C.4: requests with Huffman coding, kept values only, table sizes in step', () => {
  const d = new HpackDecoder();
  assert.deepEqual(decodeAll(d, '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', ''], // not kept: dropped as decoded
  ]);
  assert.equal(d.tableSize, 57);
  assert.deepEqual(decodeAll(d, '8286 84be 5886 a8eb 1064 9cbf'), [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', ''],
    ['cache-control', ''],
  ]);
  assert.equal(d.tableSize, 110);
  assert.deepEqual(decodeAll(d, '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', ''],
    ['custom-key', ''],
  ]);
  assert.equal(d.tableSize, 164);
});

test('RFC 7541 C.6: responses with eviction; :status kept from the dynamic table', () => {
  const d = new HpackDecoder();
  d.decode(hex('20'), () => {}); // table size update to 0...
  d.decode(hex('3f e1 01'), () => {}); // ...then 256, as the RFC's encoder settings
  const first = decodeAll(d, '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3');
  assert.deepEqual(first, [
    [':status', '302'],
    ['cache-control', ''],
    ['date', ''],
    ['location', ''],
  ]);
  assert.equal(d.tableSize, 222);
  const second = decodeAll(d, '4883 640e ffc1 c0bf');
  assert.deepEqual(second, [
    [':status', '307'],
    ['cache-control', ''],
    ['date', ''],
    ['location', ''],
  ]);
  assert.equal(d.tableSize, 222, '":status: 302" evicted to make room');
});

test('Huffman: decodes "www.example.com" and counts without building text', () => {
  const b = hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff');
  assert.deepEqual(huffmanDecode(b, 0, b.length, true), { length: 15, value: 'www.example.com' });
  assert.deepEqual(huffmanDecode(b, 0, b.length, false), { length: 15, value: '' });
});

test('malformed blocks throw HpackError, never anything else', () => {
  const d = new HpackDecoder();
  assert.throws(() => d.decode(hex('be'), () => {}), HpackError, 'index beyond the table');
  assert.throws(() => new HpackDecoder().decode(hex('80'), () => {}), HpackError, 'index 0');
  assert.throws(() => new HpackDecoder().decode(hex('4104 6162'), () => {}), HpackError, 'string past the block');
  assert.throws(() => new HpackDecoder().decode(hex('41 81 00'), () => {}), HpackError, 'bad padding');
  for (let i = 0; i < 2000; i++) {
    const junk = Uint8Array.from({ length: 1 + (i % 40) }, (_, k) => (i * 131 + k * 17) & 0xff);
    try {
      new HpackDecoder().decode(junk, () => {});
    } catch (err) {
      assert.ok(err instanceof HpackError, String(err));
    }
  }
});
