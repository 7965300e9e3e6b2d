// Generated decoders against bytes laid out by the BPF compiler and written by the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpfObject, codec } from '../../src/bpf/index.js';
import { layout, goldenRecordCodec, GoldenRecordView, GoldenRecordLayout, GoldenKind, type GoldenRecord } from '../gen/golden.gen.js';
import { testObject } from '../support/paths.js';
import { repoPath } from '../../src/lib/paths.js';
import { runCommand } from '../support/run.js';

// The values golden.bpf.c writes.
const expected: GoldenRecord = {
  big: 4503599627382841,
  negative: -1234567890123,
  u32v: 0xdeadbeef,
  s32v: -42,
  u16v: 0xbeef,
  u8v: 0xab,
  flag: 1,
  comm: 'flowscope',
  addr: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]),
  counts: [1, 2, 3, 0xffffffff],
  inner: { port: 8080, proto: 6, pad: 0, ifindex: 7 },
  kind: GoldenKind.GOLDEN_LARGE,
  pad: 0,
};

const FIXTURE = repoPath('test/fixtures/golden_record.hex');

function fixtureBytes(): Buffer {
  return Buffer.from(readFileSync(FIXTURE, 'utf8').replace(/\s+/g, ''), 'hex');
}

test('the committed golden bytes decode to the expected values', () => {
  const bytes = fixtureBytes();
  assert.equal(bytes.length, GoldenRecordLayout.size);
  const view = codec.viewOf(bytes);
  assert.deepEqual(goldenRecordCodec.decode(view, 0), expected);
  // The in-place view reads the same without allocating objects.
  const v = new GoldenRecordView().at(view, 0);
  assert.equal(v.big, expected.big);
  assert.equal(v.inner.port, 8080);
  assert.equal(v.counts(3), 0xffffffff);
  assert.equal(v.comm, 'flowscope');
});

test('encoding the expected values gives the golden bytes', () => {
  const out = Buffer.alloc(GoldenRecordLayout.size);
  goldenRecordCodec.encode(expected, codec.viewOf(out), 0);
  assert.equal(out.toString('hex'), fixtureBytes().toString('hex'));
});

test('a record filled by BPF code in the kernel equals the golden bytes and decodes to the expected values', () => {
  const obj = BpfObject.load(testObject('golden'), { layout });
  try {
    assert.equal(obj.program('fill').testRun().retval, 0);
    const raw = obj.map('golden', codec.u32).get(0)!;
    assert.equal(Buffer.from(raw).toString('hex'), fixtureBytes().toString('hex'), 'kernel bytes = fixture');
    assert.deepEqual(obj.map('golden', codec.u32, goldenRecordCodec).get(0), expected);
  } finally {
    obj.close();
  }
});

test('the generated decoders are up to date with the compiled objects', async () => {
  const r = await runCommand(process.execPath, [repoPath('dist/scripts/gen-decoders.js'), '--check']);
  assert.equal(r.code, 0, r.stderr);
});
