// One POST to a receiver: JSON body, a timeout, and errors that say what went wrong without the
// address (webhook URLs carry their secret in the path) or anything else secret.
import { redact } from '../../../lib/secret-file.js';

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    /** HTTP status, when there was an answer. */
    readonly status?: number,
    /** Seconds the receiver asked us to wait (Retry-After on 429). */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface PostOptions {
  url: string;
  body: unknown;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** Secrets that must not appear in an error. */
  secrets: readonly string[];
}

export async function postJson(o: PostOptions): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'flowscope-hub', ...o.headers },
      body: JSON.stringify(o.body),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs / 1000}s` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new DeliveryError(redact(`request failed: ${why}`, [o.url, ...o.secrets]));
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 300) {
    const retry = Number(res.headers.get('retry-after'));
    throw new DeliveryError(redact(`the receiver answered ${res.status}: ${text.slice(0, 200).replace(/\s+/g, ' ')}`, [o.url, ...o.secrets]), res.status, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return { status: res.status, text };
}
