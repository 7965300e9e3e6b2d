// The BTF reader against the kernel's own BTF and bpftool's reading of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { btfEnum, DropReasons } from './reasons.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

test('enum skb_drop_reason read from the kernel BTF equals what bpftool prints', { skip: !existsSync(VMLINUX) && 'no kernel BTF' }, () => {
  const ours = btfEnum(readFileSync(VMLINUX), 'skb_drop_reason');
  assert.ok(ours && ours.size > 10);
  const c = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const body = /enum skb_drop_reason \{([^}]*)\}/.exec(c)![1]!;
  const theirs = new Map<number, string>();
  for (const m of body.matchAll(/(\w+) = (-?\d+)/g)) theirs.set(Number(m[2]), m[1]!);
  assert.deepEqual(ours, theirs);
  const reasons = new DropReasons();
  assert.equal(reasons.name(theirs.size > 0 ? [...theirs].find(([, n]) => n === 'SKB_DROP_REASON_NO_SOCKET')![0] : 0), 'NO_SOCKET');
  assert.equal(reasons.name(0x30005), 'subsys_3_5');
});

test('a blob that is not BTF is refused with a clear error', () => {
  assert.throws(() => btfEnum(Buffer.alloc(64), 'x'), /not a BTF blob/);
});
