import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonWriter } from './json-writer.js';

const written = (f: (w: JsonWriter) => void): string => {
  const w = new JsonWriter();
  f(w);
  return Buffer.concat(w.finish()).toString();
};

test('numbers are written as JSON.stringify writes them, around every digit-count boundary', () => {
  const values = [0, 1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 1e15 - 1, 1e15, 2 ** 53, 0.5, 1.25, -1, -0.5, NaN, Infinity];
  for (let d = 1; d <= 16; d++) values.push(10 ** d - 1, 10 ** d, 10 ** d + 1);
  for (let i = 0; i < 2000; i++) values.push(Math.floor(Math.random() * 2 ** (1 + (i % 52))));
  const text = written((w) => values.forEach((v, i) => (i ? w.raw(',') : w).number(v)));
  assert.equal(text, values.map((v) => JSON.stringify(v)).join(','));
});

test('seconds keep nine decimals at most, trailing zeros dropped', () => {
  const cases: Array<[number, string]> = [[0, '0'], [1, '1'], [0.5, '0.5'], [0.000000001, '0.000000001'], [1.2345678912, '1.234567891'], [12.1, '12.1'], [0.0001005, '0.0001005']];
  for (const [v, want] of cases) assert.equal(written((w) => w.secondsOrNull(v)), want, String(v));
  assert.equal(written((w) => w.secondsOrNull(null)), 'null');
});
