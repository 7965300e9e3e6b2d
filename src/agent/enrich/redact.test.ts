import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactArgs, redactCmdline, REDACTED } from './redact.js';

const R = REDACTED;
const cases: Array<[string, string[], string[]]> = [
  ['--flag=value with a secret name', ['app', '--password=hunter2'], ['app', `--password=${R}`]],
  ['single dash', ['app', '-token=abc'], ['app', `-token=${R}`]],
  ['flag and separate value', ['mysql', '--password', 'hunter2', '-h', 'db'], ['mysql', '--password', R, '-h', 'db']],
  ['environment-style token', ['env', 'DB_PASSWORD=hunter2', 'AWS_SECRET_ACCESS_KEY=x', 'PATH=/bin'], ['env', `DB_PASSWORD=${R}`, `AWS_SECRET_ACCESS_KEY=${R}`, 'PATH=/bin']],
  ['api keys and tokens', ['x', '--api-key=k', '--apikey=k', '--auth-token=t', '--client_secret=s'], ['x', `--api-key=${R}`, `--apikey=${R}`, `--auth-token=${R}`, `--client_secret=${R}`]],
  ['URL with a password', ['psql', 'postgres://app:hunter2@db:5432/x'], ['psql', `postgres://app:${R}@db:5432/x`]],
  ['URL inside a non-secret flag', ['x', '--dsn=redis://u:p4ss@r:6379'], ['x', `--dsn=redis://u:${R}@r:6379`]],
  ['ordinary flags untouched', ['nginx', '-g', 'daemon off;', '--keyboard=us', '--monkey=1'], ['nginx', '-g', 'daemon off;', '--keyboard=us', '--monkey=1']],
  ['secret flag followed by another flag', ['x', '--token', '--verbose'], ['x', '--token', '--verbose']],
  ['passwd and passphrase', ['x', '--passwd=a', '--ssl-passphrase=b'], ['x', `--passwd=${R}`, `--ssl-passphrase=${R}`]],
];

for (const [name, input, want] of cases) {
  test(`redaction: ${name}`, () => assert.deepEqual(redactArgs(input), want));
}

test('a raw NUL-separated cmdline is joined, redacted and bounded', () => {
  assert.equal(redactCmdline('srv\0--password=hunter2\0--port\x008080\0'), `srv --password=${R} --port 8080`);
  const long = redactCmdline(`x\0${'a'.repeat(2000)}\0`, 100);
  assert.equal(long.length, 100);
  assert.ok(!redactCmdline('x\0--password\0hunter2\0').includes('hunter2'));
});
