// IPFIX encoding against RFC 7011's layout (the collector test in test/flows/ipfix.test.ts checks
// it against nfdump): template record sizes, and a data record's fields in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRecord, V4_RECORD, V6_RECORD } from './ipfix.js';
import type { FlowRecord } from '../../model/records.js';

const rec: FlowRecord = {
  start: '2026-01-01T00:00:00.000Z',
  end: '2026-01-01T00:00:01.500Z',
  interface: 'eth0',
  ifindex: 3,
  direction: 'egress',
  protocol: 'tcp',
  proto: 6,
  family: 4,
  saddr: '10.0.0.1',
  daddr: '192.168.1.2',
  sport: 40000,
  dport: 443,
  packets: 7,
  bytes: 1234,
  tcp_flags: 0x1b,
  first_ns: 0,
  last_ns: 0,
  final: true,
};

test('record sizes: IPv4 56 bytes, IPv6 80 bytes', () => {
  assert.equal(V4_RECORD, 56);
  assert.equal(V6_RECORD, 80);
});

test('an IPv4 record: addresses, ports, protocol, flags, counters, times, interfaces, direction', () => {
  const b = Buffer.alloc(V4_RECORD);
  assert.equal(encodeRecord(b, 0, rec), V4_RECORD);
  assert.deepEqual([...b.subarray(0, 8)], [10, 0, 0, 1, 192, 168, 1, 2]);
  assert.equal(b.readUInt16BE(8), 40000);
  assert.equal(b.readUInt16BE(10), 443);
  assert.equal(b.readUInt8(12), 6);
  assert.equal(b.readUInt16BE(13), 0x1b);
  assert.equal(b.readBigUInt64BE(15), 7n);
  assert.equal(b.readBigUInt64BE(23), 1234n);
  assert.equal(b.readBigUInt64BE(31), BigInt(Date.parse(rec.start)));
  assert.equal(b.readBigUInt64BE(39), BigInt(Date.parse(rec.end)));
  assert.equal(b.readUInt32BE(47), 0, 'ingressInterface');
  assert.equal(b.readUInt32BE(51), 3, 'egressInterface');
  assert.equal(b.readUInt8(55), 1, 'flowDirection egress');
});

test('an IPv6 record expands :: in both addresses', () => {
  const b = Buffer.alloc(V6_RECORD);
  encodeRecord(b, 0, { ...rec, family: 6, saddr: 'fd00::1', daddr: '2001:db8:0:1::' });
  assert.equal(b.subarray(0, 16).toString('hex'), 'fd000000000000000000000000000001');
  assert.equal(b.subarray(16, 32).toString('hex'), '20010db8000000010000000000000000');
});
