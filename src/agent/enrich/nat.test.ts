import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newEntries, parseConntrack, tupleKey } from './nat.js';

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

test('a watched edge counts each conntrack entry of its (source, dialled address, port) once, across dumps', () => {
  const entry = (sport: number, backend: string) => ({ orig: { src: '10.0.0.2', dst: '10.96.0.10', sport, dport: 80 }, reply: { src: backend, dst: '10.0.0.2', sport: 8080, dport: sport } });
  const other = { orig: { src: '10.0.0.3', dst: '10.96.0.10', sport: 1, dport: 80 }, reply: { src: '10.1.0.1', dst: '10.0.0.3', sport: 8080, dport: 1 } };
  const w = { src: '10.0.0.2', dst: '10.96.0.10', dport: 80, seen: new Set([tupleKey(entry(40000, 'x').orig)]) };
  const first = newEntries([entry(40000, '10.1.0.1'), entry(40001, '10.1.0.1'), entry(40002, '10.1.0.2'), other], w);
  assert.deepEqual(first.fresh.map((e) => e.orig.sport), [40001, 40002], 'the sample looked up already is not counted again; other sources are not this edge');
  // Next dump: 40000 gone from the table, 40001 and 40002 still there, one new.
  const second = newEntries([entry(40001, '10.1.0.1'), entry(40002, '10.1.0.2'), entry(40003, '10.1.0.2')], { ...w, seen: first.seen });
  assert.deepEqual(second.fresh.map((e) => e.orig.sport), [40003]);
  assert.deepEqual([...second.seen].length, 3);
});
