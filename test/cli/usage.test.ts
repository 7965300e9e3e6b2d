// Command-line mistakes: one line that says what to do, exit code 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowscopeBin } from '../support/paths.js';
import { runCommand } from '../support/run.js';

for (const args of [['--no-such-flag'], ['doctor', '--bogus'], ['no-such-command']]) {
  test(`flowscope ${args.join(' ')}: exit 2 with a one-line error`, async () => {
    const r = await runCommand(flowscopeBin, args);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0]!, /^flowscope: /);
    assert.ok(lines.length <= 2, `short: ${r.stderr}`);
  });
}

test('--help lists the commands and exits 0', async () => {
  const r = await runCommand(flowscopeBin, ['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /doctor/);
});
