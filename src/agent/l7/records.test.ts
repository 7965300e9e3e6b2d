import { test } from 'node:test';
import assert from 'node:assert/strict';
import { L7Records } from './records.js';
import { L7ExchangeView, L7ConnRecView, L7RecordType, L7Method, L7Flags } from '../../bpf/gen/l7.gen.js';
import type { RecordBatch } from '../../bpf/index.js';
import type { Http1Request, Http1Response } from './http1.js';

/** One L7_REC_EXCHANGE record (bpf/include/l7.h, struct l7_exchange) as the ring delivers it: 8-byte length header, then the record. */
function exchangeBatch(path: string): RecordBatch {
  const size = L7ExchangeView.size;
  const buf = Buffer.alloc(8 + size);
  buf.writeUInt32LE(size, 0);
  const r = buf.subarray(8);
  r.writeUInt8(L7RecordType.L7_REC_EXCHANGE, 0);
  r.writeUInt8(0, 1); // request received: this end serves
  r.writeUInt8(L7Method.L7_M_POST, 2);
  r.writeUInt8(L7Flags.L7_F_TLS | L7Flags.L7_F_PATH_TRUNCATED, 3);
  r.writeUInt16LE(path.length, 4);
  r.writeUInt16LE(503, 6);
  r.writeUInt32LE(41, 8);
  r.writeUInt8(L7Flags.L7_F_TLS | L7Flags.L7_F_END_AT_CLOSE, 12);
  r.writeBigUInt64LE(1000n, 16); // request
  r.writeBigUInt64LE(1500n, 24); // status line
  r.writeBigUInt64LE(2500n, 32); // body's end
  const conn = r.subarray(40);
  conn.writeBigUInt64LE(0xffff888012345678n, 0);
  conn.writeUInt32LE(4242, 16);
  conn.write('nginx', 24, 'latin1');
  Buffer.from([10, 0, 0, 1]).copy(conn, 40);
  Buffer.from([10, 0, 0, 2]).copy(conn, 56);
  conn.writeUInt16LE(443, 72);
  conn.writeUInt16LE(40000, 74);
  conn.writeUInt8(2, 76);
  r.write(path + 'stale-bytes-past-path_len', 120, 'latin1');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    forEach: (fn: (v: DataView, off: number, len: number) => void) => fn(view, 8, size),
  } as unknown as RecordBatch;
}

test('an exchange record is the request and then its response, as two records would be', () => {
  const requests: Http1Request[] = [];
  const responses: Http1Response[] = [];
  const records = new L7Records({ request: (r) => requests.push(r), response: (r) => responses.push(r), h2() {}, close() {}, exec() {}, exit() {} });
  records.handle(exchangeBatch('/orders/17'));
  assert.equal(records.malformed, 0);
  assert.equal(requests.length, 1);
  assert.equal(responses.length, 1);
  const q = requests[0]!;
  assert.deepEqual(
    [q.received, q.method, q.path, q.pathTruncated, q.tls, q.seq, q.tsNs, q.conn.comm, q.conn.local, q.conn.peer, q.conn.localPort],
    [true, 'POST', '/orders/17', true, true, 41, 1000, 'nginx', '10.0.0.1', '10.0.0.2', 443],
  );
  const a = responses[0]!;
  assert.deepEqual([a.sk, a.received, a.status, a.seq, a.tls, a.headNs, a.endNs, a.end], [q.conn.sk, false, 503, 41, true, 1500, 2500, 'close']);
});

test('a truncated exchange record is counted as malformed, not decoded', () => {
  const records = new L7Records({ request: () => assert.fail('decoded'), response: () => assert.fail('decoded'), h2() {}, close() {}, exec() {}, exit() {} });
  const full = exchangeBatch('/x');
  records.handle({ forEach: (fn: (v: DataView, off: number, len: number) => void) => full.forEach((v, off) => fn(v, off, L7ExchangeView.size - 1)) } as unknown as RecordBatch);
  assert.equal(records.malformed, 1);
});

/** One L7_REC_CONN record (struct l7_conn_rec): connection `id` on socket address `sk`. */
function connBatch(id: number, sk: bigint): RecordBatch {
  const size = L7ConnRecView.size;
  const buf = Buffer.alloc(8 + size);
  buf.writeUInt32LE(size, 0);
  const r = buf.subarray(8);
  r.writeUInt8(L7RecordType.L7_REC_CONN, 0);
  r.writeBigUInt64LE(BigInt(id), 8);
  const conn = r.subarray(16);
  conn.writeBigUInt64LE(sk, 0);
  conn.write('nginx', 24, 'latin1');
  conn.writeUInt8(2, 76);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { forEach: (fn: (v: DataView, off: number, len: number) => void) => fn(view, 8, size) } as unknown as RecordBatch;
}

test('a connection numbered on a socket address that held another: the other counts as closed, even without its close record', () => {
  const records = new L7Records({ request() {}, response() {}, h2() {}, close() {}, exec() {}, exit() {} });
  records.handle(connBatch(1, 0xffff888000001000n));
  records.handle(connBatch(2, 0xffff888000002000n));
  assert.deepEqual(records.takeClosed(), []);
  records.handle(connBatch(3, 0xffff888000001000n)); // the first socket's memory, a new connection
  assert.deepEqual(records.takeClosed(), [1]);
  assert.equal(records.numberedConn(3)?.comm, 'nginx');
  assert.equal(records.malformed, 0);
});
