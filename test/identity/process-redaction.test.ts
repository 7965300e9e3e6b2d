// Process identity on real connections, and redaction: a server and a client started with
// --password=hunter2 are named by exe and (with --process-args) command line, and "hunter2" appears
// nowhere the agent writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { nodeClient, nodeServer, waitForEdge } from './support.js';

let agent: RunningAgent;
before(async () => {
  // debug logs and NDJSON output: the most the agent ever writes.
  agent = await startAgent(['--log-level', 'debug', '--output', 'ndjson', '--process-args']);
});
after(async () => {
  await agent.stop();
});

test('a client and a server started with --password=hunter2: exe, redacted cmdline, start time, pids; the secret is nowhere', async () => {
  const port = await freePort();
  const server = await nodeServer(undefined, undefined, '127.0.0.1', port, ['--password=hunter2', '--token', 'hunter2']);
  try {
    // The client stays alive past the agent's next interval: a process read from /proc after it exited
    // (a zombie not yet reaped) has no exe or command line left to report.
    await nodeClient(undefined, undefined, '127.0.0.1', port, 5, ['--password=hunter2', 'DB_PASSWORD=hunter2'], 1500);
    const client = await waitForEdge(agent.url, (e) => e.role === 'client' && e.port === port && e.connections.closed === 5, 3000, 'the client edge');
    const srv = await waitForEdge(agent.url, (e) => e.role === 'server' && e.port === port && e.connections.closed === 5, 3000, 'the server edge');
    for (const [edge, pid] of [
      [client, undefined],
      [srv, server.proc.pid],
    ] as const) {
      assert.equal(edge.local.processes.length, 1, JSON.stringify(edge.local));
      const p = edge.local.processes[0]!;
      assert.equal(p.exe, process.execPath, 'exe is the node binary');
      assert.match(p.cmdline, /--password=<redacted>/);
      assert.ok(Math.abs(Date.parse(p.startedAt) - Date.now()) < 60_000, `start time ${p.startedAt}`);
      assert.equal(p.nsPid, p.pid, 'no pid namespace: in-container pid = host pid');
      if (pid) assert.equal(p.pid, pid);
    }
    assert.match(srv.local.processes[0]!.cmdline, /--token <redacted>/);
    assert.match(client.local.processes[0]!.cmdline, /DB_PASSWORD=<redacted>/);
    const everything = [
      await agent.text(),
      JSON.stringify(await agent.json('/connections')),
      JSON.stringify(await agent.json('/capabilities')),
      agent.stdout(),
      agent.stderr(),
    ].join('\n');
    assert.ok(agent.stdout().length > 0, 'NDJSON records were written');
    assert.ok(!everything.includes('hunter2'), 'hunter2 appears in no metric, JSON, NDJSON record or log line');
  } finally {
    await server.stop();
  }
});
