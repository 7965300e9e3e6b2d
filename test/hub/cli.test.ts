// `flowscope hub` as users run it: refuses to listen beyond loopback without a token, serves with
// one, and its /metrics passes promtool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';
import { runCommand, waitFor } from '../support/run.js';
import { freePort } from '../support/agent.js';

const bin = repoPath('bin/flowscope');

test('the hub refuses to listen beyond loopback without a token file, and says what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-cli-'));
  try {
    const r = await runCommand(bin, ['hub', '--listen', `0.0.0.0:${await freePort()}`, '--data', dir], { timeoutMs: 30_000 });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /reaches beyond this host: give --token-file/);
    writeFileSync(join(dir, 'open-token'), 'a-token-that-is-long-enough\n', { mode: 0o644 });
    const r2 = await runCommand(bin, ['hub', '--listen', `0.0.0.0:${await freePort()}`, '--data', dir, '--token-file', join(dir, 'open-token')], { timeoutMs: 30_000 });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /readable by every user: chmod 600/);
    const r3 = await runCommand(bin, ['hub', '--retention', 'forever', '--data', dir], { timeoutMs: 30_000 });
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--retention 'forever' is not a duration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with a token the hub listens beyond loopback, requires it, and its /metrics passes promtool', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-hub-cli-'));
  const token = 'cli-test-token-0123456789';
  writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
  const p = await freePort();
  const child = spawn(bin, ['hub', '--listen', `0.0.0.0:${p}`, '--data', join(dir, 'data'), '--token-file', join(dir, 'token')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the hub exited: ${stderr}`);
        return stderr.includes('hub listening');
      },
      60_000,
      'the hub to listen',
    );
    const url = `http://127.0.0.1:${p}`;
    assert.equal((await fetch(`${url}/api/v1/graph`)).status, 401);
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const graph = await fetch(`${url}/api/v1/graph?view=pod`, auth);
    assert.equal(graph.status, 200);
    const body = (await graph.json()) as { view: string; nodes: unknown[]; edges: unknown[] };
    assert.equal(body.view, 'pod');
    assert.deepEqual([body.nodes, body.edges], [[], []]);
    const old = await fetch(`${url}/api/v1/graph?from=2020-01-01T00:00:00Z`, auth);
    assert.equal(old.status, 400, 'a window beyond the retention');
    const metrics = await (await fetch(`${url}/metrics`, auth)).text();
    assert.match(metrics, /flowscope_hub_query_duration_seconds_bucket/);
    const check = await runCommand('promtool', ['check', 'metrics'], { input: metrics, timeoutMs: 30_000 });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(stderr, /"msg":"stopping"/);
});
