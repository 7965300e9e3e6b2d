// The hub: a store (embedded DuckDB fed by agents, or a Prometheus-compatible one read with
// PromQL), the join and the query API behind one HTTP server, and the timers that keep it going.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve, type Endpoint } from '../lib/http-listen.js';
import type { WebConfig } from '../lib/web-config.js';
import type { Logger } from 'pino';
import { DuckStore } from './store/duckdb.js';
import { EmbeddedStore } from './store/embedded.js';
import { Ingest, DEFAULT_INGEST, type IngestOptions } from './ingest/pipeline.js';
import { HubMetrics } from './metrics.js';
import { Queries } from './api/queries.js';
import { StreamHub } from './api/stream.js';
import { createApiHandler } from './api/server.js';
import { openApiDocument } from './api/openapi.js';
import { releaseJson } from '../lib/json-writer.js';
import { DEFAULT_LIMITS, type BodyLimits } from './api/ingest-http.js';
import type { EdgeTotals, GraphStore } from './store/store.js';
import { PrometheusStore } from './store/prometheus.js';
import { addInto, newSide, type Side } from './graph/counters.js';
import { parseView } from './graph/views.js';
import { AlertService } from './alerts/service.js';
import { alertsApi } from './alerts/api.js';
import { extendOpenApi } from './alerts/openapi.js';
import type { AlertsConfig } from './alerts/config/types.js';

export interface HubOptions {
  listen: { host: string; port: number };
  dataDir: string;
  retentionMs: number;
  token?: string;
  webDir?: string;
  version: string;
  log: Logger;
  ingest?: IngestOptions;
  limits?: BodyLimits;
  /** How often the join looks for batches it can finish (ms). */
  finalizeMs?: number;
  /** How often roll-ups, Parquet export and retention run (ms). */
  maintainMs?: number;
  /** DuckDB's memory limit. */
  memoryLimit?: string;
  /** Read graph and history with PromQL from this Prometheus-compatible API instead of keeping them (agents are scraped there). */
  prometheusUrl?: string;
  /** The scrape interval of that store (ms). */
  prometheusStepMs?: number;
  /** Alerting (`flowscope hub` turns it on with the default rules unless told otherwise); absent: off. */
  alerts?: AlertsConfig | false;
  /** Window lengths the live graph keeps in memory (ms; default the last 5 minutes and the last hour). */
  liveWindowsMs?: number[];
  /** The hub's clock (ms; default Date.now): what queries and the live windows call now. */
  now?: () => number;
  /** TLS and basic authentication (--web.config.file); absent: plain HTTP. */
  web?: WebConfig;
}

/** Connections, time limits and bodies of the hub's endpoint: every agent keeps a connection, the stream lasts. */
const HUB_HTTP_LIMITS = {
  maxConnections: 65_536,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  responseTimeoutMs: 120_000,
  keepAliveTimeoutMs: 30_000,
  maxHeaderBytes: 16_384,
};

export interface RunningHub {
  server: Server;
  /** The endpoint's refusals (TLS handshakes, credentials, sizes), by reason. */
  endpoint: Endpoint;
  url: string;
  store: GraphStore;
  metrics: HubMetrics;
  ingest?: Ingest;
  alerts?: AlertService;
  close(): Promise<void>;
}

/** Roll-ups, Parquet export, retention; then the store's gauges. */
async function maintain(duck: DuckStore, ingest: Ingest, metrics: HubMetrics, now: number): Promise<void> {
  await duck.maintain(now, ingest.finalTo(now));
  metrics.storeBytes.set(duck.diskBytes());
  for (const [table, n] of Object.entries(await duck.rowCounts())) metrics.storeRows.set({ table }, n);
  metrics.agentsReporting.set(ingest.runs.current().filter((r) => reporting(r, now)).length);
}

const reporting = (r: { lastHeardMs: number; intervalMs: number }, now: number): boolean => now - r.lastHeardMs <= Math.max(10_000, 3 * r.intervalMs);

interface Backend {
  store: GraphStore;
  ingest?: Ingest;
  status(): Record<string, unknown>;
  /** Settles once the store can answer from memory (the embedded store's live windows loaded). */
  ready?: Promise<void>;
  /** Feeds alerting every interval (and gives it a place for its state, when the backend has one). */
  alerting(o: HubOptions, config: AlertsConfig, metrics: HubMetrics): Promise<AlertService>;
  close(): Promise<void>;
}

/** Agents send to the hub; history in DuckDB under --data. */
async function embedded(o: HubOptions, metrics: HubMetrics, stream: StreamHub, timers: NodeJS.Timeout[]): Promise<Backend> {
  const duck = await DuckStore.open({ dataDir: o.dataDir, retentionMs: o.retentionMs, memoryLimit: o.memoryLimit });
  const ingest = await Ingest.open(duck, metrics, o.log, o.ingest ?? DEFAULT_INGEST);
  const store = new EmbeddedStore(duck, ingest, { liveWindowsMs: o.liveWindowsMs, now: o.now, log: o.log });
  const ready = store.start().catch(() => undefined);
  ingest.onFinalized((f) => {
    if (stream.size === 0) return;
    const byEdge = new Map<number, [Side | undefined, Side | undefined]>();
    let from = Infinity;
    for (const c of f.contributions) {
      let pair = byEdge.get(c.edge);
      if (!pair) byEdge.set(c.edge, (pair = [undefined, undefined]));
      addInto((pair[c.side] ??= newSide()), c.values);
      from = Math.min(from, c.t);
    }
    const totals: EdgeTotals[] = [...byEdge].map(([id, sides]) => ({ edge: store.resolvedEdge(id), sides }));
    stream.publish(totals, from, f.t);
  });
  timers.push(setInterval(() => void ingest.finalize().catch((err: unknown) => o.log.error({ err }, 'joining batches failed')), o.finalizeMs ?? 500).unref());
  timers.push(setInterval(() => void maintain(duck, ingest, metrics, (o.now ?? Date.now)()).catch((err: unknown) => o.log.error({ err }, 'store maintenance failed')), o.maintainMs ?? 10_000).unref());
  timers.push(setInterval(() => void ingest.saveClaims().catch((err: unknown) => o.log.warn({ err }, 'saving the join state failed')), 60_000).unref());
  return {
    store,
    ingest,
    ready,
    status: () => {
      const now = Date.now();
      return {
        agents: ingest.runs.current().map((r) => ({
          agent: r.agent,
          node: r.node,
          zone: r.zone,
          start: r.start,
          version: r.version,
          interval_ms: r.intervalMs,
          last_heard: new Date(r.lastHeardMs).toISOString(),
          last_interval_end: new Date(r.lastTo).toISOString(),
          reporting: reporting(r, now),
          batches: r.batches,
          batches_dropped: r.losses?.batches_dropped ?? 0,
        })),
        edges: ingest.edges.size,
        endpoints: ingest.endpoints.size,
        pending_batches: ingest.pendingBatches,
        joined_to: new Date(Math.max(0, ingest.finalTo(now))).toISOString(),
      };
    },
    alerting: async (o, config, metrics) => {
      const alerts = await AlertService.start({ config, store, connect: () => duck.connect(), registry: metrics.registry, log: o.log.child({ component: 'alerts' }), hubName: `flowscope-hub@${o.listen.host}:${o.listen.port}` });
      const resolve = (id: number) => store.resolvedEdge(id);
      ingest.onFinalized((f) => {
        alerts.addTcp(f.contributions, resolve);
        for (const d of f.dns) alerts.addDns(d);
      });
      return alerts;
    },
    // Batches accepted but not joined stay in the inbox: after a restart they are joined once the
    // other agents have caught up, as if the hub had never gone.
    close: async () => {
      await ingest.saveClaims().catch(() => undefined);
      await store.close();
    },
  };
}

/** A Prometheus-compatible store scraped the agents; the hub keeps nothing. */
function prometheus(o: HubOptions & { prometheusUrl: string }, stream: StreamHub, timers: NodeJS.Timeout[]): Backend {
  const store = new PrometheusStore({ url: o.prometheusUrl, retentionMs: o.retentionMs, stepMs: o.prometheusStepMs ?? 15_000, log: o.log });
  timers.push(
    setInterval(() => {
      if (stream.size === 0) return;
      store
        .latest()
        .then((l) => stream.publish(l.totals, l.from, l.to))
        .catch((err: unknown) => o.log.warn({ err }, 'reading the latest step from Prometheus failed'));
    }, Math.max(store.stepMs, 5_000)).unref(),
  );
  return {
    store,
    status: () => ({ agents: [], edges: 0, endpoints: 0, pending_batches: 0, joined_to: new Date(Date.now() - store.stepMs).toISOString() }),
    // Each step read from Prometheus feeds alerting; the hub keeps no state here, so alerting's
    // windows and histories start over with the hub (and run in every replica).
    alerting: async (o, config, metrics) => {
      const alerts = await AlertService.start({ config, store, registry: metrics.registry, log: o.log.child({ component: 'alerts' }), hubName: `flowscope-hub@${o.listen.host}:${o.listen.port}` });
      timers.push(
        setInterval(() => {
          store
            .latest()
            .then((l) => alerts.addTotals(l.totals, l.to))
            .catch((err: unknown) => o.log.warn({ err }, 'reading the latest step from Prometheus for alerting failed'));
        }, Math.max(store.stepMs, 1_000)).unref(),
      );
      return alerts;
    },
    close: () => store.close(),
  };
}

export async function startHub(o: HubOptions): Promise<RunningHub> {
  const metrics = new HubMetrics();
  const timers: NodeJS.Timeout[] = [];
  const stream = new StreamHub(1000, (n) => metrics.streamClients.set(n));
  const backend = o.prometheusUrl ? prometheus({ ...o, prometheusUrl: o.prometheusUrl }, stream, timers) : await embedded(o, metrics, stream, timers);
  const { store, ingest } = backend;
  const alertsConfig = o.alerts || undefined;
  const alerts = alertsConfig ? await backend.alerting(o, alertsConfig, metrics) : undefined;
  const queries = new Queries(store, o.now ?? Date.now, alerts ? { any: (w) => alerts.alerts(w.from).length > 0, of: (e, w) => ({ alerts: alerts.marks(e, w) }) } : undefined);
  let closed = false;
  // The default view's index and JSON encodings are built once the live windows are in, so that
  // the first request does not pay for them (about a second at 100,000 edges).
  void backend.ready
    ?.then(() => (closed ? undefined : queries.graph(new URLSearchParams({ view: 'workload' }))))
    .then((answer) => answer && releaseJson(answer.parts))
    // Then the pod view, in slices (its first request paid ~1 s for its index and encodings).
    .then(() => queries.warm(parseView('pod'), 10, () => closed))
    // Then a window the live ones do not cover (read from the store): its first read after start
    // paid for cold code, a fresh row buffer and DuckDB's first look at the tables (~1 s at 100,000 edges).
    .then(() => (closed ? undefined : queries.graph(new URLSearchParams({ view: 'workload', from: '-10m', to: '-5m' }))))
    .then((answer) => answer && releaseJson(answer.parts))
    .catch((err: unknown) => o.log.debug({ err }, 'warming the workload and pod views failed'));
  const status = async (): Promise<unknown> => ({ store: store.kind, retention_seconds: store.retentionMs / 1000, ...backend.status() });
  const doc = alerts ? extendOpenApi(openApiDocument(o.version)) : openApiDocument(o.version);
  const handler = createApiHandler({
    queries,
    stream,
    metrics,
    log: o.log,
    token: o.token,
    ingest: ingest ? (m, raw) => ingest.accept(m, Date.now(), raw) : undefined,
    status,
    openapi: () => doc,
    limits: o.limits ?? DEFAULT_LIMITS,
    webDir: o.webDir,
    extra: alerts ? (req, url) => alertsApi(alerts, req, url, Date.now()) : undefined,
  });
  const endpoint = await serve(handler, {
    listen: o.listen,
    web: o.web,
    log: o.log,
    // The API answers each method itself (a JSON 405 naming the allowed ones).
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    // The ingest handler enforces its own body limit (and counts what it refuses).
    limits: { ...HUB_HTTP_LIMITS, maxBodyBytes: Number.MAX_SAFE_INTEGER },
    untimedPaths: ['/api/v1/stream'],
  });
  const server = endpoint.server as Server;
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${endpoint.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  if (alertsConfig && !alertsConfig.externalUrl) alertsConfig.externalUrl = url;
  return {
    server,
    endpoint,
    url,
    store,
    metrics,
    ingest,
    alerts,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      stream.close();
      await endpoint.close();
      await alerts?.close().catch((err: unknown) => o.log.error({ err }, 'saving the alert state failed'));
      await backend.close();
    },
  };
}
