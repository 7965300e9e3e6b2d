import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { columnarBatch, recordBatch, type ColumnarBatchV1, type TypedTcpColumns } from './columns.js';
import { decodeFrames, encodeFrame, FrameError, frameMessage, plainColumns } from './frames.js';
import type { BatchV1, HelloV1, TcpEdgeV1 } from './v1.js';

const golden = (name: string): URL => new URL(`../../../../src/model/wire/golden/${name}`, import.meta.url);
const goldenBatch = (): BatchV1 => JSON.parse(readFileSync(golden('batch.json'), 'utf8')) as BatchV1;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** The batch back from its frame, in the record form (its columns as the JSON form has them). */
function roundTrip(b: BatchV1): BatchV1 {
  const m = frameMessage(decodeFrames(encodeFrame(columnarBatch(b)))[0]!) as ColumnarBatchV1;
  assert.ok(m.tcp_columns.role instanceof Float64Array, 'the columns come as typed arrays');
  const plain = { ...m, tcp_columns: plainColumns(m.tcp_columns as unknown as TypedTcpColumns) };
  return recordBatch(JSON.parse(JSON.stringify(plain)) as ColumnarBatchV1);
}

test('the golden batch and hello go through frames unchanged, several frames one after the other', () => {
  const batch = goldenBatch();
  assert.deepEqual(roundTrip(batch), batch);
  const hello = JSON.parse(readFileSync(golden('hello.json'), 'utf8')) as HelloV1;
  const frames = decodeFrames(concat([encodeFrame(hello), encodeFrame(columnarBatch(batch)), encodeFrame(hello)]));
  assert.equal(frames.length, 3);
  assert.deepEqual(frames[0]!.header, hello);
  assert.equal(frames[0]!.columns, undefined);
  assert.deepEqual(frames[2]!.header, hello);
});

test('numbers of every width come back exactly: counters past 2^32, fractions, no cgroup (-1), string indexes past 255 and 65535', () => {
  const base = goldenBatch();
  const records: TcpEdgeV1[] = [];
  for (let i = 0; i < 70_000; i++) {
    records.push({
      role: i % 2 ? 'server' : 'client',
      process: `p${i % 300}`,
      ...(i % 3 ? { cgroup: `/c${i % 5}` } : {}),
      peer: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: (i * 7) % 65536,
      local: { pod: `pod-${i % 1000}` },
      remote: {},
      local_addrs: i % 10 ? [`10.200.0.${i % 200}`] : [],
      opened: i,
      closed: i % 4,
      active: i === 5 ? 0.5 : 1,
      bytes_sent: i === 7 ? 2 ** 40 + 3 : i * 1000,
      bytes_received: 0,
      retransmits: 0,
      resets_sent: 0,
      resets_received: 0,
    });
  }
  const batch: BatchV1 = { ...base, tcp: records };
  const frame = encodeFrame(columnarBatch(batch));
  const json = new TextEncoder().encode(JSON.stringify(columnarBatch(batch)));
  assert.ok(frame.length < json.length, `the frame (${frame.length} bytes) is smaller than the JSON (${json.length})`);
  assert.deepEqual(roundTrip(batch), batch);
});

test('malformed frames are refused naming where: magic, lengths, kinds, missing or leftover columns, header JSON', () => {
  const good = encodeFrame(columnarBatch(goldenBatch()));
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const refuses = (body: Uint8Array, field: RegExp, message: RegExp): void =>
    assert.throws(
      () => decodeFrames(body),
      (err: unknown) => err instanceof FrameError && field.test(err.field) && message.test(err.message),
    );
  refuses(new TextEncoder().encode('{"v":1}'), /^frame\[0\]$/, /FSF1/);
  refuses(good.subarray(0, good.length - 3), /columns/, /more than|missing/);
  refuses(concat([good, good.subarray(0, 6)]), /^frame\[1\]$/, /FSF1/);
  const headerLength = view(good).getUint32(4, true);
  const hugeHeader = good.slice();
  view(hugeHeader).setUint32(4, 1 << 30, true);
  refuses(hugeHeader, /frame\[0\]\.header/, /more than the body/);
  const notJson = good.slice();
  notJson[8] = 0x7b + 1;
  refuses(notJson, /frame\[0\]\.header/, /JSON/);
  // The first column (role): kind right after the columns' length and row count.
  const roleAt = 8 + headerLength + 4 + 4;
  const badKind = good.slice();
  badKind[roleAt] = 9;
  refuses(badKind, /columns\.role$/, /unknown kind 9/);
  const tooMany = good.slice();
  view(tooMany).setUint32(roleAt + 1, 1 << 30, true);
  refuses(tooMany, /columns\.role$/, /more than the columns hold/);
  const absent = good.slice();
  absent[roleAt] = 0;
  refuses(absent, /columns\.role$/, /required/);
  // A byte too many inside the columns (their length says so): leftovers are refused.
  const columnsLength = view(good).getUint32(8 + headerLength, true);
  const leftover = concat([good.subarray(0, 8 + headerLength), new Uint8Array(4), good.subarray(12 + headerLength), new Uint8Array(1)]);
  view(leftover).setUint32(8 + headerLength, columnsLength + 1, true);
  refuses(leftover, /columns$/, /1 bytes left/);
});
