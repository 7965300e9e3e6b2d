import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifierReason, errnoName, BpfError, VerifierError } from './errors.js';

test('the verifier reason is the last meaningful line of the log', () => {
  const log = `0: R1=ctx() R10=fp0
; __u64 *v = bpf_map_lookup_elem(&values, &key);
4: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)
5: (79) r0 = *(u64 *)(r0 +0)
R0 invalid mem access 'map_value_or_null'
verification time 37 usec
stack depth 4
processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
`;
  assert.equal(verifierReason(log), "R0 invalid mem access 'map_value_or_null'");
  assert.equal(verifierReason(''), 'no verifier log');
});

test('errors carry errno names and hints', () => {
  assert.equal(errnoName(1), 'EPERM');
  assert.equal(errnoName(524), 'ENOTSUPP');
  const e = new BpfError('attach tracepoint sock:x: No such file or directory', 'attach tracepoint sock:x', 2);
  assert.equal(e.code, 'ENOENT');
  assert.match(e.message, /hint: this kernel has no such tracepoint/);
  const p = new BpfError('load x: Operation not permitted', 'load x', 1);
  assert.match(p.message, /run as root/);
  const v = new VerifierError('load x: Permission denied', 'prog', 'R1 type=scalar expected=fp\nprocessed 3 insns');
  assert.equal(v.reason, 'R1 type=scalar expected=fp');
  assert.match(v.message, /rejected program 'prog': R1 type=scalar expected=fp/);
});
