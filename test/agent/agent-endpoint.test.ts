// The agent's HTTP endpoint and event stream as a user meets them: /healthz, /capabilities, errors
// for wrong paths and methods, an exposition promtool accepts, NDJSON lifecycle records that agree
// with the load generator, and nothing of ours left in the kernel after SIGTERM or SIGKILL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { tcpload, startServer, runClient } from '../support/tcpload.js';
import { loadedPrograms } from '../support/bpftool.js';
import { runCommand, sleep } from '../support/run.js';
import type { LifecycleRecord } from '../../src/model/records.js';
import type { DoctorReport } from '../../src/doctor/report.js';
import { flowscopeBin } from '../support/paths.js';

let agent: RunningAgent;
before(async () => {
  agent = await startAgent(['--output', 'ndjson']);
});
after(async () => {
  await agent.stop();
});

test('/healthz answers 200 with status ok once intervals run', async () => {
  await sleep(1500);
  const res = await fetch(`${agent.url}/healthz`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string };
  assert.equal(body.status, 'ok');
});

test('/capabilities lists the hook of each TCP group and why fallbacks were taken', async () => {
  const caps = await agent.json<{ tcp: { hooks: Array<{ group: string; hook: string | null; fallbacks: unknown[] }> }; l7: { status: string } }>('/capabilities');
  assert.equal(caps.l7.status, 'off', 'request capture is off unless --l7');
  const groups = Object.fromEntries(caps.tcp.hooks.map((h) => [h.group, h]));
  for (const g of ['lifecycle', 'snapshots', 'accept', 'resets']) assert.ok(groups[g], `group ${g} reported`);
  // The best flavour doctor's probes found working on this kernel is the one taken.
  const doctor = JSON.parse((await runCommand(flowscopeBin, ['doctor', '--json'])).stdout) as DoctorReport;
  const best = ['tp_btf', 'raw_tp', 'tracepoint'].find((k) => doctor.checks.find((c) => c.id === `attach_${k}`)?.status === 'ok');
  assert.equal(groups.lifecycle!.hook, best, 'the best hook doctor found is taken');
  assert.ok(Array.isArray(groups.lifecycle!.fallbacks));
});

test('unknown paths answer 404 naming the valid ones; other methods 405', async () => {
  const nf = await fetch(`${agent.url}/nope`);
  assert.equal(nf.status, 404);
  assert.match(await nf.text(), /\/metrics/);
  const post = await fetch(`${agent.url}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('promtool check metrics finds nothing to complain about in /metrics', async () => {
  const port = await freePort();
  const server = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
  try {
    await runClient(tcpload('fs-cli'), ['client', '127.0.0.1', String(port), '20', '1000']);
    await runClient(tcpload('fs-cli'), ['client', '127.0.0.1', String(await freePort()), '2', '10']);
    await agent.waitFor((m) => m.sum('flowscope_tcp_connections_closed_total', { port: String(port) }) === 40, 3000, 'the closes');
  } finally {
    await server.stop();
  }
  const text = await agent.text();
  assert.match(text, /flowscope_tcp_connect_failures_total\{/, 'failures present, so their series are linted too');
  assert.match(text, /flowscope_tcp_rtt_seconds_bucket\{/);
  assert.match(text, /process_resident_memory_bytes /);
  const r = await runCommand('promtool', ['check', 'metrics'], { input: text });
  assert.equal(r.code, 0, `promtool: ${r.stdout}${r.stderr}`);
  assert.equal((r.stdout + r.stderr).trim(), '', `promtool printed warnings: ${r.stdout}${r.stderr}`);
});

test('--output ndjson: one open and one close per connection with the generator\'s byte totals; refused connects as failures', async () => {
  const port = await freePort();
  const server = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
  const r = await runClient(tcpload('fs-ndj'), ['client', '127.0.0.1', String(port), '7', '1234']);
  assert.equal(r.code, 0, r.stderr);
  const closed = await freePort();
  await runClient(tcpload('fs-ndj'), ['client', '127.0.0.1', String(closed), '3', '10']);
  await server.stop();
  let records: LifecycleRecord[] = [];
  const deadline = Date.now() + 3000;
  for (;;) {
    records = agent.records<LifecycleRecord>();
    const mine = records.filter((x) => x.process === 'fs-ndj' || x.lport === port);
    if (mine.filter((x) => x.event === 'close').length >= 14 && mine.filter((x) => x.event === 'connect_failure').length >= 3) break;
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  const clientOpens = records.filter((x) => x.event === 'open' && x.role === 'client' && x.rport === port);
  const clientCloses = records.filter((x) => x.event === 'close' && x.role === 'client' && x.rport === port);
  const serverCloses = records.filter((x) => x.event === 'close' && x.role === 'server' && x.lport === port);
  const failures = records.filter((x) => x.event === 'connect_failure' && x.rport === closed);
  assert.equal(clientOpens.length, 7);
  assert.equal(clientCloses.length, 7);
  assert.equal(serverCloses.length, 7);
  for (const c of clientCloses) {
    assert.equal(c.process, 'fs-ndj');
    assert.equal(c.bytes_sent, 1234, 'payload bytes the generator wrote');
    assert.equal(c.raddr, '127.0.0.1');
    assert.ok(c.connect_ms !== undefined && c.connect_ms >= 0);
    assert.ok(c.duration_ms !== undefined && c.duration_ms >= 0);
    assert.ok(!Number.isNaN(Date.parse(c.time)));
    assert.ok(Math.abs(Date.parse(c.time) - Date.now()) < 60_000, `time ${c.time} is wall-clock time`);
  }
  for (const s of serverCloses) {
    assert.equal(s.process, 'fs-srv');
    assert.equal(s.bytes_received, 1234);
  }
  assert.equal(failures.length, 3);
  for (const f of failures) {
    assert.equal(f.reason, 'refused');
    assert.equal(f.error, 'ECONNREFUSED');
  }
});

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`after ${signal} no program of the agent remains in the kernel`, async () => {
    const before = new Set(loadedPrograms().map((p) => p.id));
    const a = await startAgent();
    const mine = loadedPrograms().filter((p) => !before.has(p.id));
    assert.ok(mine.length >= 4, `the agent loaded its programs (${mine.map((p) => p.name).join(', ')})`);
    a.proc.kill(signal);
    const code = await a.stop();
    if (signal === 'SIGTERM') assert.equal(code, 0, a.stderr());
    const deadline = Date.now() + 5000;
    let left = mine;
    while (Date.now() < deadline) {
      const now = new Set(loadedPrograms().map((p) => p.id));
      left = mine.filter((p) => now.has(p.id));
      if (left.length === 0) break;
      await sleep(100);
    }
    assert.deepEqual(left.map((p) => p.name), [], 'programs left behind');
  });
}
