// Mistakes on the agent's command line: one line that says what to do; exit 2 for usage, 1 for
// run-time failures (a port already taken).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { flowscopeBin } from '../support/paths.js';
import { runCommand } from '../support/run.js';

const cases: Array<[string, string[], RegExp]> = [
  ['an unknown flag', ['agent', '--no-such-flag'], /unknown option '--no-such-flag'/],
  ['a --listen without a port', ['agent', '--listen', '127.0.0.1'], /--listen '127.0.0.1' is not an address: use HOST:PORT/],
  ['a --listen with a host name', ['agent', '--listen', 'localhost:99999'], /--listen 'localhost:99999'/],
  ['a bad --interval', ['agent', '--interval', 'soon'], /--interval/],
  ['a --max-series of zero', ['agent', '--max-series', '0'], /--max-series/],
  ['an unknown --output', ['agent', '--output', 'xml'], /--output 'xml' is not a format: use ndjson/],
  ['an unknown hook', ['agent', '--hooks', 'lifecycle=kprobe'], /--hooks/],
];

for (const [what, args, message] of cases) {
  test(`agent with ${what}: exit 2 and one line saying what to do`, async () => {
    const r = await runCommand(flowscopeBin, args);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0]!, /^flowscope: /);
    assert.match(r.stderr, message);
    assert.ok(lines.length <= 2, `short: ${r.stderr}`);
  });
}

test('agent as a user without privileges: exit 2, says to run as root or which capabilities it needs', async () => {
  const r = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', flowscopeBin, 'agent']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^flowscope: agent must run as root .*CAP_BPF/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('agent on a port another process holds: exit 1 and names the port and the way out', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const r = await runCommand(flowscopeBin, ['agent', '--listen', `127.0.0.1:${port}`, '--log-level', 'silent']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`flowscope: cannot listen on 127.0.0.1:${port}: the port is in use .*--listen`));
  } finally {
    holder.close();
  }
});
