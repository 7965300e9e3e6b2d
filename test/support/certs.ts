// Certificates for TLS tests, made with the openssl command line at test time: a CA, a server
// certificate for localhost/127.0.0.1 and a client certificate signed by the CA, and a second CA with a
// client certificate the first does not know. Also bcrypt hashes made by htpasswd (apache2-utils).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from './run.js';

export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA. */
  strangerCert: string;
  strangerKey: string;
  /** Makes another server certificate (same CA and names) in place of the current one; returns its serial. */
  renewServer(): string;
  serial(cert: string): string;
  remove(): void;
}

function key(path: string): void {
  sh('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

function ca(dir: string, name: string): { cert: string; key: string } {
  const k = join(dir, `${name}.key`);
  const c = join(dir, `${name}.crt`);
  key(k);
  sh('openssl', ['req', '-x509', '-new', '-key', k, '-out', c, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert: c, key: k };
}

function signed(dir: string, name: string, issuer: { cert: string; key: string }, san: string, usage: string): { cert: string; key: string } {
  const k = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const c = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  key(k);
  sh('openssl', ['req', '-new', '-key', k, '-out', csr, '-subj', `/CN=${name}`]);
  writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
  sh('openssl', ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial', '-out', c, '-days', '2', '-extfile', ext]);
  return { cert: c, key: k };
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-certs-'));
  const authority = ca(dir, 'flowscope-test-ca');
  const server = signed(dir, 'server', authority, 'DNS:localhost,IP:127.0.0.1', 'serverAuth');
  const client = signed(dir, 'scraper', authority, 'DNS:scraper.flowscope.test', 'clientAuth');
  const other = ca(dir, 'stranger-ca');
  const stranger = signed(dir, 'stranger', other, 'DNS:scraper.flowscope.test', 'clientAuth');
  const serial = (cert: string): string => sh('openssl', ['x509', '-in', cert, '-noout', '-serial']).trim().replace(/^serial=/, '');
  return {
    dir,
    caCert: authority.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
    renewServer: () => serial(signed(dir, 'server', authority, 'DNS:localhost,IP:127.0.0.1', 'serverAuth').cert),
    serial,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A bcrypt hash of `password` as htpasswd -B writes it ($2y$). */
export function bcryptHash(password: string, cost = 10): string {
  return sh('htpasswd', ['-nbBC', String(cost), 'x', password]).trim().split(':')[1]!;
}
