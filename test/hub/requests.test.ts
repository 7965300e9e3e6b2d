// Requests on the hub's edges: two agents with --l7 as two nodes (their own network namespaces),
// a real HTTP server that answers 200, 404 and 500 by path, and a real client that counts what it
// got. The hub's graph edge carries the client's counts by status class, both ends' own counts, the
// errors (the 500s) and durations; history returns the same totals over time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { flowscopeBin } from '../support/paths.js';
import { freePort } from '../support/agent.js';
import { commandExists, sh, waitFor } from '../support/run.js';
import { startTestHub, type TestHub } from './support.js';
import { createSegment, destroyCluster, graph, graphWhen, nodes, startIn, stopChild, type Node } from './cluster.js';

const [client, server] = nodes as [Node, Node, Node];
const agents: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'fs-hub-req-'));
let hub: TestHub | undefined;
let viaProm: TestHub | undefined;
let prometheus: ChildProcess | undefined;
after(async () => {
  if (prometheus) await stopChild(prometheus).catch(() => undefined);
  for (const a of agents) await stopChild(a).catch(() => undefined);
  await destroyCluster();
  await hub?.destroy();
  await viaProm?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** What the first test made, for the Prometheus path's. */
let made: { from: number; to: number; tally: Record<string, number>; ports: number[] } | undefined;

const SERVER = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code = 500 if self.path.startswith("/boom") else 404 if self.path.startswith("/missing") else 200
        body = b"ok" if code == 200 else b"no"
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
`;

// Keep-alive connections of 10 requests each; the client's own tally by status is the ground truth.
const CLIENT = `
import http.client, json, sys
host, port, paths = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
tally = {}
for i in range(0, len(paths), 10):
    c = http.client.HTTPConnection(host, port, timeout=5)
    for p in paths[i:i + 10]:
        c.request("GET", p); r = c.getresponse(); r.read()
        tally[str(r.status)] = tally.get(str(r.status), 0) + 1
    c.close()
print(json.dumps(tally))
`;

function startAgent(n: Node, hubUrl: string, port: number): ChildProcess {
  const proc = spawn(flowscopeBin, ['agent', '--netns', `/run/netns/${n.ns}`, '--node-name', n.name, '--zone', n.zone, '--hub', hubUrl, '--l7', '--no-flows', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  agents.push(proc);
  return proc;
}

interface RequestEdge {
  id: string;
  source: string;
  target: string;
  connections: number;
  requests?: number;
  request_errors?: number;
  requests_by_status?: Record<string, number>;
  request_p50_seconds?: number | null;
  request_p99_seconds?: number | null;
  client: { requests?: number; request_errors?: number } | null;
  server: { requests?: number; request_errors?: number } | null;
}

test('an agent with --l7 and --hub: the hub edge carries the client\'s request counts by status, errors, durations, and history', { timeout: 180_000 }, async () => {
  createSegment();
  hub = await startTestHub({ listen: { host: '127.0.0.1', port: await freePort() } });
  const ports = [await freePort(), await freePort()];
  const from = Date.now();
  const procs = [startAgent(client, hub.url, ports[0]!), startAgent(server, hub.url, ports[1]!)];
  for (const [i, p] of procs.entries()) {
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`agent exited: ${err}`);
        return fetch(`http://127.0.0.1:${ports[i]}/healthz`).then((r) => r.status === 200, () => false);
      },
      60_000,
      'an agent with --l7',
    );
  }
  startIn(server.ns, 'python3', ['-c', SERVER, server.addr, '8080']);
  await waitFor(() => sh('ip', ['netns', 'exec', server.ns, 'ss', '-Htln', 'sport = :8080']).includes(`${server.addr}:8080`), 10_000, 'the server');
  // The L7 tracer attaches when the agent starts; a moment for its programs to see new connections.
  await new Promise((r) => setTimeout(r, 2000));

  const paths = [...Array.from({ length: 31 }, (_, i) => `/ok/${i}`), ...Array.from({ length: 7 }, (_, i) => `/missing/${i}`), ...Array.from({ length: 5 }, (_, i) => `/boom/${i}`)];
  paths.sort(() => Math.random() - 0.5);
  const run = startIn(client.ns, 'python3', ['-c', CLIENT, server.addr, '8080', JSON.stringify(paths)]);
  let out = '';
  run.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await new Promise((r) => run.once('exit', r)), 0, 'the client ran');
  const tally = JSON.parse(out) as Record<string, number>;
  assert.deepEqual(tally, { '200': 31, '404': 7, '500': 5 }, 'the server answered as made');
  made = { from, to: 0, tally, ports };
  const expected = { '2xx': tally['200'], '4xx': tally['404'], '5xx': tally['500'] };
  const total = paths.length;

  const edgeOf = (g: { edges: unknown[] }) => (g.edges as RequestEdge[]).find((e) => e.source === `node:${client.name}` && e.target === `node:${server.name}`);
  const g = await graphWhen(hub, 'node', '&from=-15m&filter=port=8080', (x) => edgeOf(x)?.client?.requests === total && edgeOf(x)?.server?.requests === total, 60_000);
  const e = edgeOf(g);
  assert.ok(e, JSON.stringify(g.edges));
  assert.equal(e.connections, Math.ceil(total / 10), 'one connection per 10 requests (keep-alive)');
  assert.equal(e.requests, total, JSON.stringify(e));
  assert.deepEqual(e.requests_by_status, expected, 'by status class: the client\'s own counts');
  assert.equal(e.request_errors, tally['500'], 'errors: the 500s (404 is the client\'s problem)');
  assert.equal(e.client?.requests, total, 'the client\'s agent saw every request');
  assert.equal(e.server?.requests, total, 'the server\'s agent saw every request');
  assert.equal(e.server?.request_errors, tally['500']);
  assert.ok(typeof e.request_p50_seconds === 'number' && e.request_p50_seconds > 0 && e.request_p50_seconds < 1, `p50 ${e.request_p50_seconds}`);
  assert.ok(typeof e.request_p99_seconds === 'number' && e.request_p99_seconds >= e.request_p50_seconds && e.request_p99_seconds < 5, `p99 ${e.request_p99_seconds}`);

  // The answers as /api/openapi.json documents them (request members included), and the breakdown.
  const schemas = new Ajv2020({ strict: false, allErrors: true });
  schemas.addSchema({ ...(await hub.get('/api/openapi.json')).body, $id: 'https://flowscope.dev/openapi.json' });
  const conforms = (schema: string, body: unknown): void => {
    const validate = schemas.getSchema(`https://flowscope.dev/openapi.json#/components/schemas/${schema}`)!;
    assert.ok(validate(body), `${schema}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  };
  conforms('Graph', g);
  const doc = (await hub.get('/api/openapi.json')).body;
  assert.ok(doc.components.schemas.GraphEdge.properties.requests_by_status, 'documented');
  const bd = await hub.get(`/api/v1/breakdown?by=pod&from=-15m&edge=${encodeURIComponent(e.id)}`);
  assert.equal(bd.status, 200, bd.text);
  conforms('Breakdown', bd.body);
  assert.equal(bd.body.total.request_errors, tally['500']);

  // The process view: the same requests on the edge between the two programs.
  const procs2 = await graphWhen(hub, 'process', '&from=-15m&filter=port=8080', () => true);
  const pe = (procs2.edges as unknown as RequestEdge[]).filter((x) => x.target.startsWith(`process:${server.name}/`));
  assert.equal(pe.reduce((s, x) => s + (x.requests ?? 0), 0), total);

  // History: the per-step series add up to the same totals.
  const h = await hub.get(`/api/v1/history?edge=${encodeURIComponent(e.id)}&metric=requests,request_errors,request_error_ratio,request_p99_seconds&from=-15m&step=1m`);
  assert.equal(h.status, 200, h.text);
  const sum = (k: string) => (h.body.series[k] as Array<number | null>).reduce<number>((s, v) => s + (v ?? 0), 0);
  assert.equal(sum('requests'), total);
  assert.equal(sum('request_errors'), tally['500']);
  const ratios = (h.body.series.request_error_ratio as Array<number | null>).filter((v): v is number => v !== null);
  assert.ok(ratios.length > 0 && ratios.every((r) => r > 0 && r < 1), `error ratios ${ratios}`);
  assert.ok((h.body.series.request_p99_seconds as Array<number | null>).some((v) => v !== null && v > 0));
  // A metric it does not know: 400 naming the field.
  const bad = await hub.get('/api/v1/history?edge=x&metric=requests_total&from=-15m');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, 'metric');
  made.to = Date.now();
});

test('the Prometheus path: Debian\'s Prometheus scrapes the same agents; the hub computes the same requests with PromQL', { timeout: 120_000 }, async (t) => {
  if (!commandExists('prometheus')) {
    t.skip('Debian prometheus is not installed (scripts/setup.sh installs it)');
    return;
  }
  assert.ok(made, 'the first test made the traffic');
  const { tally, ports } = made;
  const targets = ports.map((p, i) => `      - targets: ['127.0.0.1:${p}']\n        labels: { node: ${nodes[i]!.name}, zone: ${nodes[i]!.zone} }`).join('\n');
  writeFileSync(join(dir, 'scrape.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: flowscope\n    static_configs:\n${targets}\n`);
  const promPort = await freePort();
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'scrape.yml')}`, `--storage.tsdb.path=${join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  await waitFor(() => fetch(`http://127.0.0.1:${promPort}/-/ready`).then((r) => r.ok, () => false), 30_000, 'Prometheus');
  viaProm = await startTestHub({ prometheusUrl: `http://127.0.0.1:${promPort}`, prometheusStepMs: 1000 });
  // The agents' counters hold every request since they started: the series are born with their
  // first scrape, so the window's growth is their value.
  const total = Object.values(tally).reduce((a, b) => a + b, 0);
  const edgeOf = async () => ((await graph(viaProm!, 'node', '&from=-2m&filter=port=8080')).edges as unknown as RequestEdge[]).find((e) => e.source === `node:${client.name}` && e.target === `node:${server.name}`);
  let e: RequestEdge | undefined;
  await waitFor(async () => (e = await edgeOf())?.requests === total && e?.server?.requests === total, 30_000, 'the Prometheus path to see the requests');
  assert.deepEqual(e!.requests_by_status, { '2xx': tally['200'], '4xx': tally['404'], '5xx': tally['500'] });
  assert.equal(e!.request_errors, tally['500']);
  assert.equal(e!.client?.requests, total);
  assert.ok(typeof e!.request_p99_seconds === 'number' && e!.request_p99_seconds > 0 && e!.request_p99_seconds < 5, `p99 ${e!.request_p99_seconds}`);
  // Histograms from the buckets' le labels (+Inf included): round trips have quantiles too.
  const rtt = (e as unknown as { rtt_p99_seconds: number | null }).rtt_p99_seconds;
  assert.ok(typeof rtt === 'number' && rtt > 0, `rtt p99 ${rtt}`);
});
