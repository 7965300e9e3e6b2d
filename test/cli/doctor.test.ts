// `flowscope doctor` as users run it: a real process, on the real kernel. What it reports is checked
// against other tools (bpftrace, the kernel's BTF), never against what this machine's kernel lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { flowscopeBin } from '../support/paths.js';
import { runCommand, sh } from '../support/run.js';
import type { DoctorReport } from '../../src/doctor/report.js';
import { bpftraceAttaches, kernelBtfHas } from '../support/witness.js';

/** doctor's own verdict on each optional attach type, against a tool that is not flowscope. */
const WITNESSES: Array<[string, string, () => { ok: boolean; output: string }]> = [
  ['attach_kprobe', 'bpftrace kprobe:tcp_v4_connect', () => bpftraceAttaches('kprobe:tcp_v4_connect')],
  ['attach_fentry', 'bpftrace kfunc:tcp_v4_connect (fentry)', () => bpftraceAttaches('kfunc:tcp_v4_connect')],
  ['attach_tracepoint', 'bpftrace tracepoint:sock:inet_sock_set_state', () => bpftraceAttaches('tracepoint:sock:inet_sock_set_state')],
  ['attach_uprobe', 'bpftrace uprobe on libc getppid', () => bpftraceAttaches(`uprobe:${libc()}:getppid`)],
  ['attach_tp_btf', "the kernel BTF's btf_trace_inet_sock_set_state", () => ({ ok: kernelBtfHas('btf_trace_inet_sock_set_state'), output: '' })],
];

function libc(): string {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((l) => l.split(/\s+/)[5])
    .find((p) => p && /\/libc(\.so\.6|-[\d.]+\.so)$/.test(p))!;
}

test('as root: exit 0, the agent can run, every required check ok, every optional one as the kernel really is (with a fix where missing)', async () => {
  const r = await runCommand(flowscopeBin, ['doctor', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as DoctorReport;
  assert.equal(report.canRunAgent, true);
  assert.deepEqual(report.reasons, []);
  const byId = new Map(report.checks.map((c) => [c.id, c]));
  for (const id of ['privileges', 'bpf_syscall', 'btf', 'cgroup_v2', 'attach_sockops', 'lifecycle_hook', 'ringbuf']) {
    assert.equal(byId.get(id)?.required, true, `${id} is required`);
    assert.equal(byId.get(id)?.status, 'ok', `${id}: ${byId.get(id)?.detail}`);
  }
  for (const c of report.checks.filter((c) => c.required)) assert.equal(c.status, 'ok', `required ${c.id}: ${c.detail}`);
  for (const id of ['attach_tracepoint', 'attach_raw_tp', 'attach_tp_btf', 'attach_fentry', 'attach_kprobe', 'attach_cgroup_skb', 'attach_tc', 'attach_uprobe', 'batch_ops', 'bpf_stats', 'run_on_cpu', 'link_events']) {
    const c = byId.get(id);
    assert.ok(c, `${id} is checked`);
    assert.equal(c.required, false, `${id} is optional`);
    assert.ok(c.status === 'ok' || c.status === 'missing', `${id}: ${c.status}`);
    if (c.status === 'missing') assert.ok(c.fix && c.fix.length > 10, `${id} missing says how to fix it`);
  }
  // Never assumed: what doctor found is what another tool finds on this kernel.
  for (const [id, how, witness] of WITNESSES) {
    const w = witness();
    assert.equal(byId.get(id)!.status, w.ok ? 'ok' : 'missing', `${id}: doctor says ${byId.get(id)!.status} (${byId.get(id)!.detail}), ${how} says ${w.ok ? 'it works' : 'it does not'} ${w.output.split('\n').slice(-3).join(' ')}`);
  }
  // The agent's lifecycle hook is the best of the tracepoint flavours doctor found working.
  const best = ['tp_btf', 'raw_tp', 'tracepoint'].find((k) => byId.get(`attach_${k}`)!.status === 'ok');
  assert.ok(best, 'some tracepoint flavour works');
  assert.match(byId.get('lifecycle_hook')!.detail, new RegExp(`via ${best}$`));
  assert.equal(report.programTypes.sched_cls, true);
  assert.equal(report.programTypes.sock_ops, true);
  assert.equal(report.mapTypes.ringbuf, true);
  assert.match(report.kernel.release, /^\d+\.\d+/);
});

test('text report names each check, gives the fix of each missing one, and ends with a verdict', async () => {
  const report = JSON.parse((await runCommand(flowscopeBin, ['doctor', '--json'])).stdout) as DoctorReport;
  const r = await runCommand(flowscopeBin, ['doctor']);
  assert.equal(r.code, 0, r.stderr);
  for (const c of report.checks.filter((c) => c.status === 'missing')) {
    assert.ok(r.stdout.includes(c.fix!), `the fix for ${c.id} is printed`);
  }
  assert.match(r.stdout, /verdict: the agent can run here/);
});

test('not root: non-zero exit, the reason and the fix', async () => {
  const r = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', flowscopeBin, 'doctor', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as DoctorReport;
  assert.equal(report.canRunAgent, false);
  assert.match(report.reasons.join('\n'), /privileges: uid 65534.*fix: run as root/);
  assert.equal(report.checks.find((c) => c.id === 'attach_sockops')?.status, 'untested');
});

test('doctor mounts tracefs when it is absent', async () => {
  // Lazily detach the current mount (in use or not), then let doctor bring it back.
  sh('umount', ['-l', '/sys/kernel/tracing'], { allowFail: true });
  try {
    assert.equal(existsSync('/sys/kernel/tracing/events'), false, 'tracefs is unmounted for the test');
    const r = await runCommand(flowscopeBin, ['doctor', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.match(report.checks.find((c) => c.id === 'tracefs')!.detail, /mounted by doctor/);
    assert.equal(report.checks.find((c) => c.id === 'attach_tracepoint')!.status, 'ok');
    assert.ok(existsSync('/sys/kernel/tracing/events'));
  } finally {
    if (!existsSync('/sys/kernel/tracing/events')) sh('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
  }
});
