// A minimal Kubernetes API server for BpfProgram resources: list, watch (chunked JSON lines), PATCH
// status, with the real object and event shapes (no API server can run here).
import http from 'node:http';
import type { Condition } from '../../src/programs/watch.js';
import { exampleObject } from './support.js';

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid: string; generation: number; resourceVersion: string; creationTimestamp: string };
  spec: unknown;
}

let rv = 100;
export function resource(name: string, generation: number, spec: unknown): Obj {
  return {
    apiVersion: 'flowscope.io/v1alpha1',
    kind: 'BpfProgram',
    metadata: { name, uid: `uid-${name}`, generation, resourceVersion: String(++rv), creationTimestamp: '2026-01-01T00:00:00Z' },
    spec,
  };
}

export const writesSpec = (metric: string): unknown => ({
  object: exampleObject('writes_by_process'),
  metrics: { counters: [{ name: metric, help: 'writes', map: 'write_calls', labels: [{ name: 'pid', size: 4, decoders: [{ name: 'uint' }] }] }] },
});

/** A minimal API server for one resource type: list, watch (chunked JSON lines), PATCH status. */
export class FakeApiServer {
  readonly objects = new Map<string, Obj>();
  readonly patches: Array<{ name: string; contentType: string; body: { status: { conditions: Condition[]; observedGeneration?: number; nodes: Record<string, { conditions: Condition[] }> } } }> = [];
  private watchers = new Set<http.ServerResponse>();
  lists = 0;
  server = http.createServer((req, res) => this.handle(req, res));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const base = '/apis/flowscope.io/v1alpha1/bpfprograms';
    if (req.headers.authorization !== 'Bearer test-token') {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
      return;
    }
    if (req.method === 'GET' && u.pathname === base && u.searchParams.get('watch') === '1') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    if (req.method === 'GET' && u.pathname === base) {
      this.lists++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ apiVersion: 'flowscope.io/v1alpha1', kind: 'BpfProgramList', metadata: { resourceVersion: String(rv) }, items: [...this.objects.values()] }),
      );
      return;
    }
    const m = /^\/apis\/flowscope\.io\/v1alpha1\/bpfprograms\/([^/]+)\/status$/.exec(u.pathname);
    if (req.method === 'PATCH' && m) {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.patches.push({ name: decodeURIComponent(m[1]!), contentType: String(req.headers['content-type']), body: JSON.parse(body) });
        const obj = this.objects.get(decodeURIComponent(m[1]!));
        res.writeHead(obj ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(obj ?? { kind: 'Status', code: 404 }));
      });
      return;
    }
    res.writeHead(404).end();
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Obj): void {
    if (type === 'DELETED') this.objects.delete(obj.metadata.name);
    else this.objects.set(obj.metadata.name, obj);
    for (const w of this.watchers) w.write(`${JSON.stringify({ type, object: obj })}\n`);
  }

  /** The watch expired: 410 Gone as an ERROR event, then the stream ends. */
  expire(): void {
    for (const w of this.watchers) {
      w.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 } })}\n`);
      w.end();
    }
  }

  lastPatch(name: string): FakeApiServer['patches'][number] | undefined {
    return [...this.patches].reverse().find((p) => p.name === name);
  }

  get watching(): number {
    return this.watchers.size;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

