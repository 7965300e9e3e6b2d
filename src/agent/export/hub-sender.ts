// Sends the agent's batches to the hub: gzip-compressed frames (wire/frames.ts; JSON to a hub that
// does not take them), oldest first, several per request
// when catching up. While the hub is away, batches wait in a bounded buffer (the oldest are
// dropped, and counted, when it is full) and requests are retried with exponential backoff and
// full jitter. A batch is resent as it was (same run and seq), so the hub applies it once.
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { Agent, fetch } from 'undici';
import { columnarBatch, decodeFrames, encodeFrame, frameMessage, FRAMES_CONTENT_TYPE, plainColumns, recordBatch, type BatchV1, type ColumnarBatchV1, type HelloV1, type TypedTcpColumns } from '../../model/wire/index.js';

export interface HubSenderOptions {
  /** The hub's base URL, e.g. http://hub:4040. */
  url: string;
  token?: string;
  /** For an https:// hub: the CA that signed its certificate, and a client certificate. */
  tls?: HubTls;
  basicAuth?: { user: string; password: string };
  hello: () => HelloV1;
  log: Logger;
  /** Compressed bytes kept while the hub is away (default 64 MiB). */
  maxBufferBytes?: number;
  /** Batches per request when catching up (default 32). */
  maxBatchesPerRequest?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  /**
   * TCP records as columns (wire v1's tcp_columns: cheaper for the hub; default). A hub that does
   * not know them refuses the batch naming `tcp`: the sender then sends records from then on.
   */
  tcpColumns?: boolean;
  /**
   * Batches as frames (wire/frames.ts: JSON header, TCP columns in binary; cheaper for the hub;
   * default with tcpColumns). A hub that does not know them answers 415: the sender then sends
   * JSON from then on, its buffered batches too.
   */
  frames?: boolean;
  /** For tests. */
  random?: () => number;
}

export interface HubTls {
  /** PEM: the certificate(s) to trust instead of the system's. */
  ca?: string;
  cert?: string;
  key?: string;
}

export interface HubSenderStats {
  sent: number;
  requests: number;
  failedRequests: number;
  /** Batches dropped because the buffer was full (oldest first). */
  dropped: number;
  /** Batches the hub refused as malformed or too large (not retried). */
  rejected: number;
  buffered: number;
  bufferedBytes: number;
  /** When the hub last accepted a request, ms (0: never). */
  lastSuccessMs: number;
}

interface Queued {
  seq: number;
  gz: Buffer;
}

/** While stopping, retries come this often. */
const FLUSH_RETRY_MS = 200;

const OPEN = gzipSync('[');
const COMMA = gzipSync(',');
const CLOSE = gzipSync(']');

export class HubSender {
  private readonly queue: Queued[] = [];
  private bytes = 0;
  private needHello = true;
  private running = false;
  private wake: (() => void) | undefined;
  private interrupt: (() => void) | undefined;
  /** Stopping: what is left is sent now, retried at short intervals. */
  private flushing = false;
  private sleeping: NodeJS.Timeout | undefined;
  private attempt = 0;
  private perRequest: number;
  private loop: Promise<void> | undefined;
  readonly stats: HubSenderStats = { sent: 0, requests: 0, failedRequests: 0, dropped: 0, rejected: 0, buffered: 0, bufferedBytes: 0, lastSuccessMs: 0 };
  private readonly endpoint: string;
  private readonly maxBufferBytes: number;
  private readonly random: () => number;
  private readonly dispatcher: Agent;
  private readonly authorization: string | undefined;
  private columns: boolean;
  private frames: boolean;
  /** Connection problems already logged (by code): each is told once, then at debug level. */
  private readonly told = new Set<string>();

  constructor(private readonly o: HubSenderOptions) {
    this.endpoint = `${o.url.replace(/\/+$/, '')}/api/v1/ingest`;
    this.dispatcher = new Agent({ connect: { ...(o.tls?.ca ? { ca: o.tls.ca } : {}), ...(o.tls?.cert ? { cert: o.tls.cert, key: o.tls.key } : {}) } });
    this.authorization = o.token ? `Bearer ${o.token}` : o.basicAuth ? `Basic ${Buffer.from(`${o.basicAuth.user}:${o.basicAuth.password}`).toString('base64')}` : undefined;
    this.maxBufferBytes = o.maxBufferBytes ?? 64 << 20;
    this.perRequest = o.maxBatchesPerRequest ?? 32;
    this.random = o.random ?? Math.random;
    this.columns = o.tcpColumns ?? true;
    this.frames = this.columns && (o.frames ?? true);
  }

  /** Whether batches go as frames (false after a hub refused them). */
  get sendsFrames(): boolean {
    return this.frames;
  }

  /** Whether batches go with their TCP records as columns (false after a hub refused them). */
  get sendsColumns(): boolean {
    return this.columns;
  }

  /** The next request starts with a hello again (what it says changed). */
  renewHello(): void {
    this.needHello = true;
  }

  /** Queues a batch (compressed now); drops the oldest when over the buffer's bound. */
  enqueue(batch: BatchV1): void {
    const gz = this.frames ? gzipSync(encodeFrame(columnarBatch(batch))) : gzipSync(JSON.stringify(this.columns ? columnarBatch(batch) : batch));
    this.queue.push({ seq: batch.seq, gz });
    this.bytes += gz.length;
    this.trim();
    this.wake?.();
  }

  /** Drops the oldest batches while over the buffer's bound (counted). */
  private trim(): void {
    while (this.bytes > this.maxBufferBytes && this.queue.length > 1) {
      const old = this.queue.shift()!;
      this.bytes -= old.gz.length;
      this.stats.dropped++;
    }
    this.updateStats();
  }

  private updateStats(): void {
    this.stats.buffered = this.queue.length;
    this.stats.bufferedBytes = this.bytes;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after trying, for at most `flushMs`, to send what is buffered (retrying at once, without backoff). */
  async stop(flushMs = 5_000): Promise<void> {
    const deadline = Date.now() + flushMs;
    this.flushing = true;
    if (this.sleeping) clearTimeout(this.sleeping);
    this.interrupt?.();
    while (this.queue.length && Date.now() < deadline && this.running) await new Promise((r) => setTimeout(r, 50));
    if (this.queue.length) this.o.log.warn({ batches: this.queue.length }, 'stopping with batches the hub has not taken: they are lost');
    this.running = false;
    this.wake?.();
    if (this.sleeping) clearTimeout(this.sleeping);
    this.interrupt?.();
    await this.loop;
    await this.dispatcher.close().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const ok = await this.sendOnce();
      if (ok) {
        this.attempt = 0;
        continue;
      }
      // Full jitter: a random wait up to the exponential bound, so restarted hubs are not stampeded.
      const bound = this.flushing ? FLUSH_RETRY_MS : Math.min(this.o.maxBackoffMs ?? 30_000, (this.o.initialBackoffMs ?? 500) * 2 ** this.attempt);
      this.attempt = Math.min(this.attempt + 1, 30);
      // New batches do not cut the wait short (that would retry every interval); stop() does.
      await new Promise<void>((resolve) => {
        this.sleeping = setTimeout(resolve, Math.floor(this.random() * bound));
        this.interrupt = resolve;
      });
      this.interrupt = undefined;
    }
  }

  /** One request with the oldest batches; true when it moved forward (sent, or refused for good). */
  private async sendOnce(): Promise<boolean> {
    const batch = this.queue.slice(0, this.perRequest);
    const frames = this.frames;
    const parts: Buffer[] = [];
    if (frames) {
      // Frames follow one another: no brackets or commas.
      if (this.needHello) parts.push(gzipSync(encodeFrame(this.o.hello())));
      for (const q of batch) parts.push(q.gz);
    } else {
      parts.push(OPEN);
      if (this.needHello) parts.push(gzipSync(JSON.stringify(this.o.hello())), COMMA);
      batch.forEach((q, i) => parts.push(...(i ? [COMMA, q.gz] : [q.gz])));
      parts.push(CLOSE);
    }
    const body = Buffer.concat(parts);
    const headers: Record<string, string> = { 'content-type': frames ? FRAMES_CONTENT_TYPE : 'application/json', 'content-encoding': 'gzip' };
    if (this.authorization) headers.authorization = this.authorization;
    this.stats.requests++;
    let status: number;
    let text = '';
    try {
      const res = await fetch(this.endpoint, { method: 'POST', headers, body, dispatcher: this.dispatcher, signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      this.stats.failedRequests++;
      this.unreachable(err as Error);
      return false;
    }
    if (status === 200) {
      this.told.clear();
      this.needHello = false;
      this.take(batch.length);
      this.stats.sent += batch.length;
      this.stats.lastSuccessMs = Date.now();
      this.perRequest = this.o.maxBatchesPerRequest ?? 32;
      return true;
    }
    this.stats.failedRequests++;
    if (status === 409) {
      // The hub does not know this run (its state is new): hello, then the same batches again.
      this.needHello = true;
      return true;
    }
    if (status === 415 && frames) {
      this.o.log.warn('the hub does not take frames (an older hub): sending JSON');
      this.asJson();
      return true;
    }
    if (status === 400 && this.columns && refusedColumns(text)) {
      this.o.log.warn('the hub does not take TCP records as columns (an older hub): sending records');
      this.asRecords();
      return true;
    }
    if (status === 413 || status === 400) {
      if (batch.length > 1) {
        // Find the one at fault: send one at a time.
        this.perRequest = 1;
        return true;
      }
      this.take(1);
      this.stats.rejected++;
      this.o.log.error({ status, seq: batch[0]!.seq, error: text.slice(0, 500) }, 'the hub refused a batch; it is dropped');
      return true;
    }
    if (status === 401 || status === 403) this.o.log.error({ status }, `the hub refused ${this.o.basicAuth ? 'the credentials (--hub-basic-auth-file)' : this.o.token ? 'the token (--hub-token-file)' : 'to take batches without credentials (--hub-token-file or --hub-basic-auth-file)'}; batches stay buffered`);
    else this.o.log.warn({ status, error: text.slice(0, 200) }, 'the hub did not accept the batches; will retry');
    return false;
  }

  /** Why the hub could not be reached: a certificate problem is an error with its fix (once), the rest a retry. */
  private unreachable(err: Error): void {
    const cause = (err as Error & { cause?: NodeJS.ErrnoException }).cause;
    const code = cause?.code ?? err.name;
    const tls = /CERT|SIGNATURE|VERIFY|SELF_SIGNED|ALTNAME|SSL|TLS|ISSUER/i.test(code);
    if (!this.told.has(code)) {
      this.told.add(code);
      if (tls) this.o.log.error({ code, err: cause?.message ?? err.message }, "the hub's certificate is not trusted or does not name it: give the CA that signed it with --hub-ca-file, and a hub URL with a name the certificate holds; batches stay buffered");
      else this.o.log.warn({ code, err: cause?.message ?? err.message, buffered: this.queue.length }, 'hub unreachable; will retry');
      return;
    }
    this.o.log.debug({ code, buffered: this.queue.length }, 'hub unreachable; will retry');
  }

  /** Sends JSON (TCP records as columns) from now on, the buffered batches too (encoded again). */
  private asJson(): void {
    this.frames = false;
    for (const q of this.queue) {
      const [frame] = decodeFrames(gunzipSync(q.gz));
      const b = frameMessage(frame!) as ColumnarBatchV1;
      const gz = gzipSync(JSON.stringify({ ...b, tcp_columns: plainColumns(b.tcp_columns as unknown as TypedTcpColumns) }));
      this.bytes += gz.length - q.gz.length;
      q.gz = gz;
    }
    this.trim();
  }

  /** Sends records from now on, the buffered batches too (encoded again). */
  private asRecords(): void {
    this.columns = false;
    this.frames = false;
    for (const q of this.queue) {
      const b = JSON.parse(gunzipSync(q.gz).toString('utf8')) as BatchV1 | ColumnarBatchV1;
      const gz = 'tcp_columns' in b && b.tcp_columns ? gzipSync(JSON.stringify(recordBatch(b as ColumnarBatchV1))) : q.gz;
      this.bytes += gz.length - q.gz.length;
      q.gz = gz;
    }
    // Records take more room than columns: the buffer's bound still holds.
    this.trim();
  }

  private take(n: number): void {
    for (const q of this.queue.splice(0, n)) this.bytes -= q.gz.length;
    this.updateStats();
  }
}

/** Whether a 400's answer is a hub's that wants the records (`tcp`) and does not read `tcp_columns`. */
function refusedColumns(answer: string): boolean {
  try {
    const field = (JSON.parse(answer) as { field?: unknown }).field;
    return typeof field === 'string' && /(^|[.\]])tcp$/.test(field);
  } catch {
    return false;
  }
}
