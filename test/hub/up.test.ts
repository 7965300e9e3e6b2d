// `flowscope up` on this host: the hub and the agent together; it prints where to go, and the
// connections made on this host appear joined (client and server side) with the client's count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { runCommand, waitFor } from '../support/run.js';

test('flowscope up runs the hub and the agent: this host\'s connections joined, with the client\'s count', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-up-'));
  const [hubPort, agentPort, serverPort] = [await freePort(), await freePort(), await freePort()];
  const server = spawn('python3', ['-m', 'http.server', String(serverPort), '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const up = spawn(flowscopeBin, ['up', '--data', dir, '--hub-listen', `127.0.0.1:${hubPort}`, '--listen', `127.0.0.1:${agentPort}`, '--no-flows', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  up.stdout.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await waitFor(() => out.includes('flowscope is up'), 60_000, `flowscope up to say where to go (stderr: ${err})`);
    assert.match(out, new RegExp(`open http://127\\.0\\.0\\.1:${hubPort}/`));
    assert.match(out, /1 of 1 node\(s\) reporting/);
    assert.match(out, /attached: TCP lifecycle (tp_btf|raw_tp|tracepoint), .*; flows off/, 'the status says what the agent attached');
    for (let i = 0; i < 15; i++) {
      const r = await runCommand('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${serverPort}/`], { timeoutMs: 10_000 });
      assert.equal(r.stdout, '200');
    }
    const edge = await waitFor(
      async () => {
        const g = (await (await fetch(`http://127.0.0.1:${hubPort}/api/v1/graph?view=process&from=-5m&filter=port=${serverPort}`)).json()) as { edges: Array<{ source: string; target: string; connections: number; sides: string[] }> };
        const e = g.edges.find((x) => x.source.endsWith('/curl') && x.target.endsWith('/python3'));
        return e && e.connections === 15 && e.sides.length === 2 ? e : undefined;
      },
      30_000,
      'the 15 connections, joined',
    );
    assert.deepEqual(edge?.sides, ["client", "server"]);
  } finally {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
