// The DNS parser against messages built byte by byte per RFC 1035 (and a compressed answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDns } from './parser.js';

function name(n: string): number[] {
  return [...n.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
}

function message(id: number, flags: number, q: string, qtype: number, answers: Array<{ type: number; rdata: number[]; ttl: number }>): DataView {
  const bytes = [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, 1, 0, answers.length, 0, 0, 0, 0, ...name(q), 0, qtype, 0, 1];
  for (const a of answers) bytes.push(0xc0, 12, 0, a.type, 0, 1, (a.ttl >>> 24) & 0xff, (a.ttl >> 16) & 0xff, (a.ttl >> 8) & 0xff, a.ttl & 0xff, 0, a.rdata.length, ...a.rdata);
  const b = Buffer.from(bytes);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

test('a query: id, question name (lowercased) and type', () => {
  const v = message(0x1234, 0x0100, 'Web.Example.COM', 28, []);
  assert.deepEqual(parseDns(v, 0, v.byteLength), { id: 0x1234, response: false, rcode: 0, qtype: 28, name: 'web.example.com', answers: [] });
});

test('a response: rcode and A/AAAA answers through a compression pointer', () => {
  const v = message(7, 0x8180, 'a.b', 1, [
    { type: 1, rdata: [10, 1, 2, 3], ttl: 300 },
    { type: 28, rdata: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], ttl: 60 },
  ]);
  const m = parseDns(v, 0, v.byteLength)!;
  assert.equal(m.response, true);
  assert.equal(m.rcode, 0);
  assert.deepEqual(m.answers, [
    { addr: '10.1.2.3', ttl: 300 },
    { addr: 'fd00::1', ttl: 60 },
  ]);
  const nx = message(8, 0x8183, 'nope.b', 1, []);
  assert.equal(parseDns(nx, 0, nx.byteLength)!.rcode, 3);
});

test('truncated, looping and non-DNS bytes are refused, never thrown', () => {
  const v = message(1, 0x0100, 'a.b', 1, []);
  for (let n = 0; n < v.byteLength - 4; n++) assert.equal(parseDns(v, 0, n), null, `truncated at ${n}`);
  const loop = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  assert.equal(parseDns(new DataView(loop.buffer, loop.byteOffset, loop.byteLength), 0, loop.length), null);
  const junk = Buffer.alloc(64, 0xff);
  assert.equal(parseDns(new DataView(junk.buffer), 0, 64), null);
});
