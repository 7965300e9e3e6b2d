// A local server speaking the Kubernetes list/watch protocol (the one mock the project allows):
// paged lists (limit/continue) with a resourceVersion, watches from a resourceVersion with
// ADDED/MODIFIED/DELETED events, BOOKMARK events, and 410 Gone ("too old resource version") as an
// ERROR event in a 200 stream, the way kube-apiserver sends it after its watch cache moved on.
import http from 'node:http';
import type { Socket } from 'node:net';
import { writeFileSync } from 'node:fs';

export const PATHS = {
  pods: '/api/v1/pods',
  services: '/api/v1/services',
  endpointslices: '/apis/discovery.k8s.io/v1/endpointslices',
  nodes: '/api/v1/nodes',
  replicasets: '/apis/apps/v1/replicasets',
  jobs: '/apis/batch/v1/jobs',
} as const;
export type Resource = keyof typeof PATHS;

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string } & Record<string, unknown> } & Record<string, unknown>;
interface Event {
  resource: Resource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
  rv: number;
}

const keyOf = (o: Obj): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class FakeApiServer {
  private rv: number;
  private compactedBelow: number;
  private readonly store = new Map<Resource, Map<string, Obj>>();
  private readonly history: Event[] = [];
  private readonly sorted = new Map<Resource, Obj[]>();
  private readonly watchers = new Set<{ resource: Resource; res: http.ServerResponse }>();
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  readonly requests: string[] = [];
  port = 0;

  constructor(startRv = 1000) {
    this.rv = startRv;
    this.compactedBelow = startRv;
    for (const r of Object.keys(PATHS) as Resource[]) this.store.set(r, new Map());
  }

  async start(port = 0): Promise<number> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Goes away abruptly: open watches are cut, the port stops answering. */
  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }

  kubeconfig(path: string): void {
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:${this.port}
    # client-node refuses plain HTTP unless told to skip TLS verification
    insecure-skip-tls-verify: true
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
current-context: fake
users:
- name: tester
  user:
    token: not-a-secret-test-token
`,
    );
  }

  private emit(resource: Resource, type: Event['type'], object: Obj): void {
    const rv = ++this.rv;
    const o = structuredClone(object);
    o.metadata.resourceVersion = String(rv);
    const store = this.store.get(resource)!;
    this.sorted.delete(resource);
    if (type === 'DELETED') store.delete(keyOf(o));
    else store.set(keyOf(o), o);
    const ev: Event = { resource, type, object: o, rv };
    this.history.push(ev);
    for (const w of this.watchers) if (w.resource === resource) w.res.write(`${JSON.stringify({ type, object: o })}\n`);
  }

  add(resource: Resource, o: Obj): void {
    this.emit(resource, this.store.get(resource)!.has(keyOf(o)) ? 'MODIFIED' : 'ADDED', o);
  }

  delete(resource: Resource, o: Obj): void {
    const cur = this.store.get(resource)!.get(keyOf(o));
    if (cur) this.emit(resource, 'DELETED', cur);
  }

  /** BOOKMARK events on every open watch (only metadata.resourceVersion, as the API server sends). */
  bookmark(): void {
    for (const w of this.watchers) {
      const kind = w.resource === 'pods' ? 'Pod' : 'Object';
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind, apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } })}\n`);
    }
  }

  /** The watch cache moves on: every open watch gets 410 Gone and ends; older versions stay gone. */
  expire(): void {
    this.compactedBelow = this.rv + 1;
    for (const w of this.watchers) {
      w.res.write(`${JSON.stringify(gone(this.rv))}\n`);
      w.res.end();
    }
    this.watchers.clear();
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const resource = (Object.keys(PATHS) as Resource[]).find((r) => PATHS[r] === url.pathname);
    if (!resource) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      return;
    }
    if (url.searchParams.get('watch') === 'true') return this.watch(resource, url, res);
    // Sorted once per change (lists come in pages: re-sorting 100,000 objects per page is too slow).
    let items = this.sorted.get(resource);
    if (!items) {
      items = [...this.store.get(resource)!.values()].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
      this.sorted.set(resource, items);
    }
    const limit = Number(url.searchParams.get('limit') ?? 0) || items.length;
    const cont = url.searchParams.get('continue');
    const from = cont ? Number(cont) : 0;
    const page = items.slice(from, from + limit);
    const next = from + limit < items.length ? String(from + limit) : undefined;
    const kind = { pods: 'PodList', services: 'ServiceList', endpointslices: 'EndpointSliceList', nodes: 'NodeList', replicasets: 'ReplicaSetList', jobs: 'JobList' }[resource];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind, apiVersion: PATHS[resource].startsWith('/api/') ? 'v1' : PATHS[resource].split('/').slice(2, 4).join('/'), metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) }, items: page }));
  }

  private watch(resource: Resource, url: URL, res: http.ServerResponse): void {
    const since = Number(url.searchParams.get('resourceVersion') || this.rv);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (since < this.compactedBelow - 1) {
      res.write(`${JSON.stringify(gone(since))}\n`);
      res.end();
      return;
    }
    for (const ev of this.history) if (ev.resource === resource && ev.rv > since) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
    const w = { resource, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

function gone(rv: number): unknown {
  return { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rv} (${rv + 1})`, reason: 'Expired', code: 410 } };
}

// Real object shapes (trimmed of nothing the agent reads; as kubectl get -o json shows them).
export function node(name: string, ip: string, zone: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: crypto.randomUUID(), labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zone, 'topology.kubernetes.io/region': zone.slice(0, -1) } },
    spec: { podCIDR: '10.244.0.0/24' },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export function replicaSet(ns: string, name: string, deployment: string): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: ns, uid: crypto.randomUUID(), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: crypto.randomUUID(), controller: true, blockOwnerDeletion: true }] },
    spec: { replicas: 1, selector: { matchLabels: { app: deployment } } },
    status: { replicas: 1 },
  };
}

export function pod(o: { ns: string; name: string; uid?: string; node: string; ip: string; rs: string; hash: string; container: string; image: string; containerId?: string }): Obj {
  const cid = o.containerId ?? crypto.randomUUID().replace(/-/g, '').padEnd(64, '0');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.ns,
      uid: o.uid ?? crypto.randomUUID(),
      labels: { app: o.rs.slice(0, -(o.hash.length + 1)), 'pod-template-hash': o.hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.rs, uid: crypto.randomUUID(), controller: true, blockOwnerDeletion: true }],
      creationTimestamp: new Date().toISOString(),
    },
    spec: { nodeName: o.node, containers: [{ name: o.container, image: o.image, ports: [{ containerPort: 8080, protocol: 'TCP' }] }], serviceAccountName: 'default', restartPolicy: 'Always' },
    status: {
      phase: 'Running',
      hostIP: '10.0.0.99',
      podIP: o.ip,
      podIPs: [{ ip: o.ip }],
      containerStatuses: [{ name: o.container, image: o.image, imageID: `${o.image}@sha256:${'0'.repeat(64)}`, containerID: `containerd://${cid}`, ready: true, restartCount: 0, started: true, state: { running: { startedAt: new Date().toISOString() } } }],
    },
  };
}

export function service(ns: string, name: string, clusterIP: string, port: number): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, uid: crypto.randomUUID() },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: port }], selector: { app: name } },
    status: { loadBalancer: {} },
  };
}

export function endpointSlice(ns: string, svc: string, ips: string[], port: number): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svc}-x7k2p`, namespace: ns, uid: crypto.randomUUID(), labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false } })),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}
