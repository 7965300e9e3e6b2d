// Serves a request handler the way an endpoint on every node must be served: TLS and basic
// authentication from a --web.config.file (exporter-toolkit format), or plain HTTP without it; limits on
// headers, bodies, connections and time (slow clients are cut off at every stage: TLS handshake,
// headers, request, response); refusals counted by reason. Routing stays with the caller.
import http from 'node:http';
import https from 'node:https';
import { statSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { BasicAuth, type AuthResult } from './basic-auth.js';
import { secureContextOptions, type TlsSettings, type WebConfig } from './web-config.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Whether only this host can reach the address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

export interface HttpLimits {
  /** Request line and headers together; beyond: 431. */
  maxHeaderBytes: number;
  /** Request body (0: none, the endpoint only serves GET and HEAD); beyond: 413. */
  maxBodyBytes: number;
  /** From connection to the TLS handshake's end. */
  handshakeTimeoutMs: number;
  /** From connection (or the previous request) to the end of the headers. */
  headersTimeoutMs: number;
  /** From connection to the end of the request body. */
  requestTimeoutMs: number;
  /** From the request to the last byte of the response: a client that reads too slowly is cut off. */
  responseTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Connections at once; more are closed as they arrive. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: HttpLimits = {
  maxHeaderBytes: 8192,
  maxBodyBytes: 0,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  responseTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
};

export type Refusal = 'tls_handshake' | 'client_certificate' | 'unauthenticated' | 'wrong_credentials' | 'auth_busy' | 'body_too_large' | 'slow_response';

export interface ServeOptions {
  listen: ListenAddress;
  /** From --web.config.file; none: plain HTTP without authentication. */
  web?: WebConfig;
  limits?: Partial<HttpLimits>;
  log: Logger;
  /** The flag that sets the address, for errors (--listen, --web.listen-address). */
  listenFlag?: string;
  /** Methods the handler serves; others get 405 (default GET and HEAD). */
  methods?: readonly string[];
  /** Paths whose responses last as long as the client wants (event streams): no response timeout. */
  untimedPaths?: readonly string[];
}

export interface Endpoint {
  server: http.Server | https.Server;
  tls: boolean;
  /** Requests and connections refused, by reason (for a self-metric). */
  refused: ReadonlyMap<Refusal, number>;
  limits: HttpLimits;
  close(): Promise<void>;
}

/** Reads a request body, refusing (with 413) one larger than `max` bytes. */
export async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new BodyTooLargeError(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export class BodyTooLargeError extends Error {
  constructor(readonly max: number) {
    super(`request body larger than ${max} bytes`);
  }
}

export async function serve(handler: http.RequestListener, o: ServeOptions): Promise<Endpoint> {
  const limits = { ...DEFAULT_LIMITS, ...o.limits };
  const refused = new Map<Refusal, number>();
  const refuse = (r: Refusal): void => void refused.set(r, (refused.get(r) ?? 0) + 1);
  const web = o.web;
  const auth = new BasicAuth(web?.users ?? new Map());
  const excluded = new Set(web?.authExcludedPaths ?? []);
  const methods = o.methods ?? ['GET', 'HEAD'];
  const common = { maxHeaderSize: limits.maxHeaderBytes, connectionsCheckingInterval: 1000, requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs };

  const untimed = new Set(o.untimedPaths ?? []);

  const gate: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!untimed.has(path)) {
      const timer = setTimeout(() => {
        refuse('slow_response');
        cutOff(req.socket);
      }, limits.responseTimeoutMs);
      res.once('close', () => clearTimeout(timer));
    }
    for (const [k, v] of Object.entries(web?.headers ?? {})) res.setHeader(k, v);
    const pass = (): void => {
      if (!methods.includes(req.method ?? '')) {
        res.writeHead(405, { allow: methods.join(', '), 'content-type': 'text/plain', connection: 'close' }).end(`method not allowed: use ${methods.join(' or ')}\n`);
        return;
      }
      const length = Number(req.headers['content-length'] ?? 0);
      if (!(length <= limits.maxBodyBytes) || (limits.maxBodyBytes === 0 && req.headers['transfer-encoding'] !== undefined)) {
        refuse('body_too_large');
        res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end(`request body too large (at most ${limits.maxBodyBytes} bytes)\n`);
        return;
      }
      try {
        handler(req, res);
      } catch (err) {
        o.log.error({ err }, 'request handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
        else res.destroy();
      }
    };
    // Credentials first: without them, nothing about the endpoint is told (not even its methods).
    if (!auth.enabled || excluded.has(path)) return pass();
    void auth.check(req.headers.authorization).then((r) => (r === 'ok' ? pass() : deny(res, r, refuse)));
  };

  const server = web?.tls ? https.createServer({ ...secureContextOptions(web.tls), ...common, handshakeTimeout: limits.handshakeTimeoutMs }, gate) : http.createServer(common, gate);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // Sockets with no traffic at all for a request's time (a stalled reader, a silent peer).
  server.timeout = limits.requestTimeoutMs;
  if (web?.tls) guardTls(server as https.Server, web.tls, refuse, o.log);

  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: NodeJS.ErrnoException): void => reject(listenError(o.listen, err, o.listenFlag ?? '--listen'));
    server.once('error', onListenError);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
  server.on('error', (err) => o.log.error({ err }, `HTTP server on ${formatListen(o.listen)}: ${err.message}`));
  if (auth.enabled && !web?.tls && !isLoopback(o.listen.host)) {
    o.log.warn(`basic authentication without TLS on ${formatListen(o.listen)}: passwords cross the network in clear; add tls_server_config to ${web?.file}`);
  }
  return {
    server,
    tls: Boolean(web?.tls),
    refused,
    limits,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await auth.close();
    },
  };
}

/** Closes with a reset: a plain close would leave the kernel sending what is queued to a peer that does not read. */
function cutOff(socket: Socket): void {
  const raw = (socket as Socket & { _parent?: Socket })._parent ?? socket;
  try {
    raw.resetAndDestroy();
  } catch {
    raw.destroy();
  }
  socket.destroy();
}

function deny(res: http.ServerResponse, r: Exclude<AuthResult, 'ok'>, refuse: (r: Refusal) => void): void {
  if (r === 'busy') {
    refuse('auth_busy');
    res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('too many authentication attempts at once; try again\n');
    return;
  }
  refuse(r === 'missing' ? 'unauthenticated' : 'wrong_credentials');
  res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="flowscope", charset="UTF-8"' }).end('Unauthorized\n');
}

/** Client-certificate policies Node's options do not express, handshake failures counted, and certificates read again when their files change. */
function guardTls(server: https.Server, tls: TlsSettings, refuse: (r: Refusal) => void, log: Logger): void {
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    refuse('tls_handshake');
    log.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const why = clientCertificateProblem(socket, tls);
    if (why) {
      refuse('client_certificate');
      log.debug({ remote: socket.remoteAddress }, `client refused: ${why}`);
      socket.destroy();
    }
  });
  const files = [tls.files.cert, tls.files.key, tls.files.clientCa].filter((f): f is string => f !== undefined);
  if (files.length === 0) return;
  const stamp = (): string =>
    files
      .map((f) => {
        try {
          const s = statSync(f);
          return `${s.mtimeMs}:${s.size}`;
        } catch {
          return 'missing';
        }
      })
      .join(',');
  let seen = stamp();
  let checked = Date.now();
  server.on('connection', (_socket: Socket) => {
    if (Date.now() - checked < 1000) return;
    checked = Date.now();
    const now = stamp();
    if (now === seen) return;
    try {
      server.setSecureContext(secureContextOptions(tls));
      seen = now;
      log.info('TLS certificate files changed: new connections use them');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'TLS certificate files changed but cannot be used; keeping the previous ones');
    }
  });
}

function clientCertificateProblem(socket: TLSSocket, tls: TlsSettings): string | undefined {
  const cert = socket.getPeerCertificate();
  const given = cert && Object.keys(cert).length > 0;
  switch (tls.clientAuth) {
    case 'RequireAnyClientCert':
    case 'RequireClientCert':
      if (!given) return 'no client certificate';
      break;
    case 'VerifyClientCertIfGiven':
      if (given && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
      break;
    default:
      break;
  }
  if (tls.clientAllowedSans.length) {
    const sans = (cert?.subjectaltname ?? '').split(/,\s*/).map((s) => s.slice(s.indexOf(':') + 1));
    if (!sans.some((s) => tls.clientAllowedSans.includes(s))) return `client certificate names (${cert?.subjectaltname ?? 'none'}) are not in client_allowed_sans`;
  }
  return undefined;
}

export function listenError(listen: ListenAddress, err: NodeJS.ErrnoException, flag = '--listen'): Error {
  const where = formatListen(listen);
  switch (err.code) {
    case 'EADDRINUSE':
      return new Error(`cannot listen on ${where}: the port is in use by another process (find it with: ss -ltnp 'sport = :${listen.port}'); stop it or choose another address with ${flag}`);
    case 'EADDRNOTAVAIL':
      return new Error(`cannot listen on ${where}: no interface of this host has that address; use one it has (ip -br addr) or 0.0.0.0 with ${flag}`);
    case 'EACCES':
      return new Error(`cannot listen on ${where}: permission denied; choose a port above 1023 with ${flag}`);
    default:
      return new Error(`cannot listen on ${where}: ${err.message}`);
  }
}
