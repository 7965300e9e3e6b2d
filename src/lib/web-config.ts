// --web.config.file: TLS and basic authentication for an HTTP endpoint, in the Prometheus
// exporter-toolkit format (docs/web-configuration.md of prometheus/exporter-toolkit), so that the files
// and scrape configurations written for node_exporter work unchanged. Validated when read: each
// problem names the file, line, column and field, and says how to fix it.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { documentValue, fieldName, position, type FieldPath } from './yaml-position.js';

export class WebConfigError extends Error {
  override name = 'WebConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid web configuration:\n  ${problems.join('\n  ')}`);
  }
}

export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'RequireClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
type TlsVersionName = keyof typeof TLS_VERSIONS;

/** Go's cipher suite names (crypto/tls CipherSuites) → OpenSSL's, for TLS 1.2 and below. */
const CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};
/** TLS 1.3 suites: accepted (Go lists them) but not configurable, as in Go. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };
const HEADERS = ['Content-Security-Policy', 'X-Frame-Options', 'X-Content-Type-Options', 'X-XSS-Protection', 'Strict-Transport-Security'] as const;
/** bcrypt in modular crypt format: $2a$, $2b$, $2y$ (htpasswd -B), cost, 22 salt + 31 hash characters. */
const BCRYPT = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;
const HASH_HINT = `hash it with: htpasswd -nBC 10 "" | tr -d ':\\n'`;

const oneOf = (values: readonly string[]): string => `must be one of ${values.join(', ')}`;
const schema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert: z.string().optional(),
      key: z.string().optional(),
      client_ca: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      client_auth_type: z.enum(CLIENT_AUTH_TYPES, { error: oneOf(CLIENT_AUTH_TYPES) }).optional(),
      client_ca_file: z.string().optional(),
      client_allowed_sans: z.array(z.string()).optional(),
      min_version: z.enum(Object.keys(TLS_VERSIONS) as [TlsVersionName], { error: oneOf(Object.keys(TLS_VERSIONS)) }).optional(),
      max_version: z.enum(Object.keys(TLS_VERSIONS) as [TlsVersionName], { error: oneOf(Object.keys(TLS_VERSIONS)) }).optional(),
      cipher_suites: z.array(z.string()).optional(),
      prefer_server_cipher_suites: z.boolean().optional(),
      curve_preferences: z.array(z.enum(Object.keys(CURVES) as [string], { error: oneOf(Object.keys(CURVES)) })).optional(),
    })
    .nullish(),
  http_server_config: z
    .strictObject({
      http2: z.boolean().optional(),
      headers: z.strictObject(Object.fromEntries(HEADERS.map((h) => [h, z.string().optional()])) as Record<(typeof HEADERS)[number], z.ZodOptional<z.ZodString>>).optional(),
    })
    .nullish(),
  basic_auth_users: z.record(z.string(), z.string({ error: `must be a bcrypt hash (a string); ${HASH_HINT}` })).nullish(),
  auth_excluded_paths: z.array(z.string().startsWith('/', { error: 'must be a path starting with /' })).nullish(),
});
type RawWebConfig = z.infer<typeof schema>;

export interface TlsSettings {
  /** Files to read again when they change (certificate rotation). */
  files: { cert?: string; key?: string; clientCa?: string };
  /** Inline PEM from the configuration. */
  inline: { cert?: string; key?: string; clientCa?: string };
  clientAuth: ClientAuthType;
  clientAllowedSans: string[];
  minVersion: (typeof TLS_VERSIONS)[TlsVersionName];
  maxVersion: (typeof TLS_VERSIONS)[TlsVersionName];
  /** OpenSSL cipher list for TLS 1.2 and below, when configured. */
  ciphers?: string;
  ecdhCurve?: string;
  honorCipherOrder: boolean;
}

export interface WebConfig {
  file: string;
  tls?: TlsSettings;
  /** user name → bcrypt hash; empty: no authentication. */
  users: ReadonlyMap<string, string>;
  headers: Readonly<Record<string, string>>;
  authExcludedPaths: readonly string[];
}

/** Reads and validates a web configuration file, and the certificates it names. */
export function loadWebConfig(file: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WebConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseWebConfig(text, file);
}

export function parseWebConfig(text: string, file: string): WebConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (path: FieldPath, atKey = false): string => `${file}:${position(doc, lines, path, atKey)}: ${fieldName(path)}`;
  if (doc.errors.length) {
    throw new WebConfigError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `${file}:${line}:${col}: YAML syntax: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const js = documentValue(doc, lines, file);
  if ('problem' in js) throw new WebConfigError(file, [js.problem]);
  const parsed = schema.safeParse(js.value ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => `${at([...i.path.map(String), k], true)}: ${i.path.join('.') === 'http_server_config.headers' ? `is not a header this format sets (${HEADERS.join(', ')})` : 'unknown field (see the exporter-toolkit web configuration format)'}`)
        : [`${at(i.path as FieldPath)}: ${i.message}`],
    );
    throw new WebConfigError(file, problems);
  }
  const problems: string[] = [];
  const config = build(parsed.data, file, at, problems);
  checkHeaders(parsed.data, at, problems);
  if (problems.length) throw new WebConfigError(file, problems);
  return config;
}

function build(raw: RawWebConfig, file: string, at: (path: FieldPath, atKey?: boolean) => string, problems: string[]): WebConfig {
  const users = new Map<string, string>();
  for (const [user, hash] of Object.entries(raw.basic_auth_users ?? {})) {
    const where = at(['basic_auth_users', user]);
    if (!user || user.includes(':')) problems.push(`${where}: a user name is not empty and has no ':' (RFC 7617)`);
    else if (!BCRYPT.test(hash)) problems.push(`${where}: is not a bcrypt hash (passwords are never written in clear); ${HASH_HINT}`);
    else users.set(user, hash);
  }
  const tls = tlsSettings(raw.tls_server_config ?? undefined, dirname(file), at, problems);
  return {
    file,
    ...(tls ? { tls } : {}),
    users,
    headers: Object.fromEntries(Object.entries(raw.http_server_config?.headers ?? {}).filter(([, v]) => v !== '')) as Record<string, string>,
    authExcludedPaths: raw.auth_excluded_paths ?? [],
  };
}

/** Values the format restricts (as exporter-toolkit checks them). */
function checkHeaders(raw: RawWebConfig, at: (path: FieldPath) => string, problems: string[]): void {
  const h = raw.http_server_config?.headers ?? {};
  const xfo = h['X-Frame-Options'];
  if (xfo && !/^(deny|sameorigin)$/i.test(xfo)) problems.push(`${at(['http_server_config', 'headers', 'X-Frame-Options'])}: must be deny or sameorigin`);
  const xcto = h['X-Content-Type-Options'];
  if (xcto && xcto.toLowerCase() !== 'nosniff') problems.push(`${at(['http_server_config', 'headers', 'X-Content-Type-Options'])}: must be nosniff`);
}

type RawTls = NonNullable<RawWebConfig['tls_server_config']>;

function tlsSettings(t: RawTls | undefined, baseDir: string, at: (path: FieldPath) => string, problems: string[]): TlsSettings | undefined {
  if (!t) return undefined;
  const f = (p: string | undefined): string | undefined => (p === undefined || p === '' ? undefined : isAbsolute(p) ? p : join(baseDir, p));
  const files = { cert: f(t.cert_file), key: f(t.key_file), clientCa: f(t.client_ca_file) };
  const inline = { cert: t.cert || undefined, key: t.key || undefined, clientCa: t.client_ca || undefined };
  const clientAuth = t.client_auth_type ?? 'NoClientCert';
  // As in exporter-toolkit: a section with nothing in it means plain HTTP.
  if (!files.cert && !files.key && !inline.cert && !inline.key && !files.clientCa && !inline.clientCa && !t.client_auth_type) return undefined;
  const both = (a: string | undefined, b: string | undefined, fa: string, fb: string): void => {
    if (a && b) problems.push(`${at(['tls_server_config', fb])}: give either ${fa} (inline PEM) or ${fb} (a path), not both`);
  };
  both(inline.cert, files.cert, 'cert', 'cert_file');
  both(inline.key, files.key, 'key', 'key_file');
  both(inline.clientCa, files.clientCa, 'client_ca', 'client_ca_file');
  if (!files.cert && !inline.cert) problems.push(`${at(['tls_server_config', 'cert_file'])}: missing: TLS needs the server's certificate (cert_file: server.crt)`);
  if (!files.key && !inline.key) problems.push(`${at(['tls_server_config', 'key_file'])}: missing: TLS needs the certificate's private key (key_file: server.key)`);
  const hasCa = Boolean(files.clientCa || inline.clientCa);
  if (hasCa && clientAuth === 'NoClientCert') problems.push(`${at(['tls_server_config', 'client_ca_file'])}: a client CA without a client_auth_type that asks for certificates: set client_auth_type: RequireAndVerifyClientCert`);
  if (!hasCa && (clientAuth === 'RequireAndVerifyClientCert' || clientAuth === 'VerifyClientCertIfGiven')) {
    problems.push(`${at(['tls_server_config', 'client_auth_type'])}: ${clientAuth} verifies client certificates: give the CA that signs them with client_ca_file`);
  }
  if (t.client_allowed_sans?.length && clientAuth !== 'RequireAndVerifyClientCert') {
    problems.push(`${at(['tls_server_config', 'client_allowed_sans'])}: needs client_auth_type: RequireAndVerifyClientCert (names of unverified certificates prove nothing)`);
  }
  const minVersion = TLS_VERSIONS[t.min_version ?? 'TLS12'];
  const maxVersion = TLS_VERSIONS[t.max_version ?? 'TLS13'];
  if ((t.min_version ?? 'TLS12') > (t.max_version ?? 'TLS13')) problems.push(`${at(['tls_server_config', 'min_version'])}: is above max_version`);
  const ciphers: string[] = [];
  (t.cipher_suites ?? []).forEach((c, i) => {
    if (CIPHERS[c]) ciphers.push(CIPHERS[c]);
    else if (!TLS13_SUITES.includes(c)) problems.push(`${at(['tls_server_config', 'cipher_suites', i])}: unknown cipher suite '${c}': use Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`);
  });
  const settings: TlsSettings = {
    files,
    inline,
    clientAuth,
    clientAllowedSans: t.client_allowed_sans ?? [],
    minVersion,
    maxVersion,
    // TLS 1.3 suites stay as OpenSSL has them, as in Go (they are not configurable there).
    ...(ciphers.length ? { ciphers: [...ciphers, ...TLS13_SUITES].join(':') } : {}),
    ...(t.curve_preferences?.length ? { ecdhCurve: t.curve_preferences.map((c) => CURVES[c]).join(':') } : {}),
    honorCipherOrder: t.prefer_server_cipher_suites ?? true,
  };
  if (problems.length === 0) {
    try {
      createSecureContext(secureContextOptions(settings));
    } catch (err) {
      problems.push(`${at(['tls_server_config'])}: ${(err as Error).message}`);
    }
  }
  return settings;
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${field} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Options for tls.createSecureContext / https.createServer, with the files read now (call again after a change). */
export function secureContextOptions(s: TlsSettings): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const cert = s.inline.cert ?? readPem(s.files.cert!, 'cert_file');
  const key = s.inline.key ?? readPem(s.files.key!, 'key_file');
  const ca = s.inline.clientCa ?? (s.files.clientCa ? readPem(s.files.clientCa, 'client_ca_file') : undefined);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const m = (err as Error).message;
    throw new Error(/mismatch/i.test(m) ? `key_file does not belong to cert_file (${m})` : `the certificate or key cannot be used: ${m}`);
  }
  return {
    cert,
    key,
    ...(ca ? { ca } : {}),
    minVersion: s.minVersion,
    maxVersion: s.maxVersion,
    ...(s.ciphers ? { ciphers: s.ciphers } : {}),
    ...(s.ecdhCurve ? { ecdhCurve: s.ecdhCurve } : {}),
    honorCipherOrder: s.honorCipherOrder,
    requestCert: s.clientAuth !== 'NoClientCert',
    rejectUnauthorized: s.clientAuth === 'RequireAndVerifyClientCert',
  };
}
