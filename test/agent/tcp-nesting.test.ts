// State changes that interrupt the lifecycle program: the kernel skips the program for them (its
// recursion_misses, from bpf_prog_info) and its companion must handle every one (TC_NESTED_HANDLED,
// read from the agent's map with bpftool), whenever in the program's run they came. Loopback RPS in
// a namespace of its own makes them frequent: a packet steered to the other CPU is taken in by a
// softirq that an IPI raises there, in the middle of whatever runs, the lifecycle program included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { startAgent } from '../support/agent.js';
import { tcpload, startServer, runClient } from '../support/tcpload.js';
import { uniqueName } from '../support/netns.js';
import { programIdsHeldBy } from '../support/bpftool.js';
import { sh } from '../support/run.js';
import { repoPath } from '../../src/lib/paths.js';

interface ProgInfo {
  id: number;
  name: string;
  recursion_misses: number;
}

/** bpf_prog_info straight from the kernel (test/support/prog_info.py). */
function progInfo(ids: number[]): ProgInfo[] {
  return JSON.parse(sh('python3', [repoPath('test/support/prog_info.py'), ...ids.map(String)])) as ProgInfo[];
}

/** The program's `tcp_counters` map, summed over CPUs, by the kernel's account (bpftool). */
function tcpCounters(progId: number): number[] {
  const prog = JSON.parse(sh('bpftool', ['prog', 'show', 'id', String(progId), '-j'])) as { map_ids: number[] };
  for (const id of prog.map_ids) {
    const map = JSON.parse(sh('bpftool', ['map', 'show', 'id', String(id), '-j'])) as { name: string };
    if (map.name !== 'tcp_counters') continue;
    const entries = JSON.parse(sh('bpftool', ['map', 'dump', 'id', String(id), '-j'])) as Array<{ formatted: { key: number; values: Array<{ value: number }> } }>;
    const out: number[] = [];
    for (const e of entries) out[e.formatted.key] = e.formatted.values.reduce((n, v) => n + v.value, 0);
    return out;
  }
  throw new Error(`program ${progId} has no tcp_counters map`);
}

const TC_NESTED_HANDLED = 2;

test('churn with loopback RPS: every state change the kernel skips the lifecycle program for is handled by its companion', { skip: cpus().length < 2 ? 'one CPU: RPS has no other CPU to steer packets to' : false }, async () => {
  const ns = uniqueName('fsnest');
  const agent = await startAgent();
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const mask = ((1 << Math.min(cpus().length, 30)) - 1).toString(16);
    sh('ip', ['netns', 'exec', ns, 'sh', '-c', `echo ${mask} > /sys/class/net/lo/queues/rx-0/rps_cpus`]);
    const server = await startServer(tcpload('fs-srv'), '127.0.0.1', 7000, { netns: ns });
    let churn: { connections: number };
    try {
      const r = await runClient(tcpload('fs-churn'), ['churn', '127.0.0.1', '7000', '3', '2'], ns);
      assert.equal(r.code, 0, r.stderr);
      churn = JSON.parse(r.stdout) as { connections: number };
    } finally {
      await server.stop();
    }
    await agent.waitFor((m) => m.sum('flowscope_tcp_connections_opened_total', { port: '7000', role: 'client' }) > 0, 5000, 'the churn counted');
    const progs = progInfo([...programIdsHeldBy(agent.proc.pid!)]);
    const main = progs.find((p) => p.name === 'tcp_state_btf');
    assert.ok(main, `the lifecycle program on tp_btf among ${progs.map((p) => p.name).join(', ')}`);
    const handled = tcpCounters(main.id)[TC_NESTED_HANDLED];
    console.log(`# ${churn.connections} connections; lifecycle runs skipped by the kernel ${main.recursion_misses}, handled by the companion ${handled}`);
    assert.ok(main.recursion_misses > 0, 'the churn nested state changes in the lifecycle program (else this test proves nothing)');
    assert.equal(handled, main.recursion_misses, 'every skipped change handled, none twice');
    const m = await agent.scrape();
    assert.equal(m.sum('flowscope_agent_events_lost_total', { source: 'recursion' }), 0);
    assert.equal(m.sum('flowscope_agent_events_lost_total', { source: 'claim_evicted' }), 0);
  } finally {
    sh('ip', ['netns', 'del', ns], { allowFail: true });
    await agent.stop();
  }
});
