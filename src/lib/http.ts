// The agent's HTTP endpoint: /metrics (Prometheus), /healthz, /capabilities, /connections (JSON).
import http from 'node:http';
import type { Logger } from 'pino';
import type { ConnectionsView } from '../model/connections.js';

export interface HttpSources {
  metrics(): Promise<string>;
  health(): { ok: boolean; detail: Record<string, unknown> };
  capabilities(): unknown;
  /** The joined view per edge: both ends' identities, NAT translations. */
  connections?(): ConnectionsView;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export async function startHttpServer(listen: ListenAddress, sources: HttpSources, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed: use GET\n');
      return;
    }
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    switch (path) {
      case '/metrics':
        sources
          .metrics()
          .then((text) => send(200, 'text/plain; version=0.0.4; charset=utf-8', text))
          .catch((err: unknown) => {
            log.error({ err }, 'rendering metrics failed');
            send(500, 'text/plain', 'rendering metrics failed\n');
          });
        return;
      case '/healthz': {
        const h = sources.health();
        send(h.ok ? 200 : 503, 'application/json', `${JSON.stringify({ status: h.ok ? 'ok' : 'unhealthy', ...h.detail })}\n`);
        return;
      }
      case '/capabilities':
        send(200, 'application/json', `${JSON.stringify(sources.capabilities(), null, 2)}\n`);
        return;
      case '/connections':
        if (sources.connections) {
          send(200, 'application/json', `${JSON.stringify(sources.connections())}\n`);
          return;
        }
        send(404, 'text/plain', 'not found: /connections is not served by this process\n');
        return;
      case '/':
        send(200, 'text/plain', 'flowscope agent: /metrics /healthz /capabilities /connections\n');
        return;
      default:
        send(404, 'text/plain', `not found: ${path} (try /metrics, /healthz, /capabilities, /connections)\n`);
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(listen, err)));
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function listenError(listen: ListenAddress, err: NodeJS.ErrnoException): Error {
  const where = formatListen(listen);
  switch (err.code) {
    case 'EADDRINUSE':
      return new Error(`cannot listen on ${where}: the port is in use by another process (find it with: ss -ltnp 'sport = :${listen.port}'); stop it or choose another address with --listen`);
    case 'EADDRNOTAVAIL':
      return new Error(`cannot listen on ${where}: no interface of this host has that address; use one it has (ip -br addr) or 0.0.0.0 with --listen`);
    case 'EACCES':
      return new Error(`cannot listen on ${where}: permission denied; choose a port above 1023 with --listen`);
    default:
      return new Error(`cannot listen on ${where}: ${err.message}`);
  }
}
