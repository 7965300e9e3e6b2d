import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen, parseDuration, parseCount } from './options.js';
import { UsageError } from './errors.js';

test('listen addresses', () => {
  assert.deepEqual(parseListen('127.0.0.1:9387'), { host: '127.0.0.1', port: 9387 });
  assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  assert.deepEqual(parseListen(':9387'), { host: '0.0.0.0', port: 9387 });
  assert.deepEqual(parseListen('9387'), { host: '0.0.0.0', port: 9387 });
  for (const bad of ['nope', '127.0.0.1:0', '127.0.0.1:70000', 'example.com:80', '1.2.3:80', '']) {
    assert.throws(() => parseListen(bad), UsageError, bad);
  }
});

test('durations and counts', () => {
  assert.equal(parseDuration('1s', '--interval'), 1000);
  assert.equal(parseDuration('500ms', '--interval'), 500);
  assert.equal(parseDuration('2', '--interval'), 2000);
  assert.throws(() => parseDuration('fast', '--interval'), UsageError);
  assert.throws(() => parseDuration('1ms', '--interval'), /out of range/);
  assert.equal(parseCount('10000', '--max-series'), 10000);
  assert.throws(() => parseCount('-1', '--max-series'), UsageError);
});
