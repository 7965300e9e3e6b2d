// The endpoint of the agent and the exporter: /metrics (Prometheus), /healthz, /capabilities,
// /connections (JSON). Served through serve() (TLS and credentials from --web.config.file, limits);
// here: routes, one /metrics render at a time shared by concurrent scrapes, HEAD without rendering,
// and the detail pages kept on the node when the endpoint listens beyond loopback unless enabled.
import type http from 'node:http';
import type { Logger } from 'pino';
import type { ConnectionsView } from '../model/connections.js';
import { header, labelString, sample } from './exposition.js';
import { HTTP_METRICS } from './metrics.js';
import { formatListen, isLoopback, serve, type Endpoint, type HttpLimits, type ListenAddress } from './http-listen.js';
import { SingleFlight } from './single-flight.js';
import type { WebConfig } from './web-config.js';

export { formatListen, isLoopback, type Endpoint, type ListenAddress } from './http-listen.js';

export interface HttpSources {
  metrics(): Promise<string>;
  health(): { ok: boolean; detail: Record<string, unknown> };
  capabilities(): unknown;
  /** The joined view per edge: both ends' identities, NAT translations. */
  connections?(): ConnectionsView;
}

export interface EndpointOptions {
  /** From --web.config.file. */
  web?: WebConfig;
  /** /capabilities and /connections also when listening beyond loopback (--web.enable-details). */
  enableDetails?: boolean;
  limits?: Partial<HttpLimits>;
  /** The name on the index page. */
  component?: string;
}

const DETAIL_PATHS = ['/capabilities', '/connections'];
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** Whether /capabilities and /connections are served on this address. */
export function detailsServed(listen: ListenAddress, enableDetails = false): boolean {
  return enableDetails || isLoopback(listen.host);
}

export async function startHttpServer(listen: ListenAddress, sources: HttpSources, log: Logger, options: EndpointOptions = {}): Promise<Endpoint> {
  const details = detailsServed(listen, options.enableDetails);
  let endpoint: Endpoint | undefined;
  // Concurrent scrapes share one render; the refusal counters come after the sources' metrics.
  const flight = new SingleFlight(async () => {
    const text = await sources.metrics();
    return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${renderRefusals(endpoint)}`;
  });
  const paths = ['/metrics', '/healthz', ...(details ? DETAIL_PATHS.filter((p) => p !== '/connections' || sources.connections) : [])];

  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (DETAIL_PATHS.includes(path) && !details) {
      send(404, 'text/plain', `not found: ${path} is off while the endpoint listens beyond loopback (${formatListen(listen)}): it names processes and peers; serve it with --web.enable-details\n`);
      return;
    }
    switch (path) {
      case '/metrics': {
        // HEAD asks whether the endpoint is there, not for a render.
        if (req.method === 'HEAD') return send(200, PROMETHEUS_TEXT, '');
        const rendering = flight.run();
        if (!rendering) return send(503, 'text/plain', 'too many scrapes at once; try again\n', { 'retry-after': '1' });
        rendering
          .then((text) => send(200, PROMETHEUS_TEXT, text))
          .catch((err: unknown) => {
            log.error({ err }, 'rendering metrics failed');
            send(500, 'text/plain', 'rendering metrics failed\n');
          });
        return;
      }
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
        send(200, 'text/plain', `flowscope ${options.component ?? 'agent'}: ${paths.join(' ')}\n`);
        return;
      default:
        send(404, 'text/plain', `not found: ${path} (try ${paths.join(', ')})\n`);
    }
  };
  endpoint = await serve(handler, { listen, log, ...(options.web ? { web: options.web } : {}), ...(options.limits ? { limits: options.limits } : {}) });
  return endpoint;
}

function renderRefusals(endpoint: Endpoint | undefined): string {
  const out: string[] = [];
  const def = HTTP_METRICS.refused;
  header(out, def);
  for (const [reason, n] of endpoint?.refused ?? []) sample(out, def.name, labelString([['reason', reason]]), n);
  out.push('');
  return out.join('\n');
}
