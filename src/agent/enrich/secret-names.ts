// Which names hold secrets (flags, environment variables, query parameters, headers, JSON keys) and
// which token formats are secrets on their own, wherever they stand.

/** Anywhere in a name: PGPASSWORD, keyStorePassword, client_secret, X-Amz-Credential, Set-Cookie. */
const SECRET_SUBSTRING = /pass(word|wd|phrase)|secret|credential|authori[sz]ation|cookie/;
/** Whole words of a name (split at - _ . and camelCase): MYSQL_PWD, --api-key, REDISCLI_AUTH, sig. */
const SECRET_WORDS = new Set([
  'pass', 'pwd', 'pw', 'key', 'keys', 'apikey', 'accesskey', 'privatekey', 'secretkey', 'accountkey', 'masterkey',
  'sessionkey', 'auth', 'token', 'tokens', 'sig', 'signature', 'session', 'sessionid', 'creds', 'cred', 'sas', 'otp',
  'jwt', 'bearer',
]);
/** Word endings: -storepass, -keypass, requirepass, masterauth, authtoken. */
const SECRET_ENDING = /(pass|auth|token)$/;
const NOT_SECRET_WORDS = new Set(['bypass', 'compass', 'encompass', 'askpass']);
/** A last word that says the value is not the secret itself: --password-file, --token-stdin, --auth-type. */
const NOT_A_VALUE = new Set([
  'file', 'files', 'path', 'dir', 'directory', 'stdin', 'prompt', 'env', 'fd', 'type', 'method', 'mode', 'length',
  'len', 'size', 'name', 'format', 'algorithm', 'alg', 'store', 'url', 'uri', 'endpoint', 'host', 'server', 'realm',
  'scope', 'user', 'username', 'policy', 'timeout', 'ttl', 'expiry', 'count', 'helper', 'command', 'cmd', 'program',
  'plugin', 'provider', 'version', 'header', 'lifetime', 'storage', 'required', 'enabled',
]);

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Whether the value named `name` is a secret (a flag without dashes, a variable, a parameter, a header). */
export function isSecretName(name: string): boolean {
  const w = words(name);
  if (w.length === 0) return false;
  if (NOT_A_VALUE.has(w[w.length - 1]!) || w[0] === 'no') return false;
  if (SECRET_SUBSTRING.test(name.toLowerCase())) return true;
  return w.some((x) => SECRET_WORDS.has(x) || (SECRET_ENDING.test(x) && !NOT_SECRET_WORDS.has(x)));
}

/**
 * Secrets recognised by their documented formats, wherever they appear (the whole token is replaced).
 * Sources: AWS IAM identifiers (unique ID prefixes), GitHub "About authentication" (token prefixes),
 * Slack token types, Google API keys and OAuth 2.0 access tokens, RFC 7519 (JWT), GitLab token
 * overview, Stripe API keys, npm access tokens, HashiCorp Vault token prefixes.
 */
export const TOKEN_FORMATS: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'AWS access key id', pattern: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b/g },
  { name: 'GitHub token', pattern: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g },
  { name: 'GitHub fine-grained token', pattern: /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g },
  { name: 'Slack token', pattern: /\bxox[abposre]-[A-Za-z0-9-]{10,}/g },
  { name: 'Slack app token', pattern: /\bxapp-\d-[A-Za-z0-9-]{10,}/g },
  { name: 'Google API key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g },
  { name: 'Google OAuth access token', pattern: /\bya29\.[0-9A-Za-z_-]{20,}/g },
  { name: 'JSON Web Token', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g },
  { name: 'GitLab token', pattern: /\bgl(?:pat|dt|rt|ptt|oas|cbt|imt|agent|soat|ffct)-[A-Za-z0-9_-]{20,}/g },
  { name: 'Stripe key', pattern: /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}/g },
  { name: 'npm token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { name: 'Vault token', pattern: /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/g },
  { name: 'private key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g },
];
