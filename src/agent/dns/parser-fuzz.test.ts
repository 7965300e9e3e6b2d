// Fuzzing the DNS parser (fast-check): any bytes at any offset are refused (null) or read, never
// thrown, never read past the message's end (what follows it cannot change the result), and never
// looped on; well-formed messages (RFC 1035, with and without compression) are read back exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDns } from './parser.js';

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

test('any bytes: null or a bounded message, never a throw; the bytes after the message change nothing', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (msg, before, after) => {
      const a = Uint8Array.from([...before, ...msg, ...after]);
      const b = Uint8Array.from([...before, ...msg, ...after.map((x) => x ^ 0xff)]);
      const ra = parseDns(view(a), before.length, msg.length);
      const rb = parseDns(view(b), before.length, msg.length);
      assert.deepEqual(ra, rb, 'reads stay inside [start, start + len)');
      if (ra) {
        assert.ok(ra.name.length <= 255, 'names are bounded');
        assert.ok(ra.answers.length <= Math.floor(msg.length / 11), 'answers are bounded by the bytes');
        for (const x of ra.answers) assert.match(x.addr, /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+)$/);
      }
    }),
    { numRuns: 20_000 },
  );
});

interface Rr {
  type: number;
  ttl: number;
  rdata: Uint8Array;
  /** The owner name as a pointer to the question (compression) or written out. */
  compressed: boolean;
}

const label = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), minLength: 1, maxLength: 20 });
const dnsName = fc.array(label, { minLength: 1, maxLength: 6 }).map((ls) => ls.join('.'));
const rr: fc.Arbitrary<Rr> = fc.oneof(
  fc.record({ type: fc.constant(1), ttl: fc.nat(), rdata: fc.uint8Array({ minLength: 4, maxLength: 4 }), compressed: fc.boolean() }),
  fc.record({ type: fc.constant(28), ttl: fc.nat(), rdata: fc.uint8Array({ minLength: 16, maxLength: 16 }), compressed: fc.boolean() }),
  // CNAME, TXT...: skipped by the parser, but their lengths must be followed.
  fc.record({ type: fc.constantFrom(5, 16, 33), ttl: fc.nat(), rdata: fc.uint8Array({ maxLength: 40 }), compressed: fc.boolean() }),
);

function encodeName(n: string): number[] {
  return [...n.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
}

function encode(m: { id: number; response: boolean; rcode: number; qtype: number; name: string; answers: Rr[] }): Uint8Array {
  const flags = (m.response ? 0x8000 : 0) | 0x0100 | m.rcode;
  const out = [m.id >> 8, m.id & 0xff, flags >> 8, flags & 0xff, 0, 1, m.answers.length >> 8, m.answers.length & 0xff, 0, 0, 0, 0, ...encodeName(m.name), m.qtype >> 8, m.qtype & 0xff, 0, 1];
  for (const a of m.answers) {
    out.push(...(a.compressed ? [0xc0, 12] : encodeName(m.name)), a.type >> 8, a.type & 0xff, 0, 1, (a.ttl >>> 24) & 0xff, (a.ttl >>> 16) & 0xff, (a.ttl >>> 8) & 0xff, a.ttl & 0xff, a.rdata.length >> 8, a.rdata.length & 0xff, ...a.rdata);
  }
  return Uint8Array.from(out);
}

const message = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  response: fc.boolean(),
  rcode: fc.integer({ min: 0, max: 15 }),
  qtype: fc.integer({ min: 0, max: 0xffff }),
  name: dnsName,
  answers: fc.array(rr, { maxLength: 8 }),
});

test('well-formed messages are read back exactly', () => {
  fc.assert(
    fc.property(message, (m) => {
      const got = parseDns(view(encode(m)), 0, encode(m).length);
      assert.ok(got);
      assert.equal(got.id, m.id);
      assert.equal(got.response, m.response);
      assert.equal(got.rcode, m.rcode);
      assert.equal(got.qtype, m.qtype);
      assert.equal(got.name, m.name);
      const want = m.answers.filter((a) => a.type === 1 || a.type === 28);
      assert.equal(got.answers.length, want.length);
      got.answers.forEach((a, i) => {
        assert.equal(a.ttl, want[i]!.ttl);
        if (want[i]!.type === 1) assert.equal(a.addr, [...want[i]!.rdata].join('.'));
      });
    }),
    { numRuns: 5000 },
  );
});

test('well-formed messages with bytes changed, cut or pointers bent: never a throw, never past the end', () => {
  fc.assert(
    fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), (m, flips, cut) => {
      const bytes = encode(m);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      const len = cut % (bytes.length + 1);
      const padded = Uint8Array.from([...bytes.subarray(0, len), 0xc0, 0x0c, 0xc0]);
      const r = parseDns(view(padded), 0, len);
      if (r) assert.ok(r.answers.length <= m.answers.length + 8);
    }),
    { numRuns: 10_000 },
  );
});

test('a compression pointer to itself or in a cycle is refused quickly', () => {
  const self = Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  assert.equal(parseDns(view(self), 0, self.length), null);
  const cycle = Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
  assert.equal(parseDns(view(cycle), 0, cycle.length), null);
});
