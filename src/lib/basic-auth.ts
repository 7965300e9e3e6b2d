// HTTP basic authentication (RFC 7617) against bcrypt hashes, as exporter-toolkit does it: a scraper
// that sends the same credentials every few seconds pays for bcrypt once (successes are cached under an
// HMAC with a per-process key, never the password itself); unknown users cost the same bcrypt as known
// ones; and bcrypt runs in worker threads, a few at a time, so a flood of wrong passwords neither
// stalls the process's main thread nor takes more than those threads' CPU.
import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { BcryptPool } from './bcrypt-pool.js';

export type AuthResult = 'ok' | 'missing' | 'wrong' | 'busy';

export interface BasicAuthOptions {
  /** bcrypt comparisons running at once; more wait. */
  maxConcurrent?: number;
  /** Comparisons waiting; beyond, requests are refused as busy (429). */
  maxWaiting?: number;
  /** Remembered successful credentials. */
  cacheSize?: number;
}

export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class BasicAuth {
  private readonly key = randomBytes(32);
  private readonly granted = new Set<string>();
  /** A hash of a password no one has, at the users' highest cost: unknown users are compared against it. */
  private dummy: Promise<string> | undefined;
  private readonly pool: BcryptPool;
  private readonly cacheSize: number;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    options: BasicAuthOptions = {},
  ) {
    this.pool = new BcryptPool(options.maxConcurrent ?? 2, options.maxWaiting ?? 32);
    this.cacheSize = options.cacheSize ?? 64;
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  async check(authorization: string | undefined): Promise<AuthResult> {
    const creds = parseBasic(authorization);
    if (!creds) return 'missing';
    const hash = this.users.get(creds.user);
    const id = createHmac('sha256', this.key).update(`${creds.user}\0${creds.password}\0${hash ?? ''}`).digest('base64');
    if (hash && this.granted.has(id)) return 'ok';
    const ok = await this.pool.compare(creds.password, hash ?? (await this.dummyHash()));
    if (ok === undefined) return 'busy';
    if (!ok || !hash) return 'wrong';
    if (this.granted.size >= this.cacheSize) this.granted.delete(this.granted.values().next().value!);
    this.granted.add(id);
    return 'ok';
  }

  private dummyHash(): Promise<string> {
    const cost = Math.max(4, ...[...this.users.values()].map((h) => bcrypt.getRounds(h)));
    this.dummy ??= this.pool.hash(randomBytes(18).toString('base64'), cost);
    return this.dummy;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
