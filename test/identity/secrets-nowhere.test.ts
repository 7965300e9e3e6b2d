// Proof that nothing secret leaves the agent: a real process for every command line of the redaction
// table (its argv exactly as the manual writes it, the secret in it, another copy in its environment)
// makes real connections; with default settings and with --process-args, no secret appears in
// /metrics, /connections, /capabilities, the NDJSON records or the debug log. A control process with a
// harmless marker shows that arguments are really shown with --process-args and not by default.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';
import { SECRET_SHAPES } from '../../src/agent/enrich/redact-cases.js';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { compileC } from '../support/cbin.js';
import { connections, randomHex } from './support.js';
import { sleep } from '../support/run.js';

const CLIENT = 'fs-argv-client';
const COUNT = 2;
const MARKER = `build-${randomHex(8)}`;

interface Case {
  name: string;
  argv: string[];
  /** What must appear nowhere (the secret; for formatted tokens also their random body). */
  secrets: string[];
  port: number;
}

let defaults: RunningAgent;
let withArgs: RunningAgent;
const servers: net.Server[] = [];
let cases: Case[] = [];

/** The table's secrets made unique to this run (so that nothing else on the machine carries them). */
function uniqueSecret(i: number): { secret: string; body: string } {
  const shape = SECRET_SHAPES[i]!;
  if (shape.alphabet === 'token') {
    const t = shape.token!;
    const body = Array.from({ length: t.length }, () => t.chars[randomInt(t.chars.length)]).join('');
    return { secret: `${t.prefix}${body}${t.suffix ?? ''}`, body };
  }
  const tag = randomHex(6);
  const secret = shape.alphabet === 'url' ? `${shape.example.replace(/[^A-Za-z0-9._~-]/g, '')}${tag}` : `${shape.example}${tag}`;
  return { secret, body: secret };
}

async function listen(): Promise<number> {
  const server = net.createServer((c) => {
    c.on('error', () => undefined);
    c.end(Buffer.alloc(100));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return (server.address() as net.AddressInfo).port;
}

function run(bin: string, argv: string[], port: number, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, argv.slice(1), { argv0: argv[0], env: { ...env, FS_PORT: String(port), FS_COUNT: String(COUNT), FS_HOLD_MS: '2500' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv[0]} exited ${code}: ${out}`))));
  });
}

before(async () => {
  // The most the agent ever writes: debug logs and lifecycle records.
  const common = ['--log-level', 'debug', '--output', 'ndjson'];
  defaults = await startAgent(common);
  withArgs = await startAgent([...common, '--process-args']);
  cases = await Promise.all(
    SECRET_SHAPES.map(async (shape, i) => {
      const { secret, body } = uniqueSecret(i);
      return { name: shape.name, argv: shape.argv(secret), secrets: [...new Set([secret, body])], port: await listen() };
    }),
  );
});

after(async () => {
  await Promise.all([defaults?.stop(), withArgs?.stop()]);
  for (const s of servers) s.close();
});

test(`${SECRET_SHAPES.length} processes with secrets on their command lines (and in their environment) connect; the secrets appear nowhere the agents write`, async () => {
  const bin = compileC(CLIENT, readFileSync(repoPath('test/fixtures/argv-client.c'), 'utf8'));
  const controlPort = await listen();
  await Promise.all([
    ...cases.map((c) => run(bin, c.argv, c.port, { PATH: process.env.PATH ?? '', DB_PASSWORD: c.secrets[0]!, API_TOKEN: c.secrets[0]! })),
    run(bin, ['myapp', '--listen', ':8080', `--build-id=${MARKER}`], controlPort, { PATH: process.env.PATH ?? '' }),
  ]);

  for (const agent of [defaults, withArgs]) {
    // Every client edge is there with its closes: each process was seen by the agent.
    const deadline = Date.now() + 10_000;
    let missing: Case[] = cases;
    let edges = await connections(agent.url);
    while (Date.now() < deadline) {
      edges = await connections(agent.url);
      missing = cases.filter((c) => !edges.some((e) => e.role === 'client' && e.port === c.port && e.connections.closed === COUNT && e.local.processes.length > 0));
      if (missing.length === 0) break;
      await sleep(200);
    }
    assert.deepEqual(missing.map((c) => c.name), [], 'edges with their processes for every case');
    const metrics = await agent.text();
    const everything: Array<[string, string]> = [
      ['/metrics', metrics],
      ['/connections', JSON.stringify(await (await fetch(`${agent.url}/connections`)).json())],
      ['/capabilities', JSON.stringify(await (await fetch(`${agent.url}/capabilities`)).json())],
      ['NDJSON records', agent.stdout()],
      ['log', agent.stderr()],
    ];
    assert.ok(agent.stdout().includes(CLIENT), 'the NDJSON records name the processes (so they were written)');
    assert.ok(agent.stderr().length > 0, 'the debug log was written');
    const leaks: string[] = [];
    for (const c of cases) for (const s of c.secrets) for (const [where, text] of everything) if (text.includes(s)) leaks.push(`${c.name}: ${JSON.stringify(s)} in ${where}`);
    assert.deepEqual(leaks, [], `secrets leaked (${agent === defaults ? 'default settings' : '--process-args'})`);
    const control = edges.find((e) => e.role === 'client' && e.port === controlPort)!;
    assert.ok(control, 'the control process\'s edge');
    for (const c of cases) {
      const edge = edges.find((e) => e.role === 'client' && e.port === c.port)!;
      const p = edge.local.processes[0]!;
      assert.equal(basename(p.exe), CLIENT, `${c.name}: the process is named by its executable`);
      if (agent === defaults) {
        assert.equal(p.cmdline, undefined, `${c.name}: no argument leaves the agent by default`);
      } else {
        assert.ok(p.cmdline?.startsWith(`${c.argv[0]} `), `${c.name}: the redacted command line is shown: ${p.cmdline}`);
        assert.match(p.cmdline ?? '', /<redacted>/, c.name);
      }
    }
    const shown = control.local.processes[0]!.cmdline;
    if (agent === defaults) assert.equal(shown, undefined);
    else assert.equal(shown, `myapp --listen :8080 --build-id=${MARKER}`, 'harmless arguments are shown as they are');

    const marked = everything.filter(([, t]) => t.includes(MARKER)).map(([where]) => where);
    assert.deepEqual(marked, agent === defaults ? [] : ['/connections'], 'harmless arguments are in /connections with --process-args, and nowhere by default');
  }
});
