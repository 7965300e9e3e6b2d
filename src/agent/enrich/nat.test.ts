import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConntrack } from './nat.js';

test('conntrack -L lines: original and reply tuples (the reply names the real backend)', () => {
  const text = `tcp      6 86399 ESTABLISHED src=100.101.198.137 dst=100.65.61.118 sport=34940 dport=8000 src=100.101.198.147 dst=100.101.198.137 sport=8000 dport=34940 [ASSURED] mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.`;
  assert.deepEqual(parseConntrack(text), [
    {
      orig: { src: '100.101.198.137', dst: '100.65.61.118', sport: 34940, dport: 8000 },
      reply: { src: '100.101.198.147', dst: '100.101.198.137', sport: 8000, dport: 34940 },
    },
  ]);
});
