// Requests in the UI: a hub fed the wire's request figures (as agents with --l7 send them; the
// capture itself is proven in test/hub/requests.test.ts) shows an edge's requests per second, error
// ratio, status classes and p50/p99 in its panel, and judges the edge by its failed requests (the
// map's colour); an edge without requests shows no request section.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../hub/support.js';
import { repoPath } from '../../src/lib/paths.js';
import { REQUEST_BUCKETS } from '../../src/model/requests.js';
import type { wire } from '../../src/model/index.js';
import { chromiumMissing, launch, screenshot, watchPage, type Browser } from './browser.js';
import { sendToHub, syntheticCluster, syntheticMessages } from './synthetic.js';

const skip = chromiumMissing();
let hub: TestHub;
let browser: Browser;
const cluster = syntheticCluster({ workloads: 6, edges: 4 });
const [withRequests, without] = cluster.edges.map(([c, s]) => ({ client: cluster.workloads[c]!, server: cluster.workloads[s]! }));
/** 200 requests in the interval: 170 answered 2xx, 10 4xx, 20 5xx (10% failed); durations 5-10 ms, one slow. */
const REQUESTS: wire.RequestsV1 = { count: 200, errors: 20, by_status: { '2xx': 170, '4xx': 10, '5xx': 20 }, duration: { counts: REQUEST_BUCKETS.map((b) => (b === 0.01 ? 198 : b === 0.5 ? 2 : 0)), sum: 198 * 0.007 + 2 * 0.3, count: 200 } };

before(async () => {
  if (skip) return;
  hub = await startTestHub({ webDir: repoPath('dist/web') });
  const end = Date.now() - 20_000;
  const messages = syntheticMessages(cluster, end, 0);
  for (const m of messages) {
    if (m.kind !== 'batch') continue;
    for (const r of m.tcp) {
      const pair = r.role === 'client' ? r.local.workload === withRequests!.client.name && r.peer === withRequests!.server.addr : r.local.workload === withRequests!.server.name && r.peer === withRequests!.client.addr;
      if (pair) r.requests = REQUESTS;
    }
  }
  await sendToHub(hub.url, messages);
  await hub.settle();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hub?.destroy();
});

test("an edge's panel shows its requests: rate, error ratio, status classes, p50/p99; 5xx make it failing", { skip }, async () => {
  const graph = (await hub.get('/api/v1/graph?view=workload&from=-5m')).body as { edges: Array<{ id: string; source: string; target: string; requests?: number; requests_by_status?: Record<string, number> }> };
  const edge = graph.edges.find((e) => e.source.endsWith(`/${withRequests!.client.name}`) && e.target.endsWith(`/${withRequests!.server.name}`))!;
  assert.equal(edge.requests, 200, JSON.stringify(edge));
  assert.deepEqual(edge.requests_by_status, { '2xx': 170, '4xx': 10, '5xx': 20 });

  const page = await browser.context.newPage();
  const trouble = await watchPage(page);
  await page.goto(`${hub.url}/?view=workload&tab=table&range=5m`);
  await page.getByTestId('edge-table').locator('tbody tr').first().waitFor();
  const name = (w: { namespace: string; name: string }) => w.name;
  await page.getByRole('button', { name: new RegExp(`Details of .*${name(withRequests!.client)} to .*${name(withRequests!.server)} port`) }).click();
  const panel = page.getByTestId('details');
  const requests = panel.getByTestId('requests');
  await requests.waitFor();
  const text = await requests.innerText();
  // 200 requests in a 5-minute window: 0.67 per second.
  assert.match(text, /requests\/s\s*0\.67 \(200 in the window\)/);
  assert.match(text, /errors\s*10% \(20: 5xx, gRPC not OK\)/);
  assert.equal(await panel.getByTestId('request-statuses').innerText(), '5xx 20 · 4xx 10 · 2xx 170', 'errors first, then by count');
  assert.match(text, /p50 \/ p99\s*\d+(\.\d+)? ms \/ \d+ ms/);
  assert.equal(await panel.locator('.health').first().textContent(), 'failing', 'the edge is judged by its failed requests');
  assert.match(await panel.locator('.reasons').innerText(), /10% of requests failed \(5xx 20\)/);
  // The breakdown counts the failed requests too.
  const breakdown = panel.getByTestId('breakdown');
  await breakdown.locator('table tbody tr').first().waitFor();
  assert.match(await breakdown.locator('p.muted').first().innerText(), /, 20 failed requests/);
  const headers = await breakdown.locator('thead th').allInnerTexts();
  const col = headers.indexOf('Failed requests');
  assert.ok(col > 0, headers.join(' | '));
  const cells = await breakdown.locator('tbody tr').evaluateAll((rows, c) => rows.map((r) => (r as unknown as { children: Array<{ textContent: string }> }).children[c]!.textContent), col);
  assert.deepEqual(cells, ['20', '20'], 'each end\'s part (one pod each) holds the 20');
  await screenshot(page, 'edge-panel-requests');

  // An edge whose agents captured no requests has no request section.
  await page.getByRole('button', { name: new RegExp(`Details of .*${name(without!.client)} to .*${name(without!.server)} port`) }).click();
  await panel.locator('h2', { hasText: without!.server.name }).waitFor();
  assert.equal(await panel.getByTestId('requests').count(), 0);
  assert.deepEqual(trouble.errors, []);
  await page.close();
});
