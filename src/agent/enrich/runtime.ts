// Container names, images and labels from the runtime's own API over its unix socket. Docker and
// Podman both answer the Docker Engine API (/containers/json, /containers/<id>/json); containerd
// and CRI-O speak CRI over gRPC, which is not implemented: their containers keep the id from the
// cgroup path (and, under Kubernetes, names from the API server), and /capabilities says so.
import http from 'node:http';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';

export interface ContainerMeta {
  id: string;
  name: string;
  image: string;
  /** The image's tag (or digest) as version; "" when untagged. */
  version: string;
  labels: Record<string, string>;
  ips: string[];
  runtime: string;
}

export interface RuntimeStatus {
  runtime: string;
  socket: string;
  state: 'connected' | 'unavailable' | 'error';
  reason?: string;
  containers: number;
}

export const DEFAULT_SOCKETS: Array<{ runtime: string; socket: string }> = [
  { runtime: 'podman', socket: '/run/podman/podman.sock' },
  { runtime: 'docker', socket: '/run/docker.sock' },
  { runtime: 'docker', socket: '/var/run/docker.sock' },
];
export const CRI_SOCKETS: Array<{ runtime: string; socket: string }> = [
  { runtime: 'containerd', socket: '/run/containerd/containerd.sock' },
  { runtime: 'cri-o', socket: '/run/crio/crio.sock' },
];

/** Image reference → tag (or digest) used as the version label. */
export function imageVersion(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(colon + 1) : '';
}

function getJson(socketPath: string, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: 'GET', headers: { host: 'localhost' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > 64 * 1024 * 1024) req.destroy(new Error('answer larger than 64 MiB'));
      });
      res.on('end', () => {
        if (res.statusCode === 404) return reject(Object.assign(new Error('not found'), { notFound: true }));
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`answer is not JSON: ${JSON.stringify(body.slice(0, 60))}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function ipsOf(networkSettings: unknown): string[] {
  const ips = new Set<string>();
  if (!isObj(networkSettings)) return [];
  if (str(networkSettings.IPAddress)) ips.add(str(networkSettings.IPAddress));
  if (str(networkSettings.GlobalIPv6Address)) ips.add(str(networkSettings.GlobalIPv6Address));
  const nets = networkSettings.Networks;
  if (isObj(nets)) {
    for (const n of Object.values(nets)) {
      if (!isObj(n)) continue;
      if (str(n.IPAddress)) ips.add(str(n.IPAddress));
      if (str(n.GlobalIPv6Address)) ips.add(str(n.GlobalIPv6Address));
    }
  }
  return [...ips];
}

/** One entry of GET /containers/json (Docker Engine API shape, also served by Podman). */
export function parseListEntry(v: unknown, runtime: string): ContainerMeta | undefined {
  if (!isObj(v) || !/^[0-9a-f]{64}$/.test(str(v.Id))) return undefined;
  const names = Array.isArray(v.Names) ? v.Names.map(str) : [];
  const image = str(v.Image);
  return { id: str(v.Id), name: (names[0] ?? '').replace(/^\//, ''), image, version: imageVersion(image), labels: labelsOf(v.Labels), ips: ipsOf(v.NetworkSettings), runtime };
}

/** GET /containers/<id>/json. */
export function parseInspect(v: unknown, runtime: string): ContainerMeta | undefined {
  if (!isObj(v) || !/^[0-9a-f]{64}$/.test(str(v.Id))) return undefined;
  const config = isObj(v.Config) ? v.Config : {};
  const image = str(config.Image) || str(v.ImageName) || str(v.Image);
  return { id: str(v.Id), name: str(v.Name).replace(/^\//, ''), image, version: imageVersion(image), labels: labelsOf(config.Labels), ips: ipsOf(v.NetworkSettings), runtime };
}

/** A Docker Engine API endpoint (Docker or Podman) with a cache of running containers. */
export class RuntimeClient {
  readonly status: RuntimeStatus;
  private readonly byId = new Map<string, ContainerMeta>();
  private readonly byIp = new Map<string, ContainerMeta>();
  private readonly inflight = new Set<string>();
  private readonly missing = new Map<string, number>();
  private refreshing = false;
  private lastRefreshMs = 0;
  private warned = false;
  errors = 0;

  constructor(
    runtime: string,
    readonly socket: string,
    private readonly log: Logger,
    private readonly options: { timeoutMs?: number; refreshMs?: number; maxContainers?: number; onChange?: () => void; onError?: () => void } = {},
  ) {
    this.status = { runtime, socket, state: 'unavailable', reason: 'not contacted yet', containers: 0 };
  }

  get runtime(): string {
    return this.status.runtime;
  }

  container(id: string): ContainerMeta | undefined {
    return this.byId.get(id);
  }

  byAddress(ip: string): ContainerMeta | undefined {
    return this.byIp.get(ip);
  }

  private fail(err: unknown, what: string): void {
    this.errors++;
    this.options.onError?.();
    const reason = `${what}: ${(err as Error).message}`;
    const firstTime = this.status.state !== 'error' || this.status.reason !== reason;
    this.status.state = existsSync(this.socket) ? 'error' : 'unavailable';
    this.status.reason = existsSync(this.socket) ? reason : `socket ${this.socket} is absent`;
    if (firstTime && !this.warned) {
      this.warned = true;
      this.log.warn({ runtime: this.runtime, socket: this.socket, reason }, `${this.runtime} API on ${this.socket} did not answer as expected (${reason}); containers keep their ids without names. Check that the socket belongs to ${this.runtime} and is mounted read-only into the agent.`);
    }
  }

  private ok(): void {
    if (this.status.state !== 'connected') {
      this.status.state = 'connected';
      delete this.status.reason;
      if (this.warned) this.log.warn({ runtime: this.runtime }, `${this.runtime} API answers again`);
      this.warned = false;
    }
  }

  private add(meta: ContainerMeta): void {
    const max = this.options.maxContainers ?? 20000;
    if (!this.byId.has(meta.id) && this.byId.size >= max) return;
    const old = this.byId.get(meta.id);
    if (old) for (const ip of old.ips) if (this.byIp.get(ip) === old) this.byIp.delete(ip);
    this.byId.set(meta.id, meta);
    for (const ip of meta.ips) this.byIp.set(ip, meta);
    this.status.containers = this.byId.size;
  }

  /** Re-lists running containers (at most every refreshMs unless forced). */
  async refresh(force = false): Promise<void> {
    const now = Date.now();
    if (this.refreshing || (!force && now - this.lastRefreshMs < (this.options.refreshMs ?? 2000))) return;
    this.refreshing = true;
    this.lastRefreshMs = now;
    try {
      const list = await getJson(this.socket, '/containers/json', this.options.timeoutMs ?? 2000);
      if (!Array.isArray(list)) throw new Error('answer to /containers/json is not a list');
      const seen = new Set<string>();
      let changed = false;
      for (const entry of list) {
        const meta = parseListEntry(entry, this.runtime);
        if (!meta) continue;
        seen.add(meta.id);
        const old = this.byId.get(meta.id);
        if (!old || old.name !== meta.name || old.ips.join() !== meta.ips.join()) {
          // The list lacks some details (Podman's compat list has no Config.Image tag); keep inspect's.
          this.add(old ? { ...old, ...meta, image: old.image || meta.image, version: old.version || meta.version } : meta);
          changed = true;
        }
      }
      for (const [id, meta] of this.byId) {
        if (seen.has(id)) continue;
        this.byId.delete(id);
        for (const ip of meta.ips) if (this.byIp.get(ip) === meta) this.byIp.delete(ip);
        changed = true;
      }
      this.status.containers = this.byId.size;
      this.ok();
      if (changed) this.options.onChange?.();
    } catch (err) {
      this.fail(err, 'listing containers');
    } finally {
      this.refreshing = false;
    }
  }

  /** Asks the runtime about a container id (once at a time; absent ids are not asked again for 10 s). */
  lookup(id: string): void {
    if (this.byId.has(id) || this.inflight.has(id)) return;
    const miss = this.missing.get(id);
    if (miss !== undefined && Date.now() - miss < 10_000) return;
    if (this.status.state === 'unavailable' && !existsSync(this.socket)) return;
    this.inflight.add(id);
    getJson(this.socket, `/containers/${id}/json`, this.options.timeoutMs ?? 2000)
      .then((v) => {
        const meta = parseInspect(v, this.runtime);
        if (!meta) throw new Error('inspect answer has no container id');
        this.add(meta);
        this.ok();
        this.options.onChange?.();
      })
      .catch((err: unknown) => {
        if ((err as { notFound?: boolean }).notFound) {
          if (this.missing.size > 10000) this.missing.clear();
          this.missing.set(id, Date.now());
          this.ok();
        } else this.fail(err, `inspecting container ${id.slice(0, 12)}`);
      })
      .finally(() => this.inflight.delete(id));
  }
}
