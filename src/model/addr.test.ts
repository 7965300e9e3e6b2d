import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddr, formatIPv6, ipVersion, AF_INET, AF_INET6 } from './addr.js';

const bytes = (...xs: number[]): Uint8Array => {
  const b = new Uint8Array(16);
  b.set(xs);
  return b;
};

test('IPv4 from the first four bytes', () => {
  assert.equal(formatAddr(AF_INET, bytes(10, 1, 2, 3)), '10.1.2.3');
});

test('IPv6 per RFC 5952, v4-mapped as IPv4', () => {
  assert.equal(formatIPv6(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), '::1');
  assert.equal(formatIPv6(bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), '2001:db8::1');
  assert.equal(formatIPv6(bytes(0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1)), '2001:db8:1:0:1::1');
  assert.equal(formatIPv6(new Uint8Array(16)), '::');
  assert.equal(formatIPv6(bytes(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 'fe80::');
  const mapped = bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 9);
  assert.equal(formatAddr(AF_INET6, mapped), '192.168.1.9');
  assert.equal(ipVersion(AF_INET6, mapped), 4);
  assert.equal(ipVersion(AF_INET6, bytes(0x20, 0x01)), 6);
});
