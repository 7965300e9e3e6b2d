import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { parseStat, parseNsPid, ProcessCache, readProcess } from './process.js';

test('stat fields are read after a command name with spaces and parentheses', () => {
  const line = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 100';
  assert.deepEqual(parseStat(line), { comm: 'my (odd) name', startTicks: 123456 });
});

test('NSpid gives the innermost pid, or the host pid outside namespaces', () => {
  assert.equal(parseNsPid('Name:\tx\nNSpid:\t5123\t1\n', 5123), 1);
  assert.equal(parseNsPid('Name:\tx\nNSpid:\t77\n', 77), 77);
  assert.equal(parseNsPid('Name:\tx\n', 9), 9);
});

test('by default a process is its executable: no argument is read', () => {
  const withSecret = spawn('/bin/sh', ['-c', 'sleep 30', 'sh', '--password=hunter2'], { stdio: 'ignore' });
  try {
    const p = new ProcessCache(4).get(withSecret.pid!)!;
    assert.match(p.exe, /(dash|bash|sh)$/);
    assert.equal(p.cmdline, undefined);
    assert.equal(p.key, p.exe);
    assert.ok(!JSON.stringify(p).includes('hunter2'));
  } finally {
    withSecret.kill('SIGKILL');
  }
});

test('with arguments asked for: exe, redacted cmdline, start time; dropped from the cache after it exits', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const withSecret = spawn('/bin/sh', ['-c', 'sleep 30', 'sh', '--password=hunter2'], { stdio: 'ignore' });
  try {
    const cache = new ProcessCache(4, '/proc', 'redacted');
    const p = cache.get(withSecret.pid!)!;
    assert.ok(p, 'found');
    assert.match(p.exe, /(dash|bash|sh)$/);
    assert.ok(p.cmdline?.includes('--password=<redacted>'), p.cmdline);
    assert.ok(!p.cmdline!.includes('hunter2'));
    assert.equal(p.nsPid, withSecret.pid);
    const started = Date.parse(p.startedAt);
    assert.ok(Math.abs(started - Date.now()) < 60_000, `start time ${p.startedAt} is about now`);
    assert.equal(cache.get(withSecret.pid!), p, 'cached');
    assert.equal(cache.stats.hits, 1);
    assert.ok(readProcess(child.pid!));
    cache.get(child.pid!);
    withSecret.kill('SIGKILL');
    await new Promise((r) => withSecret.once('exit', r));
    // Reaped by node: /proc/<pid> is gone.
    assert.equal(cache.sweep(), 1, 'the exited process is invalidated');
    assert.equal(cache.size, 1);
  } finally {
    child.kill('SIGKILL');
    withSecret.kill('SIGKILL');
  }
});

test('the cache is bounded', () => {
  const cache = new ProcessCache(2);
  cache.get(process.pid);
  cache.get(process.ppid);
  cache.get(1);
  assert.equal(cache.size, 2);
  assert.equal(cache.stats.evictedFull, 1);
});
