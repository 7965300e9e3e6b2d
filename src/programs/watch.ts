// BpfProgram custom resources (flowscope.io/v1alpha1): list, then watch from the list's
// resourceVersion; load on ADDED, reload on MODIFIED (a new generation), unload on DELETED; write the
// result as status conditions (Loaded, Attached, Error) through the status subresource, under
// status.nodes[<node>] so that the agents of every node report side by side.
// Speaks the Kubernetes REST protocol directly (list + ?watch=1 chunked JSON events, 410 Gone → relist).
import type { Logger } from 'pino';
import { configFromValue, ConfigError } from './config.js';
import { ObjectRefusedError, trustedConfig, type ObjectTrust } from './trust.js';
import type { ProgramRegistry } from './registry.js';
import type { ProgramStatus } from './loader.js';

export const GROUP = 'flowscope.io';
export const VERSION = 'v1alpha1';
export const PLURAL = 'bpfprograms';

export interface KubeConnection {
  /** https://host:port of the API server. */
  server: string;
  token?: string;
  /** Extra fetch options (a dispatcher with the cluster CA, for instance). */
  fetchInit?: RequestInit;
}

export interface BpfProgramObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; uid?: string; generation?: number; resourceVersion?: string };
  spec?: unknown;
}

export interface Condition {
  type: 'Loaded' | 'Attached' | 'Error';
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Conditions for a program set's status (or for a spec that did not validate). */
export function conditionsFor(status: ProgramStatus | { error: { stage: string; message: string; condition?: string } }, generation: number | undefined, now = new Date()): Condition[] {
  const t = now.toISOString();
  const err = status.error;
  const loaded = 'loaded' in status && status.loaded && !err;
  const attached = 'attached' in status && !err && status.attached.length > 0 && status.attached.every((a) => a.ok);
  const cond = (type: Condition['type'], ok: boolean, reason: string, message: string): Condition => ({
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    lastTransitionTime: t,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  });
  const stageReason: Record<string, string> = { open: 'ObjectInvalid', metrics: 'MetricsInvalid', load: 'VerifierRejected', attach: 'AttachFailed', config: 'SpecInvalid', read: 'ReadFailed', trust: 'ObjectRefused' };
  const reason = err ? ((err as { condition?: string }).condition ?? stageReason[err.stage] ?? 'Failed') : 'NoError';
  return [
    cond('Loaded', loaded, loaded ? 'Loaded' : reason, loaded ? 'programs loaded into the kernel' : (err?.message ?? '')),
    cond('Attached', attached, attached ? 'Attached' : 'NotAttached', attached && 'attached' in status ? status.attached.map((a) => `${a.program} → ${a.target}`).join('; ') : (err?.message ?? 'no program attached')),
    cond('Error', err !== undefined, reason, err?.message ?? ''),
  ];
}

export interface WatcherOptions {
  connection: KubeConnection;
  node: string;
  registry: ProgramRegistry;
  log: Logger;
  /** Which objects may load (default: only objects pinned by sha256; no object_base64). */
  trust?: ObjectTrust;
  /** Delay before re-listing after a failure (ms). */
  retryMs?: number;
}

/** Nothing is trusted but what the resource pins. */
export const STRICT_TRUST: ObjectTrust = { allowedDirs: [], allowInline: false };

/** Names of program sets that come from resources: "crd_<name>" (so they never clash with files). */
export const setName = (resource: string): string => `crd_${resource.replace(/[^a-zA-Z0-9_]/g, '_')}`;

export class BpfProgramWatcher {
  private stopped = false;
  private abort = new AbortController();
  private readonly generations = new Map<string, number | undefined>();
  private loop: Promise<void> | undefined;
  /** Resources applied so far (for tests and /capabilities). */
  applied = 0;
  /** Resources whose objects were refused, and why (for /capabilities). */
  readonly refused = new Map<string, { reason: string; message: string }>();

  constructor(private readonly o: WatcherOptions) {}

  private url(path: string): string {
    return `${this.o.connection.server.replace(/\/$/, '')}/apis/${GROUP}/${VERSION}/${PLURAL}${path}`;
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) };
    if (this.o.connection.token) headers.authorization = `Bearer ${this.o.connection.token}`;
    return fetch(this.url(path), { ...this.o.connection.fetchInit, ...init, headers, signal: this.abort.signal });
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const rv = await this.list();
        await this.watch(rv);
      } catch (err) {
        if (this.stopped) return;
        this.o.log.warn({ err: (err as Error).message }, 'BpfProgram watch failed; listing again');
        await new Promise((r) => setTimeout(r, this.o.retryMs ?? 2000));
      }
    }
  }

  /** Lists every resource, applies them, unloads sets whose resources are gone; returns the list's resourceVersion. */
  private async list(): Promise<string> {
    const res = await this.request('');
    if (!res.ok) throw new Error(`list ${PLURAL}: HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const body = (await res.json()) as { metadata?: { resourceVersion?: string }; items?: BpfProgramObject[] };
    const seen = new Set<string>();
    for (const item of body.items ?? []) {
      seen.add(item.metadata.name);
      await this.applyObject(item);
    }
    for (const name of [...this.generations.keys()]) if (!seen.has(name)) this.deleteObject(name);
    return body.metadata?.resourceVersion ?? '';
  }

  private async watch(resourceVersion: string): Promise<void> {
    const res = await this.request(`?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`);
    if (!res.ok || !res.body) throw new Error(`watch ${PLURAL}: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line) as { type: string; object: BpfProgramObject & { code?: number } };
        switch (ev.type) {
          case 'ADDED':
          case 'MODIFIED':
            await this.applyObject(ev.object);
            break;
          case 'DELETED':
            this.deleteObject(ev.object.metadata.name);
            break;
          case 'ERROR':
            // 410 Gone: our resourceVersion is too old; list again.
            throw new Error(`watch error ${ev.object.code ?? ''}`);
          default:
            break; // BOOKMARK
        }
      }
    }
    if (!this.stopped) throw new Error('watch closed by the server');
  }

  private async applyObject(obj: BpfProgramObject): Promise<void> {
    const name = obj.metadata.name;
    const generation = obj.metadata.generation;
    if (this.generations.has(name) && this.generations.get(name) === generation && generation !== undefined) return; // status-only change
    this.generations.set(name, generation);
    const source = `BpfProgram/${name}`;
    let conditions: Condition[];
    try {
      const spec = { ...(obj.spec as Record<string, unknown>), name: setName(name) };
      const config = trustedConfig(configFromValue(spec, source), this.o.trust ?? STRICT_TRUST);
      this.refused.delete(name);
      const status = this.o.registry.apply(config);
      conditions = conditionsFor(status, generation);
      if (status.error) this.o.log.error({ resource: name, stage: status.error.stage }, `BpfProgram ${name}: ${status.error.message}`);
      else this.o.log.info({ resource: name }, `BpfProgram ${name} loaded`);
    } catch (err) {
      // Nothing of the resource stays loaded: not this version, not the one before.
      this.o.registry.remove(setName(name));
      if (err instanceof ObjectRefusedError) {
        this.refused.set(name, { reason: err.reason, message: err.message });
        conditions = conditionsFor({ error: { stage: 'trust', message: err.message, condition: err.reason } }, generation);
        this.o.log.error({ resource: name, reason: err.reason }, `BpfProgram ${name}: object refused: ${err.message}`);
      } else {
        const message = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
        conditions = conditionsFor({ error: { stage: 'config', message } }, generation);
        this.o.log.error({ resource: name }, `BpfProgram ${name}: invalid spec: ${message}`);
      }
    }
    this.applied++;
    await this.writeStatus(name, conditions, generation);
  }

  private deleteObject(name: string): void {
    this.generations.delete(name);
    this.refused.delete(name);
    if (this.o.registry.remove(setName(name))) this.o.log.info({ resource: name }, `BpfProgram ${name} deleted: unloaded`);
  }

  private async writeStatus(name: string, conditions: Condition[], generation: number | undefined): Promise<void> {
    const patch = { status: { ...(generation !== undefined ? { observedGeneration: generation } : {}), conditions, nodes: { [this.o.node]: { conditions } } } };
    try {
      const res = await this.request(`/${encodeURIComponent(name)}/status`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify(patch),
      });
      if (!res.ok) this.o.log.warn({ resource: name, status: res.status }, `writing the status of BpfProgram ${name} failed`);
    } catch (err) {
      if (!this.stopped) this.o.log.warn({ resource: name, err: (err as Error).message }, `writing the status of BpfProgram ${name} failed`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => undefined);
  }
}

/** The in-cluster connection (service account token and API server address), or undefined outside a cluster. */
export async function inClusterConnection(): Promise<KubeConnection | undefined> {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  const { readFileSync } = await import('node:fs');
  const token = readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8').trim();
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, token };
}
