// Bad input gives clear typed errors, and the process goes on working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpfObject, BpfError, VerifierError, LayoutMismatchError, codec } from '../../src/bpf/index.js';
import { layout as attachLayout } from '../gen/attach.gen.js';
import { testObject } from '../support/paths.js';
import { callGetppid, getppidNr } from '../support/syscalls.js';

/** After any error, loading and running a good program in the same process still works. */
function stillWorks(): void {
  const obj = BpfObject.load(testObject('attach'), { layout: attachLayout, globals: { targ_tgid: process.pid, targ_syscall_nr: getppidNr() } });
  try {
    obj.program('count_raw_tp').attachRawTracepoint('sys_enter');
    callGetppid(10);
    assert.equal(obj.map('counters', codec.u32, codec.u64).get(1), 10);
  } finally {
    obj.close();
  }
}

test('a program the verifier rejects gives VerifierError with the verifier reason and log', () => {
  assert.throws(
    () => BpfObject.load(testObject('rejected')),
    (err: unknown) => {
      assert.ok(err instanceof VerifierError, String(err));
      assert.equal(err.program, 'unchecked_lookup');
      assert.match(err.reason, /invalid mem access 'map_value_or_null'/);
      assert.match(err.message, /invalid mem access 'map_value_or_null'/, 'the message names the reason');
      assert.match(err.log, /processed \d+ insns|R0/, 'the full verifier log is attached');
      return true;
    },
  );
  stillWorks();
});

test('a missing object file gives BpfError ENOENT saying how to build it', () => {
  assert.throws(
    () => BpfObject.open('/nonexistent/flowscope/nothing.bpf.o'),
    (err: unknown) => err instanceof BpfError && err.code === 'ENOENT' && /no such file/.test(err.message) && /make/.test(err.message),
  );
  stillWorks();
});

test('bytes that are not ELF are refused before libbpf sees them', () => {
  assert.throws(
    () => BpfObject.open(Buffer.from('this is not an ELF object at all'), { name: 'garbage' }),
    (err: unknown) => err instanceof BpfError && /not an ELF file/.test(err.message),
  );
  // A truncated ELF gets libbpf's own explanation.
  const elf = readFileSync(testObject('attach'));
  assert.throws(
    () => BpfObject.open(elf.subarray(0, 200), { name: 'truncated' }),
    (err: unknown) => err instanceof BpfError && err.op.startsWith('open') && err.message.length > 20,
  );
  stillWorks();
});

test('an object loaded from memory works like one from a file', () => {
  const obj = BpfObject.load(readFileSync(testObject('attach')), { name: 'from_memory', globals: { targ_tgid: process.pid, targ_syscall_nr: getppidNr() } });
  try {
    obj.program('count_tp_btf').attachTrace();
    callGetppid(5);
    assert.equal(obj.map('counters', codec.u32, codec.u64).get(2), 5);
  } finally {
    obj.close();
  }
});

test('a map whose size differs from the generated decoder is refused at open', () => {
  const wrong = { ...attachLayout, counters: { keySize: 4, valueSize: 16 } };
  assert.throws(
    () => BpfObject.open(testObject('attach'), { layout: wrong }),
    (err: unknown) => err instanceof LayoutMismatchError && /counters/.test(err.message) && /8 bytes/.test(err.message) && /make gen/.test(err.message),
  );
  const missing = { ...attachLayout, not_there: { keySize: 4, valueSize: 8 } };
  assert.throws(() => BpfObject.open(testObject('attach'), { layout: missing }), LayoutMismatchError);
  stillWorks();
});

test('attaching to a tracepoint that does not exist gives BpfError ENOENT with a hint', () => {
  const obj = BpfObject.load(testObject('attach'), { layout: attachLayout });
  try {
    assert.throws(
      () => obj.program('count_tracepoint').attachTracepoint('sock', 'no_such_tracepoint_here'),
      (err: unknown) => err instanceof BpfError && err.code === 'ENOENT' && /sock:no_such_tracepoint_here/.test(err.message) && /doctor/.test(err.message),
    );
    assert.throws(
      () => obj.program('count_raw_tp').attachRawTracepoint('no_such_raw_tracepoint'),
      (err: unknown) => err instanceof BpfError && err.code === 'ENOENT',
    );
  } finally {
    obj.close();
  }
  stillWorks();
});

test('unknown programs, maps and globals are named with what exists', () => {
  const obj = BpfObject.open(testObject('attach'));
  try {
    assert.throws(() => obj.setGlobal('targ_nothing', 1), /no global variable 'targ_nothing'.*targ_tgid/s);
    assert.throws(() => obj.program('nope'), /no program 'nope'.*count_tracepoint/s);
    assert.throws(() => obj.map('nope'), /load\(\) the object first/);
    obj.load();
    assert.throws(() => obj.map('nope'), /no map 'nope'.*counters/s);
    assert.throws(() => obj.setGlobal('targ_tgid', 1), (err: unknown) => err instanceof BpfError && /before load/.test(err.message));
  } finally {
    obj.close();
  }
});
