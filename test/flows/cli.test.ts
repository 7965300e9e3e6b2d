// The flow flags of `flowscope agent`: wrong values are usage errors (exit 2) that say what to use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand } from '../support/run.js';
import { flowscopeBin } from '../support/paths.js';

for (const [args, message] of [
  [['--flows', 'xml'], /--flows 'xml' is not a format: use ndjson/],
  [['--flow-tc-mode', 'fast'], /--flow-tc-mode 'fast': use auto, tcx or legacy/],
  [['--flow-interfaces', '(['], /--flow-interfaces: Invalid regular expression/],
  [['--ipfix', 'collector'], /--ipfix 'collector' is not a collector address: use IP:PORT/],
  [['--no-flows', '--ipfix', '127.0.0.1:4739'], /--ipfix needs flows/],
  [['--flows', 'ndjson', '--output', 'ndjson'], /both write to stdout/],
  [['--max-flows', '0'], /--max-flows '0' must be a whole number/],
] as const) {
  test(`agent ${args.join(' ')}: exit 2 with a clear message`, async () => {
    const r = await runCommand(flowscopeBin, ['agent', '--listen', '127.0.0.1:1', ...args], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  });
}
