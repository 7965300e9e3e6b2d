// --web.config.file in the exporter-toolkit format: files people write for node_exporter are read as
// they are; every mistake is named with its line, column and field and how to fix it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadWebConfig, WebConfigError } from '../../src/lib/web-config.js';
import { bcryptHash, makeCertificates, type TestCertificates } from '../support/certs.js';

let certs: TestCertificates;
let hash: string;
before(() => {
  certs = makeCertificates();
  hash = bcryptHash('s3cret-scrape');
});
after(() => certs.remove());

let n = 0;
function file(text: string): string {
  const path = join(certs.dir, `web-${++n}.yml`);
  writeFileSync(path, text);
  return path;
}

function problems(text: string): string[] {
  try {
    loadWebConfig(file(text));
  } catch (err) {
    assert.ok(err instanceof WebConfigError, String(err));
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

test("node_exporter's documented example loads: TLS from relative paths, bcrypt users, headers", () => {
  // Relative paths are relative to the file, as in exporter-toolkit.
  const path = file(`# web-config.yml
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS12
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: ${hash}
`);
  const c = loadWebConfig(path);
  assert.equal(c.tls?.files.cert, certs.serverCert);
  assert.equal(c.tls?.minVersion, 'TLSv1.2');
  assert.equal(c.tls?.ecdhCurve, 'X25519:P-256');
  assert.match(c.tls?.ciphers ?? '', /^ECDHE-ECDSA-AES128-GCM-SHA256:/);
  assert.equal(c.users.get('prometheus'), hash);
  assert.deepEqual(c.headers, { 'X-Frame-Options': 'deny', 'X-Content-Type-Options': 'nosniff' });
});

test('basic authentication alone (no TLS section) is plain HTTP with users; an empty file is allowed', () => {
  const c = loadWebConfig(file(`basic_auth_users:\n  prom: ${hash}\n`));
  assert.equal(c.tls, undefined);
  assert.equal(c.users.size, 1);
  assert.equal(loadWebConfig(file('')).users.size, 0);
});

const bad: Array<[string, string, RegExp]> = [
  ['an unknown field, with its line', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_versoin: TLS12\n', /web-\d+\.yml:4:3: tls_server_config\.min_versoin: unknown field/],
  ['a TLS version that does not exist', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS1.2\n', /:4:16: tls_server_config\.min_version: must be one of TLS10, TLS11, TLS12, TLS13/],
  ['a client auth type that does not exist', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireCert\n', /tls_server_config\.client_auth_type: must be one of NoClientCert, .*RequireAndVerifyClientCert/],
  ['a password in clear instead of a bcrypt hash', 'basic_auth_users:\n  prom: hunter2\n', /:2:9: basic_auth_users\.prom: is not a bcrypt hash .*htpasswd -nBC 10/],
  ['a certificate without its key', 'tls_server_config:\n  cert_file: server.crt\n', /tls_server_config\.key_file: missing/],
  ['a client CA without a policy that asks for certificates', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: flowscope-test-ca.crt\n', /client_ca_file: .*client_auth_type: RequireAndVerifyClientCert/],
  ['verification without a CA', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n', /client_auth_type: RequireAndVerifyClientCert verifies client certificates: give the CA/],
  ['a certificate file that does not exist', 'tls_server_config:\n  cert_file: nowhere.crt\n  key_file: server.key\n', /tls_server_config: cannot read cert_file .*nowhere\.crt: ENOENT/],
  ['a key that belongs to another certificate', 'tls_server_config:\n  cert_file: server.crt\n  key_file: scraper.key\n', /tls_server_config: key_file does not belong to cert_file/],
  ['an unknown cipher suite', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n', /cipher_suites\[0\]: unknown cipher suite 'TLS_RSA_WITH_RC4_128_SHA'/],
  ['a header the format does not set', 'http_server_config:\n  headers:\n    Server: flowscope\n', /http_server_config\.headers\.Server: is not a header this format sets/],
  ['a wrong X-Frame-Options value', 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n', /X-Frame-Options: must be deny or sameorigin/],
  ['YAML that does not parse', 'tls_server_config:\n  cert_file: [unclosed\n', /YAML syntax/],
  ['a list where a mapping belongs', '- tls_server_config\n', /\(top level\): /],
];
for (const [name, text, want] of bad) {
  test(`refused with a clear error: ${name}`, () => {
    const p = problems(text);
    assert.ok(p.some((x) => want.test(x)), `no problem matches ${want}:\n${p.join('\n')}`);
  });
}
