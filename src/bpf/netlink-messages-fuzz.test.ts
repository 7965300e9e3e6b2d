// Fuzzing the netlink link-message decoder (fast-check): any bytes are walked without a throw, in
// bounded steps, never past the buffer; well-formed message sequences (nlmsghdr, ifinfomsg,
// attributes with padding) come back field for field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import fc from 'fast-check';
import { forEachLinkMessage, NLMSG_DONE, NLMSG_ERROR, RTM_DELLINK, RTM_NEWLINK } from './netlink-messages.js';

const LE = endianness() === 'LE';

test('any bytes: no throw, at most one message per 16 bytes, every name from inside the buffer', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      const buf = Buffer.from(bytes);
      let n = 0;
      forEachLinkMessage(buf, (m) => {
        n++;
        assert.ok(Buffer.byteLength(m.name) <= buf.length);
        assert.ok(m.operstate >= -1 && m.operstate <= 255);
      });
      assert.ok(n <= Math.floor(buf.length / 16));
    }),
    { numRuns: 20_000 },
  );
});

interface Link {
  type: number;
  flags: number;
  seq: number;
  family: number;
  linkType: number;
  ifindex: number;
  ifFlags: number;
  name?: string;
  mtu?: number;
  operstate?: number;
  /** Attributes flowscope does not read, which it must step over. */
  other: Uint8Array[];
}

function u16(v: number): number[] {
  const b = Buffer.alloc(2);
  if (LE) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return [...b];
}
function u32(v: number): number[] {
  const b = Buffer.alloc(4);
  if (LE) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return [...b];
}
const pad = (a: number[]): number[] => [...a, ...Array((4 - (a.length % 4)) % 4).fill(0)];
const attr = (type: number, payload: number[]): number[] => pad([...u16(4 + payload.length), ...u16(type), ...payload]);

function encode(l: Link): number[] {
  let body: number[];
  if (l.type === RTM_NEWLINK || l.type === RTM_DELLINK) {
    body = [l.family, 0, ...u16(l.linkType), ...u32(l.ifindex), ...u32(l.ifFlags), ...u32(0xffffffff)];
    for (const o of l.other) body.push(...attr(100 + (o.length % 50), [...o]));
    if (l.name !== undefined) body.push(...attr(3, [...Buffer.from(l.name), 0]));
    if (l.mtu !== undefined) body.push(...attr(4, u32(l.mtu)));
    if (l.operstate !== undefined) body.push(...attr(16, [l.operstate]));
  } else body = u32(-l.ifindex >>> 0); // NLMSG_ERROR / NLMSG_DONE: an errno
  return pad([...u32(16 + body.length), ...u16(l.type), ...u16(l.flags), ...u32(l.seq), ...u32(4242), ...body]);
}

const link: fc.Arbitrary<Link> = fc.record({
  type: fc.constantFrom(RTM_NEWLINK, RTM_DELLINK, NLMSG_DONE, NLMSG_ERROR),
  flags: fc.integer({ min: 0, max: 0xffff }),
  seq: fc.nat(),
  family: fc.integer({ min: 0, max: 255 }),
  linkType: fc.integer({ min: 0, max: 0xffff }),
  ifindex: fc.integer({ min: 1, max: 1 << 20 }),
  ifFlags: fc.nat(),
  name: fc.option(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.-_@'.split('')), minLength: 1, maxLength: 15 }), { nil: undefined }),
  mtu: fc.option(fc.nat(), { nil: undefined }),
  operstate: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
  other: fc.array(fc.uint8Array({ maxLength: 13 }), { maxLength: 4 }),
});

test('well-formed sequences come back field for field, whatever other attributes and padding stand between', () => {
  fc.assert(
    fc.property(fc.array(link, { minLength: 1, maxLength: 8 }), (links) => {
      const buf = Buffer.from(links.flatMap(encode));
      const got: Array<Record<string, unknown>> = [];
      forEachLinkMessage(buf, (m) => got.push({ ...m }));
      assert.equal(got.length, links.length);
      links.forEach((l, i) => {
        const g = got[i]!;
        assert.equal(g.type, l.type);
        assert.equal(g.flags, l.flags);
        assert.equal(g.seq, l.seq);
        if (l.type === RTM_NEWLINK || l.type === RTM_DELLINK) {
          assert.deepEqual([g.family, g.linkType, g.ifindex, g.ifFlags], [l.family, l.linkType, l.ifindex, l.ifFlags >>> 0]);
          assert.equal(g.name, l.name ?? '');
          assert.equal(g.mtu, l.mtu ?? 0);
          assert.equal(g.operstate, l.operstate ?? -1);
        } else assert.equal(g.error, l.ifindex);
      });
    }),
    { numRuns: 5000 },
  );
});

test('well-formed sequences cut or with bytes changed: no throw, the messages before the damage intact', () => {
  fc.assert(
    fc.property(fc.array(link, { minLength: 2, maxLength: 6 }), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (links, cut, flips) => {
      const first = Buffer.from(encode(links[0]!));
      const bytes = Buffer.from(links.flatMap(encode));
      const damaged = Buffer.from(bytes.subarray(0, first.length + (cut % (bytes.length - first.length + 1))));
      for (const [at, v] of flips) if (damaged.length > first.length) damaged[first.length + (at % (damaged.length - first.length))] = v;
      const names: string[] = [];
      forEachLinkMessage(damaged, (m) => names.push(m.name));
      assert.ok(names.length >= 1);
      assert.equal(names[0], links[0]!.type === RTM_NEWLINK || links[0]!.type === RTM_DELLINK ? (links[0]!.name ?? '') : '');
    }),
    { numRuns: 5000 },
  );
});
