import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSecretName, redactArgs, redactCmdline, REDACTED } from './redact.js';
import { SECRET_SHAPES, type SecretShape } from './redact-cases.js';

const R = REDACTED;

test(`the table has at least 40 real-world command lines (${SECRET_SHAPES.length})`, () => {
  assert.ok(SECRET_SHAPES.length >= 40);
  assert.equal(new Set(SECRET_SHAPES.map((s) => s.name)).size, SECRET_SHAPES.length, 'shape names are unique');
});

for (const shape of SECRET_SHAPES) {
  test(`redaction table: ${shape.name} (${shape.source})`, () => {
    const argv = shape.argv(shape.example);
    const got = redactArgs(argv);
    assert.deepEqual(got, shape.redacted ?? shape.argv(R));
    assert.ok(!got.join(' ').includes(shape.example), `the example secret survives in ${JSON.stringify(got)}`);
  });
}

// Secrets drawn from what each shape lets a secret contain.
const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const WORD = PRINTABLE.filter((c) => !/[\s'"\\;&,#|@]/.test(c));
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'.split('');
const HEX = '0123456789ABCDEF'.split('');

function secrets(shape: SecretShape): fc.Arbitrary<{ secret: string; body: string }> {
  const plain = (unit: fc.Arbitrary<string>): fc.Arbitrary<{ secret: string; body: string }> =>
    fc
      .string({ unit, minLength: 8, maxLength: 40 })
      // A value right after a flag that starts with "--" is read as the next option (documented).
      .filter((s) => !s.startsWith('-') && s.trim() === s)
      .map((s) => ({ secret: s, body: s }));
  switch (shape.alphabet) {
    case 'printable':
      return plain(fc.constantFrom(...PRINTABLE));
    case 'word':
      return plain(fc.constantFrom(...WORD));
    case 'url':
      return plain(fc.oneof(fc.constantFrom(...UNRESERVED), fc.tuple(fc.constantFrom(...HEX), fc.constantFrom(...HEX)).map(([a, b]) => `%${a}${b}`)));
    case 'token': {
      const t = shape.token!;
      return fc
        .string({ unit: fc.constantFrom(...t.chars.split('')), minLength: t.length, maxLength: t.length })
        .map((body) => ({ secret: `${t.prefix}${body}${t.suffix ?? ''}`, body }));
    }
  }
}

for (const shape of SECRET_SHAPES) {
  test(`property: a generated secret never survives in "${shape.name}"`, () => {
    const template = shape.argv('\u0001').join('\n');
    fc.assert(
      fc.property(secrets(shape), ({ secret, body }) => {
        fc.pre(!template.includes(secret) && !template.includes(body) && !R.includes(body));
        const argv = shape.argv(secret);
        const out = redactArgs(argv);
        assert.equal(out.length, argv.length, 'one output argument per input argument');
        const joined = out.join('\n');
        assert.ok(!joined.includes(secret), `secret ${JSON.stringify(secret)} survives: ${JSON.stringify(out)}`);
        assert.ok(!joined.includes(body), `secret body ${JSON.stringify(body)} survives: ${JSON.stringify(out)}`);
        const line = redactCmdline(`${argv.join('\0')}\0`, 4096);
        assert.ok(!line.includes(body), `the joined command line keeps ${JSON.stringify(body)}: ${line}`);
      }),
      { numRuns: 150 },
    );
  });
}

test('property: any argument list is redacted without throwing, one output per input', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary-ascii', maxLength: 60 }), { maxLength: 12 }), (argv) => {
      const out = redactArgs(argv);
      assert.equal(out.length, argv.length);
      // Redacting twice changes nothing more.
      assert.deepEqual(redactArgs(out), out);
    }),
    { numRuns: 2000 },
  );
});

const ordinary: string[][] = [
  ['nginx', '-g', 'daemon off;'],
  ['python3', '-m', 'http.server', '8080', '--bind', '0.0.0.0'],
  ['node', 'server.js', '--port', '3000', '--keyboard=us', '--monkey=1'],
  ['java', '-Xmx2g', '-Dspring.profiles.active=prod', '-jar', 'app.jar'],
  ['postgres', '-D', '/var/lib/postgresql/data', '-c', 'max_connections=200'],
  ['docker', 'run', '-p', '8080:80', 'nginx:1.25'],
  ['ssh', '-p', '2222', 'admin@bastion.example.com'],
  ['redis-cli', '-h', 'cache', '-p', '6380', 'PING'],
  ['mysql', '-h', 'db', '-P', '3306', '-u', 'root', '-p', 'shop'],
  ['curl', '-fsS', '-H', 'Accept: application/json', 'https://example.com/api?page=2&per_page=50'],
  ['kubectl', 'get', 'secrets', '-n', 'kube-system'],
  ['psql', '--no-password', '-h', 'db', '-U', 'app'],
  ['docker', 'login', '--password-stdin', '-u', 'ci', 'registry.example.com'],
  ['envoy', '-c', '/etc/envoy/envoy.yaml', '--service-cluster', 'front'],
];
for (const argv of ordinary) {
  test(`ordinary command lines stay as they are: ${argv.join(' ')}`, () => assert.deepEqual(redactArgs(argv), argv));
}

const cases: Array<[string, string[], string[]]> = [
  ['--flag=value with a secret name', ['app', '--password=hunter2'], ['app', `--password=${R}`]],
  ['single dash', ['app', '-token=abc'], ['app', `-token=${R}`]],
  ['flag and separate value', ['mysql', '--password', 'hunter2', '-h', 'db'], ['mysql', '--password', R, '-h', 'db']],
  ['environment-style token', ['env', 'DB_PASSWORD=hunter2', 'AWS_SECRET_ACCESS_KEY=x', 'PATH=/bin'], ['env', `DB_PASSWORD=${R}`, `AWS_SECRET_ACCESS_KEY=${R}`, 'PATH=/bin']],
  ['api keys and tokens', ['x', '--api-key=k', '--apikey=k', '--auth-token=t', '--client_secret=s'], ['x', `--api-key=${R}`, `--apikey=${R}`, `--auth-token=${R}`, `--client_secret=${R}`]],
  ['URL with a password', ['psql', 'postgres://app:hunter2@db:5432/x'], ['psql', `postgres://app:${R}@db:5432/x`]],
  ['URL inside a non-secret flag', ['x', '--dsn=redis://u:p4ss@r:6379'], ['x', `--dsn=redis://u:${R}@r:6379`]],
  ['secret flag followed by another flag', ['x', '--token', '--verbose'], ['x', '--token', '--verbose']],
  ['a value after a secret flag may start with one dash', ['x', '--password', '-x9!'], ['x', '--password', R]],
  ['passwd and passphrase', ['x', '--passwd=a', '--ssl-passphrase=b'], ['x', `--passwd=${R}`, `--ssl-passphrase=${R}`]],
  ['a password with an unencoded @', ['x', 'mysql://root:p@ss@db/x'], ['x', `mysql://root:${R}@db/x`]],
  ['files that hold secrets are not secrets', ['x', '--password-file=/run/secrets/db', '--token-file', '/t'], ['x', '--password-file=/run/secrets/db', '--token-file', '/t']],
  ['SQL SET PASSWORD', ['mysql', '-e', "SET PASSWORD = 'n3w'"], ['mysql', '-e', `SET PASSWORD = '${R}'`]],
  ['a command after a separator inside sh -c', ['sh', '-c', 'cd /srv && sshpass -p s3cr3t ssh host'], ['sh', '-c', `cd /srv && sshpass -p ${R} ssh host`]],
];
for (const [name, input, want] of cases) {
  test(`redaction: ${name}`, () => assert.deepEqual(redactArgs(input), want));
}

test('secret names: words, camelCase and documented variables; not files, types or lookalikes', () => {
  for (const n of ['password', 'PGPASSWORD', 'MYSQL_PWD', 'REDISCLI_AUTH', 'keyStorePassword', 'storepass', 'X-Api-Key', 'Authorization', 'X-Amz-Signature', 'access_token', 'client-secret', 'sig', 'jwt', 'requirepass', 'Cookie']) {
    assert.ok(isSecretName(n), n);
  }
  for (const n of ['keyboard', 'monkey', 'PATH', 'password-file', 'token_file', 'auth-type', 'no-password', 'bypass', 'username', 'tokenizer', 'key-name']) {
    assert.ok(!isSecretName(n), n);
  }
});

test('a raw NUL-separated cmdline is joined, redacted and bounded', () => {
  assert.equal(redactCmdline('srv\0--password=hunter2\0--port\x008080\0'), `srv --password=${R} --port 8080`);
  const long = redactCmdline(`x\0${'a'.repeat(2000)}\0`, 100);
  assert.equal(long.length, 100);
  assert.ok(!redactCmdline('x\0--password\0hunter2\0').includes('hunter2'));
});

test('a secret whose last path segment names a known program is still a value, not a nested command', () => {
  // Found by the properties above (seed 1060421203): "N    /az" read as the program az.
  for (const secret of ['N    /az', 'pw/kubectl', '/usr/bin/mysql']) {
    for (const argv of [
      ['curl', '-u', `admin:${secret}`, 'https://jenkins.example.com/api/json'],
      ['curl', '--oauth2-bearer', secret, 'imaps://mail.example.com/'],
      ['redis-cli', 'AUTH', secret],
    ]) {
      const out = redactArgs(argv);
      assert.equal(out.length, argv.length);
      assert.ok(!out.join('\n').includes(secret), `${JSON.stringify(secret)} survives: ${JSON.stringify(out)}`);
    }
  }
  // Nested commands are still redacted as their own programs.
  assert.deepEqual(redactArgs(['kubectl', 'exec', 'pod', '--', 'redis-cli', '-a', 'pw2']), ['kubectl', 'exec', 'pod', '--', 'redis-cli', '-a', REDACTED]);
});
