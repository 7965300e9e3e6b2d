// Each supported attach type, on the real kernel: load, attach, count events the test triggers, detach.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dgram from 'node:dgram';
import { BpfObject, codec } from '../../src/bpf/index.js';
import { layout, AttachCounter } from '../gen/attach.gen.js';
import { testObject } from '../support/paths.js';
import { getppidNr, callGetppid } from '../support/syscalls.js';
import { createVethNamespace } from '../support/netns.js';
import { compileC } from '../support/cbin.js';
import { sh, runCommand } from '../support/run.js';
import { loadedProgramIds } from '../support/bpftool.js';

const OBJ = testObject('attach');

function openAttach(globals: Record<string, number> = {}): BpfObject {
  return BpfObject.load(OBJ, { layout, globals: { targ_tgid: process.pid, targ_syscall_nr: getppidNr(), ...globals } });
}

function counter(obj: BpfObject, idx: number): number {
  return obj.map('counters', codec.u32, codec.u64).get(idx) ?? -1;
}

async function tcpConnects(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.end());
      s.on('close', () => resolve());
      s.on('error', reject);
    });
  }
}

describe('tracing attach types count exactly what the test triggers', () => {
  const cases = [
    { prog: 'count_tracepoint', idx: AttachCounter.COUNT_TRACEPOINT, attach: (o: BpfObject) => o.program('count_tracepoint').attach() },
    { prog: 'count_raw_tp', idx: AttachCounter.COUNT_RAW_TP, attach: (o: BpfObject) => o.program('count_raw_tp').attachRawTracepoint('sys_enter') },
    { prog: 'count_tp_btf', idx: AttachCounter.COUNT_TP_BTF, attach: (o: BpfObject) => o.program('count_tp_btf').attachTrace() },
  ];
  for (const c of cases) {
    test(`${c.prog}: 1,000 getppid() calls give 1,000`, () => {
      const obj = openAttach();
      try {
        const link = c.attach(obj);
        callGetppid(1000);
        link.destroy();
        callGetppid(50); // after detach: not counted
        assert.equal(counter(obj, c.idx), 1000);
      } finally {
        obj.close();
      }
    });
  }

  test('per-key, batch and iteration reads agree with the number triggered', () => {
    const obj = openAttach();
    try {
      obj.program('count_tracepoint').attach();
      callGetppid(777);
      const perTgid = obj.map('per_tgid', codec.u32, codec.u64);
      assert.equal(perTgid.get(process.pid), 777, 'per-key lookup');
      const batch = perTgid.entries();
      assert.equal(perTgid.mode, 'batch');
      assert.deepEqual(batch, [[process.pid, 777]], 'batch lookup');
      perTgid.mode = 'iterate';
      assert.deepEqual(perTgid.entries(), [[process.pid, 777]], 'iteration');
      const drained = perTgid.entries({ drain: true });
      assert.deepEqual(drained, [[process.pid, 777]], 'batch lookup-and-delete');
      assert.equal(perTgid.entries().length, 0, 'drained map is empty');
    } finally {
      obj.close();
    }
  });
});

test('sockops on the cgroup v2 root sees each of 200 TCP connects', async () => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const obj = openAttach({ targ_port: port });
  try {
    const link = obj.program('count_sockops').attachCgroup();
    assert.match(link.description, /sockops on cgroup \//);
    await tcpConnects(port, 200);
    assert.equal(counter(obj, AttachCounter.COUNT_SOCKOPS), 200);
  } finally {
    obj.close();
    server.close();
  }
});

test('cgroup_skb egress on the cgroup v2 root sees each of 500 UDP datagrams', async () => {
  const receiver = dgram.createSocket('udp4');
  await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', () => r()));
  receiver.setRecvBufferSize(4 << 20); // 500 datagrams must not overflow the receive queue
  const port = receiver.address().port;
  let received = 0;
  receiver.on('message', () => received++);
  const obj = openAttach({ targ_port: port });
  const sender = dgram.createSocket('udp4');
  try {
    obj.program('count_cgroup_skb').attachCgroup();
    for (let i = 0; i < 500; i++) await new Promise<void>((r, j) => sender.send('x', port, '127.0.0.1', (e) => (e ? j(e) : r())));
    const deadline = Date.now() + 2000;
    while (received < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(received, 500, 'the receiver got every datagram');
    assert.equal(counter(obj, AttachCounter.COUNT_CGROUP_SKB), 500);
  } finally {
    obj.close();
    sender.close();
    receiver.close();
  }
});

describe('TC classifier on a veth: chained with what is there, never replacing it', () => {
  const veth = createVethNamespace();
  after(() => veth.destroy());
  const port = 40000 + Math.floor(Math.random() * 10000);

  async function sendFromNamespace(n: number): Promise<void> {
    const script = `const s=require('dgram').createSocket('udp4');let i=0;const go=()=>{if(i++>=${n})return s.close();s.send('x',${port},'${veth.hostAddr}',go)};go();`;
    const r = await runCommand('ip', ['netns', 'exec', veth.ns, process.execPath, '-e', script]);
    assert.equal(r.code, 0, r.stderr);
  }

  for (const mode of ['tcx', 'legacy'] as const) {
    test(`${mode}: a second program after an existing one; both count all 300 packets`, async () => {
      const standIn = openAttach({ targ_port: port });
      const ours = openAttach({ targ_port: port });
      try {
        const first = standIn.program('count_tc').attachTc({ interface: veth.host, direction: 'ingress', mode, priority: mode === 'legacy' ? 1 : undefined });
        const second = ours.program('count_tc').attachTc({ interface: veth.host, direction: 'ingress', mode });
        if (mode === 'legacy') {
          const filters = sh('tc', ['filter', 'show', 'dev', veth.host, 'ingress']);
          assert.match(filters, /pref 1 bpf/, 'the existing filter is still there');
          assert.match(filters, new RegExp(`pref ${second.tcPriority} bpf`), 'ours is chained after it');
          assert.ok(second.tcPriority > first.tcPriority);
        } else {
          // bpftool 7.1 predates tcx: it lists the links as type 11 (BPF_LINK_TYPE_TCX) with their program.
          const tcxLinks = (JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as Array<{ type: number | string; prog_id: number }>)
            .filter((l) => l.type === 11 || l.type === 'tcx')
            .map((l) => l.prog_id);
          for (const o of [standIn, ours]) assert.ok(tcxLinks.includes(o.program('count_tc').stats().id), 'both tcx links exist');
          assert.notEqual(first.fd, second.fd);
        }
        await sendFromNamespace(300);
        assert.equal(counter(standIn, AttachCounter.COUNT_TC), 300, 'the program already there still sees every packet');
        assert.equal(counter(ours, AttachCounter.COUNT_TC), 300, 'ours sees every packet');
        second.destroy();
        await sendFromNamespace(10);
        assert.equal(counter(standIn, AttachCounter.COUNT_TC), 310, 'detaching ours leaves the other working');
        assert.equal(counter(ours, AttachCounter.COUNT_TC), 300);
      } finally {
        ours.close();
        standIn.close();
      }
      if (mode === 'legacy') assert.doesNotMatch(sh('tc', ['filter', 'show', 'dev', veth.host, 'ingress']), /bpf/, 'no filter left behind');
    });
  }
});

test('uprobe on a function of a real binary counts each of 1,000 calls', async () => {
  const bin = compileC(
    'uprobe_target',
    `#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int flowscope_uprobe_target(int x) { __asm__ volatile(""); return x + 1; }
int main(int argc, char **argv) { int n = atoi(argv[1]); long s = 0; for (int i = 0; i < n; i++) s += flowscope_uprobe_target(i); printf("%ld\\n", s); return 0; }
`,
  );
  const obj = openAttach();
  try {
    obj.program('count_uprobe').attachUprobe({ binary: bin, function: 'flowscope_uprobe_target' });
    const r = await runCommand(bin, ['1000']);
    assert.equal(r.code, 0);
    assert.equal(counter(obj, AttachCounter.COUNT_UPROBE), 1000);
  } finally {
    obj.close();
  }
});

describe('nothing of ours remains in the kernel after the process ends', () => {
  const veth = createVethNamespace();
  after(() => veth.destroy());

  for (const ending of ['exit', 'SIGTERM', 'SIGINT'] as const) {
    test(`after ${ending}: no program, link or TC filter left`, async () => {
      const child = await import('node:child_process');
      const proc = child.spawn(process.execPath, [new URL('../support/attach-all.js', import.meta.url).pathname, veth.host, ending], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const { ids, links } = await new Promise<{ ids: number[]; links: number }>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line) as { ids: number[]; links: number });
        });
        proc.on('exit', () => reject(new Error(`child exited before attaching: ${err}`)));
      });
      assert.equal(ids.length, 7, 'seven programs loaded');
      assert.equal(links, 8, 'eight links (the TC program twice: legacy egress, tcx ingress)');
      const live = loadedProgramIds();
      for (const id of ids) assert.ok(live.has(id), `program ${id} is loaded while the child runs`);
      assert.match(sh('tc', ['filter', 'show', 'dev', veth.host, 'egress']), /bpf/, 'legacy TC filter attached while the child runs');
      if (ending !== 'exit') proc.kill(ending);
      const code = await new Promise<number | null>((r) => proc.on('close', (c) => r(c)));
      assert.equal(code, ending === 'exit' ? 0 : ending === 'SIGTERM' ? 143 : 130, err);
      const after = loadedProgramIds();
      for (const id of ids) assert.ok(!after.has(id), `program ${id} is gone`);
      assert.doesNotMatch(sh('tc', ['filter', 'show', 'dev', veth.host, 'egress']), /bpf/, 'no TC filter left');
      const linksLeft = JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as Array<{ prog_id: number }>;
      for (const id of ids) assert.ok(!linksLeft.some((l) => l.prog_id === id), `no link of program ${id} left`);
    });
  }
});
