// Secrets (tokens, webhook URLs, routing keys) come from files only: never from the command line
// (other users see it in ps) and never from a configuration file (it gets shared and reviewed). A
// file anyone can read is refused. Messages name the file, never what is in it.
import { readFileSync, statSync } from 'node:fs';

export class SecretError extends Error {
  override name = 'SecretError';
}

export function readSecretFile(path: string): string {
  let text: string;
  try {
    if ((statSync(path).mode & 0o004) !== 0) throw new SecretError(`${path} is readable by every user: chmod 600 ${path}`);
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if (err instanceof SecretError) throw err;
    throw new SecretError(`${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!text) throw new SecretError(`${path} is empty`);
  if (/[\r\n]/.test(text)) throw new SecretError(`${path} holds more than one line: write only the secret`);
  return text;
}

/** A secret that must be an http(s) URL (a Slack or webhook address). */
export function readSecretUrl(path: string): string {
  const text = readSecretFile(path);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SecretError(`${path} does not hold a URL (expected https://...)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SecretError(`${path} holds a ${url.protocol} URL: use http or https`);
  return text;
}

/** Replaces every secret in a text (an error message, say) before it is logged or shown. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('<secret>');
  return out;
}
