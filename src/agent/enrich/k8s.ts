// Keeps a K8sIndex in step with the API server through @kubernetes/client-node informers
// (ListWatch): paged lists, watches with bookmarks, a fresh list after 410 Gone (handled by the
// informer), reconnection with exponential backoff when the server goes away. Objects are trimmed
// as they arrive, so neither the informer cache nor the index holds whole pods.
import http from 'node:http';
import https from 'node:https';
import { KubeConfig, ListWatch, Watch, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { K8sIndex, trimNode, trimOwned, trimPod, trimService, trimSlice, type Trimmed } from './k8s-index.js';
import type { KubernetesResourceStatus as ResourceStatus } from '../../model/capabilities.js';

export interface K8sOptions {
  /** Path of a kubeconfig; in-cluster configuration when absent. */
  kubeconfig?: string;
  /** This node's name (pods elsewhere keep only their IP and owner). */
  nodeName?: string;
  log: Logger;
  pageSize?: number;
  /** Backoff bounds for reconnecting, in ms. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Called on each failed list or watch (for the self-metric). */
  onError?: () => void;
}

export type { ResourceStatus };

interface Resource {
  name: string;
  path: string;
  trim: (v: unknown) => Trimmed<unknown>;
  onUpsert: (t: Trimmed<unknown>, old: Trimmed<unknown> | undefined) => void;
  onDelete: (t: Trimmed<unknown>) => void;
}

class TrimmingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly trim: (v: unknown) => Trimmed<unknown>,
    private readonly onEvent: () => void,
  ) {
    super(config);
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase, obj, raw) => {
      this.onEvent();
      callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.trim(obj) : obj, raw);
    }, done);
  }
}

/** Thrown for a kubeconfig that cannot be used, with what to do about it. */
export class KubeconfigError extends Error {}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromCluster();
  } catch (err) {
    throw new KubeconfigError(
      path
        ? `kubeconfig ${path} cannot be used: ${(err as Error).message.split('\n')[0]}. Fix the file (kubectl --kubeconfig ${path} config view checks it) or leave out --kubeconfig to use the in-cluster service account.`
        : `in-cluster Kubernetes configuration cannot be used: ${(err as Error).message}. Run the agent in a pod with a service account, or pass --kubeconfig.`,
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new KubeconfigError(`${path ? `kubeconfig ${path}` : 'the in-cluster configuration'} names no current cluster with a server address: set current-context, or check KUBERNETES_SERVICE_HOST/PORT`);
  }
  try {
    new URL(cluster.server);
  } catch {
    throw new KubeconfigError(`${path ? `kubeconfig ${path}` : 'the in-cluster configuration'}: cluster server ${JSON.stringify(cluster.server)} is not a URL`);
  }
  return kc;
}

export class K8sWatcher {
  readonly index = new K8sIndex();
  readonly status: ResourceStatus[] = [];
  private readonly informers: Array<ListWatch<KubernetesObject>> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  readonly server: string;

  constructor(
    private readonly kc: KubeConfig,
    private readonly options: K8sOptions,
  ) {
    this.server = kc.getCurrentCluster()!.server;
  }

  private resources(): Resource[] {
    const ix = this.index;
    const node = this.options.nodeName;
    type T<X> = Trimmed<X>;
    return [
      {
        name: 'pods',
        path: '/api/v1/pods',
        trim: (v) => trimPod(v, node),
        onUpsert: (t, old) => ix.upsertPod((t as T<any>).rec, old ? (old as T<any>).rec : undefined),
        onDelete: (t) => ix.removePod((t as T<any>).rec),
      },
      {
        name: 'services',
        path: '/api/v1/services',
        trim: trimService,
        onUpsert: (t, old) => ix.upsertService((t as T<any>).rec, old ? (old as T<any>).rec : undefined),
        onDelete: (t) => ix.removeService((t as T<any>).rec),
      },
      {
        name: 'endpointslices',
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        trim: trimSlice,
        onUpsert: (t) => ix.upsertSlice(`${t.metadata.namespace}/${t.metadata.name}`, (t as T<any>).rec),
        onDelete: (t) => ix.removeSlice(`${t.metadata.namespace}/${t.metadata.name}`),
      },
      {
        name: 'nodes',
        path: '/api/v1/nodes',
        trim: trimNode,
        onUpsert: (t, old) => ix.upsertNode((t as T<any>).rec, old ? (old as T<any>).rec : undefined),
        onDelete: (t) => ix.removeNode((t as T<any>).rec),
      },
      {
        name: 'replicasets',
        path: '/apis/apps/v1/replicasets',
        trim: trimOwned,
        onUpsert: (t) => ix.setOwner('ReplicaSet', `${t.metadata.namespace}/${t.metadata.name}`, (t as T<any>).rec),
        onDelete: (t) => ix.setOwner('ReplicaSet', `${t.metadata.namespace}/${t.metadata.name}`, undefined),
      },
      {
        name: 'jobs',
        path: '/apis/batch/v1/jobs',
        trim: trimOwned,
        onUpsert: (t) => ix.setOwner('Job', `${t.metadata.namespace}/${t.metadata.name}`, (t as T<any>).rec),
        onDelete: (t) => ix.setOwner('Job', `${t.metadata.namespace}/${t.metadata.name}`, undefined),
      },
    ];
  }

  /** GET path as JSON, with the kubeconfig's credentials and TLS settings. */
  private async getJson(path: string): Promise<any> {
    const url = new URL(this.server + path);
    const opts: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { ...opts, timeout: 30_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) {
            const err = new Error(`${path}: HTTP ${res.statusCode} ${body.slice(0, 200)}`) as Error & { statusCode?: number };
            err.statusCode = res.statusCode;
            return reject(err);
          }
          try {
            resolve(JSON.parse(body));
          } catch {
            reject(new Error(`${path}: answer is not JSON`));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 30 s`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** A complete list in pages of `pageSize` (limit/continue), trimmed page by page. */
  private async list(r: Resource, st: ResourceStatus): Promise<KubernetesListObject<KubernetesObject>> {
    const limit = this.options.pageSize ?? 500;
    for (let attempt = 0; ; attempt++) {
      const items: KubernetesObject[] = [];
      let cont = '';
      let rv = '';
      try {
        do {
          const page = await this.getJson(`${r.path}?limit=${limit}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
          for (const it of Array.isArray(page?.items) ? page.items : []) items.push(r.trim(it) as KubernetesObject);
          cont = page?.metadata?.continue ?? '';
          rv = page?.metadata?.resourceVersion ?? rv;
        } while (cont);
      } catch (err) {
        // An expired continue token: list again from the start.
        if ((err as { statusCode?: number }).statusCode === 410 && attempt < 3) continue;
        throw err;
      }
      st.lists++;
      return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: rv }, items };
    }
  }

  start(): void {
    for (const r of this.resources()) {
      const st: ResourceStatus = { resource: r.name, state: 'starting', lists: 0, events: 0, reconnects: 0 };
      this.status.push(st);
      const watch = new TrimmingWatch(this.kc, r.trim, () => {
        st.events++;
        if (st.state !== 'synced') this.synced(st);
        backoff = this.options.backoffMinMs ?? 500;
      });
      let backoff = this.options.backoffMinMs ?? 500;
      const informer = new ListWatch<KubernetesObject>(r.path, watch, async () => {
        const list = await this.list(r, st);
        this.synced(st);
        backoff = this.options.backoffMinMs ?? 500;
        return list;
      }, false);
      // The informer's cache holds the previous version: the index updates from it.
      const previous = new Map<string, Trimmed<unknown>>();
      const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
      informer.on('add', (o) => {
        const t = o as unknown as Trimmed<unknown>;
        r.onUpsert(t, previous.get(keyOf(o)));
        previous.set(keyOf(o), t);
      });
      informer.on('update', (o) => {
        const t = o as unknown as Trimmed<unknown>;
        r.onUpsert(t, previous.get(keyOf(o)));
        previous.set(keyOf(o), t);
      });
      informer.on('delete', (o) => {
        const t = previous.get(keyOf(o)) ?? (o as unknown as Trimmed<unknown>);
        r.onDelete(t);
        previous.delete(keyOf(o));
      });
      informer.on('error', (err: unknown) => {
        if (this.stopped) return;
        this.options.onError?.();
        const msg = (err as Error)?.message ?? String(err);
        const firstError = st.state !== 'error';
        st.state = 'error';
        st.lastError = msg;
        st.reconnects++;
        if (firstError) this.options.log.warn({ resource: r.name, server: this.server, err: msg }, `Kubernetes API ${this.server}: ${r.name} list/watch failed (${msg}); retrying with backoff, labels from Kubernetes may be stale meanwhile`);
        const delay = backoff;
        backoff = Math.min(backoff * 2, this.options.backoffMaxMs ?? 30_000);
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!this.stopped) informer.start().catch(() => undefined);
        }, delay);
        this.timers.add(timer);
      });
      this.informers.push(informer);
      informer.start().catch(() => undefined);
    }
  }

  private synced(st: ResourceStatus): void {
    if (st.state === 'error') this.options.log.warn({ resource: st.resource, server: this.server }, `Kubernetes API ${this.server}: ${st.resource} in sync again`);
    st.state = 'synced';
    delete st.lastError;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const i of this.informers) void i.stop();
  }
}
