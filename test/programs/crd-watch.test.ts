// The BpfProgram watcher against a local server that speaks the Kubernetes list/watch protocol with
// real object shapes (no API server can run here): load on ADDED, reload on a new generation, unload
// on DELETED, relist after 410 Gone, status conditions written through the status subresource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import pino from 'pino';
import { ProgramRegistry } from '../../src/programs/registry.js';
import { BpfProgramWatcher, setName, type Condition } from '../../src/programs/watch.js';
import { systemDecoderEnv } from '../../src/programs/exporter.js';
import { loadedPrograms } from '../support/bpftool.js';
import { testObject } from '../support/paths.js';
import { waitFor } from '../support/run.js';
import { exampleObject } from './support.js';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid: string; generation: number; resourceVersion: string; creationTimestamp: string };
  spec: unknown;
}

let rv = 100;
function resource(name: string, generation: number, spec: unknown): Obj {
  return {
    apiVersion: 'flowscope.io/v1alpha1',
    kind: 'BpfProgram',
    metadata: { name, uid: `uid-${name}`, generation, resourceVersion: String(++rv), creationTimestamp: '2026-01-01T00:00:00Z' },
    spec,
  };
}

const writesSpec = (metric: string): unknown => ({
  object: exampleObject('writes_by_process'),
  metrics: { counters: [{ name: metric, help: 'writes', map: 'write_calls', labels: [{ name: 'pid', size: 4, decoders: [{ name: 'uint' }] }] }] },
});

/** A minimal API server for one resource type: list, watch (chunked JSON lines), PATCH status. */
class FakeApiServer {
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

const cond = (p: FakeApiServer['patches'][number] | undefined, type: string): Condition | undefined => p?.body.status.conditions.find((c) => c.type === type);

test('BpfProgram resources are loaded, reloaded, unloaded, and report status conditions', async () => {
  const api = new FakeApiServer();
  await api.start();
  api.event('ADDED', resource('writes', 1, writesSpec('crd_writes_total')));
  const registry = new ProgramRegistry(systemDecoderEnv());
  const watcher = new BpfProgramWatcher({ connection: { server: api.url, token: 'test-token' }, node: 'node-a', registry, log: pino({ level: 'silent' }), retryMs: 100 });
  watcher.start();
  try {
    // Listed at start: loaded and attached, conditions written for this node.
    await waitFor(() => api.lastPatch('writes'), 10_000, 'the first status');
    let p = api.lastPatch('writes')!;
    assert.equal(p.contentType, 'application/merge-patch+json');
    assert.equal(cond(p, 'Loaded')?.status, 'True');
    assert.equal(cond(p, 'Attached')?.status, 'True');
    assert.match(cond(p, 'Attached')?.message ?? '', /count_writes → tracepoint\/syscalls\/sys_enter_write/);
    assert.equal(cond(p, 'Error')?.status, 'False');
    assert.equal(p.body.status.observedGeneration, 1);
    assert.deepEqual(p.body.status.nodes['node-a']?.conditions.map((c) => c.type), ['Loaded', 'Attached', 'Error']);
    assert.deepEqual(registry.get(setName('writes'))?.status.metrics, ['crd_writes_total']);
    await waitFor(() => api.watching === 1, 5000, 'the watch');

    // A new generation reloads with the new spec.
    api.event('MODIFIED', resource('writes', 2, writesSpec('crd_writes_v2_total')));
    await waitFor(() => api.lastPatch('writes')?.body.status.observedGeneration === 2, 10_000, 'the reload');
    assert.deepEqual(registry.get(setName('writes'))?.status.metrics, ['crd_writes_v2_total']);
    const fd = openSync('/dev/null', 'w');
    for (let i = 0; i < 5; i++) writeSync(fd, 'x');
    closeSync(fd);
    const counted = new RegExp(`crd_writes_v2_total\\{pid="${process.pid}"\\} (\\d+)`).exec(registry.render());
    assert.ok(counted && Number(counted[1]) >= 5, 'the reloaded program counts this process\'s writes');
    assert.equal(loadedPrograms().filter((x) => x.name === 'count_writes').length, 1, 'the old version is unloaded');

    // A status-only update (same generation) changes nothing.
    api.event('MODIFIED', resource('writes', 2, writesSpec('crd_writes_v2_total')));
    // An ELF inline as base64 (as kube-bpf's resource carried it) that the verifier rejects.
    api.event('ADDED', resource('broken', 1, {
      object_base64: readFileSync(testObject('rejected')).toString('base64'),
      metrics: { counters: [{ name: 'broken_total', help: 'x', map: 'values', labels: [{ name: 'k', size: 4 }] }] },
    }));
    await waitFor(() => api.lastPatch('broken'), 10_000, 'the status of the broken program');
    p = api.lastPatch('broken')!;
    assert.equal(cond(p, 'Loaded')?.status, 'False');
    assert.equal(cond(p, 'Error')?.status, 'True');
    assert.equal(cond(p, 'Error')?.reason, 'VerifierRejected');
    assert.match(cond(p, 'Error')?.message ?? '', /invalid mem access 'map_value_or_null'/);
    assert.equal(api.patches.filter((x) => x.name === 'writes').length, 2, 'one status per generation');

    // A spec that does not validate: Error with the field.
    api.event('ADDED', resource('invalid', 1, { object: '/x.bpf.o', metrics: { counters: [{ name: 'x_total' }] } }));
    await waitFor(() => api.lastPatch('invalid'), 10_000, 'the status of the invalid spec');
    assert.equal(cond(api.lastPatch('invalid'), 'Error')?.reason, 'SpecInvalid');
    assert.match(cond(api.lastPatch('invalid'), 'Error')?.message ?? '', /metrics\.counters\[0\]: missing required field 'help'/);

    // The watch expires (410 Gone): the watcher lists again, and finds 'writes' deleted meanwhile.
    const lists = api.lists;
    api.objects.delete('writes');
    api.expire();
    await waitFor(() => api.lists > lists && registry.get(setName('writes')) === undefined, 10_000, 'the relist');
    assert.equal(loadedPrograms().filter((x) => x.name === 'count_writes').length, 0, 'deleted resource unloaded');

    // DELETED through the watch unloads too.
    await waitFor(() => api.watching === 1, 5000, 'the new watch');
    api.event('ADDED', resource('writes2', 1, writesSpec('crd_writes2_total')));
    await waitFor(() => registry.get(setName('writes2'))?.ok, 10_000, 'writes2 loaded');
    api.event('DELETED', resource('writes2', 1, writesSpec('crd_writes2_total')));
    await waitFor(() => registry.get(setName('writes2')) === undefined, 10_000, 'writes2 unloaded');
  } finally {
    await watcher.stop();
    registry.close();
    await api.stop();
  }
});
