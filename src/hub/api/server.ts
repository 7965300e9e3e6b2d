// The hub's HTTP server: the query API, the agents' ingest, the stream, /metrics, /healthz, the
// OpenAPI document, and the UI's static files at / (or a short text page naming the API).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { writeGzip } from '../../lib/gzip-parallel.js';
import { releaseJson } from '../../lib/json-writer.js';
import type { Logger } from 'pino';
import { wire } from '../../model/index.js';
import type { HubMetrics } from '../metrics.js';
import { Filter, FilterError } from '../graph/filter.js';
import { parseView, ViewError } from '../graph/views.js';
import { ApiError, badRequest } from './params.js';
import { decodeBody, decompressBody, parseFrames, parseMessages, readBody, type BodyLimits } from './ingest-http.js';
import { framesEncoding } from '../ingest/stored-body.js';
import { RawJson, type Queries } from './queries.js';
import type { StreamHub } from './stream.js';
import type { AcceptResult } from '../ingest/pipeline.js';
import type { BatchIn, HelloIn } from '../ingest/schema.js';

export interface ApiOptions {
  queries: Queries;
  stream: StreamHub;
  metrics: HubMetrics;
  log: Logger;
  /** Bearer token required on the API, ingest and /metrics (none: open, for loopback only). */
  token?: string;
  /** Applies agents' messages (absent with the Prometheus store: agents are scraped, not heard). */
  ingest?: (messages: Array<HelloIn | BatchIn>, raw: { body: Buffer; encoding: string }) => Promise<AcceptResult>;
  status: () => Promise<unknown>;
  openapi: () => unknown;
  limits: BodyLimits;
  /** The UI's built files (dist/web); absent: / names the API. */
  webDir?: string;
  /** More of the API (alerts, silences): an answer, or undefined when the path is not theirs. */
  extra?: (req: IncomingMessage, url: URL) => Promise<{ status: number; body: unknown } | undefined>;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
/** The UI runs no inline script and talks to nothing but this hub. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Answers from this size on are compressed for clients that accept gzip. */
const GZIP_FROM_BYTES = 8192;
/** Fast compression: most of the size goes at level 1, at a fraction of the default's time. */
const GZIP_LEVEL = 1;

/** Whether Accept-Encoding allows gzip (q=0 refuses it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const item of header.split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    if (name !== 'gzip' && name !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  }
  return false;
}

const ROOT_PAGE = `flowscope hub

The UI is not built here (dist/web is absent). The API:
  GET  /api/openapi.json        the OpenAPI document
  GET  /api/v1/graph            ?view=process|container|pod|workload|service|namespace|node|zone|label:KEY&from=&to=&filter=
  GET  /api/v1/neighbourhood    ?node=ID&hops=N&view=
  GET  /api/v1/search           ?q=
  GET  /api/v1/breakdown        ?edge=ID&by=version|pod|node|zone|image|process|port
  GET  /api/v1/diff             ?from=&to=&baseline_from=&baseline_to=&view=
  GET  /api/v1/history          ?edge=ID|node=ID&metric=&step=
  GET  /api/v1/stream           server-sent events
  GET  /api/v1/status           agents and store
  POST /api/v1/ingest           agents' batches (wire v1)
  GET  /metrics                 the hub's own metrics
`;

/** The hub's request handler; `serve()` (src/lib/http-listen.ts) listens with it, over TLS when configured. */
export function createApiHandler(o: ApiOptions): http.RequestListener {
  const tokenDigest = o.token ? digest(o.token) : undefined;
  const authorized = (req: IncomingMessage): boolean => {
    if (!tokenDigest) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!.trim()), tokenDigest);
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, req?: IncomingMessage): void => {
    const parts = body instanceof RawJson ? body.parts : [Buffer.from(JSON.stringify(body))];
    let length = 0;
    for (const p of parts) length += p.length;
    const headers = { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', vary: 'accept-encoding' };
    if (req && length >= GZIP_FROM_BYTES && acceptsGzip(req.headers['accept-encoding'])) {
      // Compressed in parallel on libuv's threads (large graphs are tens of MB).
      res.writeHead(status, { ...headers, 'content-encoding': 'gzip' });
      writeGzip(parts, res, GZIP_LEVEL).then(
        () => releaseJson(parts),
        () => res.destroy(),
      );
      return;
    }
    res.writeHead(status, { ...headers, 'content-length': length });
    for (let i = 0; i < parts.length - 1; i++) res.write(parts[i]);
    res.end(parts[parts.length - 1]);
    if (body instanceof RawJson) res.once('close', () => res.writableFinished && releaseJson(parts));
  };
  const sendError = (res: ServerResponse, err: ApiError): void => sendJson(res, err.status, err.field ? { error: err.message, field: err.field } : { error: err.message });

  const queries: Record<string, (q: URLSearchParams) => Promise<unknown>> = {
    '/api/v1/graph': (q) => o.queries.graph(q),
    '/api/v1/neighbourhood': (q) => o.queries.neighbourhood(q),
    '/api/v1/search': (q) => o.queries.search(q),
    '/api/v1/breakdown': (q) => o.queries.breakdown(q),
    '/api/v1/diff': (q) => o.queries.diff(q),
    '/api/v1/history': (q) => o.queries.history(q),
    '/api/v1/status': () => o.status(),
    '/api/openapi.json': async () => o.openapi(),
  };

  const handleIngest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!o.ingest) throw new ApiError(404, 'this hub reads a Prometheus-compatible store (--prometheus): agents are scraped there, not sent here');
    const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    const frames = type === wire.FRAMES_CONTENT_TYPE;
    if (type !== 'application/json' && !frames) throw new ApiError(415, `content-type: '${type}' is not supported: send application/json or ${wire.FRAMES_CONTENT_TYPE} (gzip-compressed with content-encoding: gzip)`, 'content-type');
    const raw = await readBody(req, o.limits.maxBodyBytes);
    o.metrics.ingestBytes.inc(raw.length);
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const messages = frames ? parseFrames(await decompressBody(raw, encoding, o.limits)) : parseMessages(await decodeBody(raw, encoding, o.limits));
    const result = await o.ingest(messages, { body: raw, encoding: frames ? framesEncoding(encoding) : encoding });
    if (result.unknownRuns.length) {
      o.metrics.rejected.inc({ reason: 'unknown_run' });
      sendJson(res, 409, { error: 'unknown agent run: send its hello, then the batches again', unknown_runs: result.unknownRuns, applied: result.applied, duplicates: result.duplicates });
      return;
    }
    sendJson(res, 200, { applied: result.applied, duplicates: result.duplicates });
  };

  const handleStream = (q: URLSearchParams, res: ServerResponse): void => {
    let view;
    let filter;
    try {
      view = parseView(q.get('view') || 'workload');
    } catch (err) {
      throw badRequest('view', (err as ViewError).message);
    }
    try {
      filter = Filter.parse(q.get('filter') ?? '');
    } catch (err) {
      throw badRequest('filter', (err as FilterError).message);
    }
    o.stream.subscribe(res, view, filter, SECURITY_HEADERS);
  };

  const serveStatic = (path: string, req: IncomingMessage, res: ServerResponse): void => {
    const dir = o.webDir && existsSync(join(o.webDir, 'index.html')) ? o.webDir : undefined;
    if (!dir) {
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : ROOT_PAGE);
        return;
      }
      throw new ApiError(404, `not found: ${path} (the API is under /api/v1; see /api/openapi.json)`);
    }
    let rel: string;
    try {
      rel = normalize(decodeURIComponent(path)).replace(/^([/\\])+/, '');
    } catch {
      throw new ApiError(400, 'path: is not valid percent-encoding', 'path');
    }
    let file = join(dir, rel);
    if (!file.startsWith(dir + sep) && file !== dir) throw new ApiError(404, `not found: ${path}`);
    // Client-side routes (no extension) get the app.
    if (!existsSync(file) || statSync(file).isDirectory()) {
      if (extname(rel)) throw new ApiError(404, `not found: ${path}`);
      file = join(dir, 'index.html');
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const headers: Record<string, string | number> = { ...SECURITY_HEADERS, 'content-type': type, 'content-length': statSync(file).size };
    if (type.startsWith('text/html')) {
      headers['content-security-policy'] = CSP;
      headers['cache-control'] = 'no-cache';
    } else headers['cache-control'] = rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = url.pathname;
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return 'healthz';
    }
    const needsAuth = path.startsWith('/api/') || path === '/metrics';
    if (needsAuth && !authorized(req)) {
      o.metrics.rejected.inc({ reason: 'unauthorized' });
      res.setHeader('www-authenticate', 'Bearer realm="flowscope"');
      throw new ApiError(401, 'unauthorized: send the hub token as Authorization: Bearer TOKEN (the hub was started with --token-file)');
    }
    if (o.extra && path.startsWith('/api/v1/')) {
      const answer = await o.extra(req, url);
      if (answer) {
        sendJson(res, answer.status, answer.body);
        return path.split('/')[3] ?? 'other';
      }
    }
    if (path === '/api/v1/ingest') {
      if (req.method !== 'POST') throw new ApiError(405, 'method: use POST for /api/v1/ingest', 'method');
      await handleIngest(req, res);
      return 'ingest';
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, `method: ${req.method} is not allowed on ${path}: use GET`, 'method');
    if (path === '/metrics') {
      const text = await o.metrics.render();
      res.writeHead(200, { 'content-type': o.metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
      return 'metrics';
    }
    if (path === '/api/v1/stream') {
      handleStream(url.searchParams, res);
      return 'stream';
    }
    const query = queries[path];
    if (query) {
      sendJson(res, 200, await query(url.searchParams), req);
      return path.slice(path.lastIndexOf('/') + 1);
    }
    if (path.startsWith('/api/')) throw new ApiError(404, `not found: ${path} (see /api/openapi.json)`);
    serveStatic(path, req, res);
    return 'static';
  };

  return (req, res) => {
    const started = process.hrtime.bigint();
    let endpoint = 'other';
    route(req, res)
      .then((name) => {
        endpoint = name;
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError) {
          if (req.url?.startsWith('/api/v1/ingest')) {
            if (err.status === 413) o.metrics.rejected.inc({ reason: 'too_large' });
            else if (err.status === 400 || err.status === 415) o.metrics.rejected.inc({ reason: 'malformed' });
          }
          if (!res.headersSent) sendError(res, err);
          else res.end();
          return;
        }
        o.log.error({ err, url: req.url }, 'request failed');
        if (req.url?.startsWith('/api/v1/ingest')) o.metrics.rejected.inc({ reason: 'store_error' });
        if (!res.headersSent) sendJson(res, 500, { error: `internal error: ${(err as Error).message}` });
        else res.end();
      })
      .finally(() => {
        if (endpoint !== 'stream') o.metrics.queryDuration.observe({ endpoint }, Number(process.hrtime.bigint() - started) / 1e9);
      });
  };
}
