import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { writeGzip } from './gzip-parallel.js';

async function gzipped(parts: Buffer[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => out.on('end', r));
  await writeGzip(parts, out);
  await ended;
  return Buffer.concat(chunks);
}

test('chunks compressed apart make one gzip member that decodes to their concatenation', async () => {
  const text = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => `{"edge":${i},"name":"svc-${i % 97}"}`).join(','));
  const parts = [text(20_000), text(1), text(30_000), Buffer.from('é ü 日本')];
  const gz = await gzipped(parts);
  assert.equal(gz[0], 0x1f);
  assert.equal(gz[1], 0x8b);
  assert.deepEqual(gunzipSync(gz), Buffer.concat(parts), 'CRC and length check out (gunzip verifies both)');
  assert.ok(gz.length < Buffer.concat(parts).length / 4, 'it compresses');
  assert.deepEqual(gunzipSync(await gzipped([Buffer.from('{}')])), Buffer.from('{}'));
  assert.deepEqual(gunzipSync(await gzipped([])), Buffer.alloc(0));
});
