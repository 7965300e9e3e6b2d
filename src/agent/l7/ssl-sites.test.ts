import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryEmulated, planSslSites, type CodeReader } from './ssl-sites.js';

/** Code at addresses: a map of start address -> bytes (file offset = address + 0x1000). */
function reader(code: Record<number, number[]>): CodeReader {
  return (addr, size) => {
    for (const [start, bytes] of Object.entries(code)) {
      const s = Number(start);
      if (addr >= s && addr + size <= s + bytes.length) return { bytes: Uint8Array.from(bytes.slice(addr - s, addr - s + size)), fileOffset: addr + 0x1000 };
    }
    return undefined;
  };
}

const pad = (b: number[], n = 96): number[] => [...b, ...new Array(Math.max(0, n - b.length)).fill(0x90)];
/** call rel32 from `at` (the call's own address) to `to`. */
const call = (at: number, to: number): number[] => {
  const rel = (to - (at + 5)) | 0;
  return [0xe8, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff];
};

test('entry instructions the kernel emulates: push of a register; sub, mov and endbr64 are single-stepped', () => {
  assert.ok(entryEmulated(Uint8Array.of(0x55)));
  assert.ok(entryEmulated(Uint8Array.of(0x41, 0x55)));
  assert.ok(!entryEmulated(Uint8Array.of(0x48, 0x83, 0xec)));
  assert.ok(!entryEmulated(Uint8Array.of(0xf3, 0x0f, 0x1e, 0xfa)));
});

// Debian bookworm's libssl 3.0: SSL_read = sub $0x18,%rsp; ...; call ssl_read_internal; SSL_read_ex = sub $0x8,%rsp; call ssl_read_internal
const API_READ = 0x35430, EX_READ = 0x354c0, INT_READ = 0x35290;
const API_WRITE = 0x35980, EX_WRITE = 0x35a10, INT_WRITE = 0x355a0;
const debian = {
  [API_READ]: pad([0x48, 0x83, 0xec, 0x18, 0x90, 0x90, ...call(API_READ + 6, INT_READ)]),
  [EX_READ]: pad([0x48, 0x83, 0xec, 0x08, ...call(EX_READ + 4, INT_READ)]),
  [INT_READ]: pad([0x41, 0x55, 0x41, 0x54]),
  [API_WRITE]: pad([0x48, 0x83, 0xec, 0x18, ...call(API_WRITE + 4, INT_WRITE)]),
  [EX_WRITE]: pad([0x48, 0x83, 0xec, 0x08, ...call(EX_WRITE + 4, INT_WRITE)]),
  [INT_WRITE]: pad([0x41, 0x56]),
};
const fns = new Map([
  ['SSL_read', API_READ],
  ['SSL_read_ex', EX_READ],
  ['SSL_write', API_WRITE],
  ['SSL_write_ex', EX_WRITE],
]);

test('wrappers that are single-stepped: the shared internal function is probed once, with the _ex return', () => {
  assert.deepEqual(planSslSites(fns, reader(debian)), [
    { target: { offset: INT_READ + 0x1000 }, returns: 'read_ex', covers: ['SSL_read', 'SSL_read_ex'] },
    { target: { offset: INT_WRITE + 0x1000 }, returns: 'write_ex', covers: ['SSL_write', 'SSL_write_ex'] },
  ]);
});

test('API functions that begin with push (Node.js): probed by name', () => {
  const node = { ...debian, [API_READ]: pad([0x55]), [API_WRITE]: pad([0x55]) };
  assert.deepEqual(
    planSslSites(fns, reader(node)).map((s) => s.target),
    [{ function: 'SSL_read' }, { function: 'SSL_read_ex' }, { function: 'SSL_write' }, { function: 'SSL_write_ex' }],
  );
});

test('no shared internal function, or one that is single-stepped itself: the API functions by name', () => {
  const otherTarget = { ...debian, [API_READ]: pad([0x48, 0x83, 0xec, 0x18, ...call(API_READ + 4, INT_WRITE)]) };
  assert.deepEqual(planSslSites(fns, reader(otherTarget))[0], { target: { function: 'SSL_read' }, returns: 'read', covers: ['SSL_read'] });
  const steppedInternal = { ...debian, [INT_READ]: pad([0x48, 0x83, 0xec, 0x38]) };
  assert.deepEqual(planSslSites(fns, reader(steppedInternal))[0], { target: { function: 'SSL_read' }, returns: 'read', covers: ['SSL_read'] });
  const unreadable = reader({});
  assert.equal(planSslSites(fns, unreadable).length, 4);
  const noEx = new Map([['SSL_read', API_READ], ['SSL_write', API_WRITE]]);
  assert.deepEqual(planSslSites(noEx, reader(debian)).map((s) => s.returns), ['read', 'write']);
});
