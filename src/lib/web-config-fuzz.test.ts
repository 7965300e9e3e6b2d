// Fuzzing --web.config.file (fast-check): any text is read or refused with a WebConfigError whose
// problems each name the file and line; nothing else is ever thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseWebConfig, WebConfigError } from './web-config.js';

const KEYS = ['tls_server_config', 'cert_file', 'key_file', 'client_ca_file', 'client_auth_type', 'min_version', 'max_version', 'cipher_suites', 'curve_preferences', 'http_server_config', 'headers', 'http2', 'basic_auth_users', 'auth_excluded_paths', 'X-Frame-Options', 'prometheus'];

const shaped: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), tie('object'), fc.array(tie('value'), { maxLength: 3 })),
  object: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }),
})).object;

test('any text as a web configuration: read, or a WebConfigError naming file and line for each problem', () => {
  const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), shaped.map((v) => stringify(v)), fc.constantFrom('*a', '&a [*a, *a]', 'basic_auth_users: {a: *b}', 'tls_server_config: !!binary x'));
  fc.assert(
    fc.property(text, (t) => {
      try {
        const c = parseWebConfig(t, '/nonexistent/web.yml');
        assert.ok(c.users instanceof Map);
      } catch (err) {
        if (!(err instanceof WebConfigError)) throw new Error(`not a WebConfigError: ${(err as Error).stack}`);
        assert.ok(err.problems.length > 0);
        for (const p of err.problems) assert.match(p, /^\/nonexistent\/web\.yml:\d+:\d+: ./, p);
      }
    }),
    { numRuns: 5000 },
  );
});
