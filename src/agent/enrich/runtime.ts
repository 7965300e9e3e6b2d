// Container names, images and labels from the runtime's own API over its unix socket. Docker and
// Podman both answer the Docker Engine API (/containers/json, /containers/<id>/json), spoken here;
// containerd and CRI-O speak CRI over gRPC (cri.ts).
import http from 'node:http';
import { ContainerSource, type ContainerMeta } from './container-source.js';

export type { ContainerMeta, RuntimeStatus } from './container-source.js';

export const DEFAULT_SOCKETS: Array<{ runtime: string; socket: string }> = [
  { runtime: 'podman', socket: '/run/podman/podman.sock' },
  { runtime: 'docker', socket: '/run/docker.sock' },
  { runtime: 'docker', socket: '/var/run/docker.sock' },
];
export const CRI_SOCKETS: Array<{ runtime: string; socket: string }> = [
  { runtime: 'containerd', socket: '/run/containerd/containerd.sock' },
  { runtime: 'cri-o', socket: '/run/crio/crio.sock' },
];
/** Runtimes spoken to with CRI (cri.ts), not the Docker Engine API. */
export const isCriRuntime = (runtime: string): boolean => CRI_SOCKETS.some((s) => s.runtime === runtime);

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

/** A Docker Engine API endpoint (Docker or Podman). */
export class RuntimeClient extends ContainerSource {
  readonly api = 'API';

  protected hint(): string {
    return `Check that the socket belongs to ${this.runtime} and is mounted read-only into the agent.`;
  }

  protected async list(): Promise<ContainerMeta[]> {
    const list = await getJson(this.socket, '/containers/json', this.timeoutMs);
    if (!Array.isArray(list)) throw new Error('answer to /containers/json is not a list');
    return list.map((entry) => parseListEntry(entry, this.runtime)).filter((m): m is ContainerMeta => m !== undefined);
  }

  protected override merge(old: ContainerMeta | undefined, listed: ContainerMeta): ContainerMeta {
    // The list lacks some details (Podman's compat list has no Config.Image tag); keep inspect's.
    return old ? { ...old, ...listed, image: old.image || listed.image, version: old.version || listed.version } : listed;
  }

  protected async inspect(id: string): Promise<ContainerMeta | undefined> {
    try {
      const meta = parseInspect(await getJson(this.socket, `/containers/${id}/json`, this.timeoutMs), this.runtime);
      if (!meta) throw new Error('inspect answer has no container id');
      return meta;
    } catch (err) {
      if ((err as { notFound?: boolean }).notFound) return undefined;
      throw err;
    }
  }
}
