// HTTP(S) requests for endpoint tests: with a CA, client certificates and basic credentials; and raw
// sockets that send what they are told and report what came back and when the server hung up.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  method?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** user:password for basic authentication. */
  auth?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  /** The name the server's certificate must carry (default localhost). */
  servername?: string;
}

export function request(url: string, o: RequestOptions = {}): Promise<Reply> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const read = (p?: string): Buffer | undefined => (p ? readFileSync(p) : undefined);
  const options: https.RequestOptions = {
    method: o.method ?? 'GET',
    host: u.hostname,
    port: u.port,
    path: `${u.pathname}${u.search}`,
    agent: false,
    headers: { ...(o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {}), ...o.headers },
    timeout: o.timeoutMs ?? 10_000,
    ...(secure ? { ca: read(o.ca), cert: read(o.cert), key: read(o.key), servername: o.servername ?? 'localhost' } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface RawExchange {
  /** Everything the server sent. */
  received: Buffer;
  /** Milliseconds from connect to the server closing the connection (undefined: still open at the end). */
  closedAfterMs?: number;
}

/** Connects, writes `chunks` (each after `gapMs`), reads until the server closes or `waitMs` passed. */
export function rawExchange(host: string, port: number, chunks: Array<string | Buffer>, o: { gapMs?: number; waitMs: number; tls?: { ca: string } }): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: net.Socket = o.tls ? tls.connect({ host, port, ca: readFileSync(o.tls.ca), servername: 'localhost' }) : net.connect({ host, port });
    const received: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(received), ...(closed ? { closedAfterMs: Date.now() - started } : {}) });
    };
    const timer = setTimeout(() => finish(false), o.waitMs);
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.once(o.tls ? 'secureConnect' : 'connect', () => {
      let i = 0;
      const next = (): void => {
        if (done || i >= chunks.length) return;
        socket.write(chunks[i++]!);
        setTimeout(next, o.gapMs ?? 0);
      };
      next();
    });
  });
}
