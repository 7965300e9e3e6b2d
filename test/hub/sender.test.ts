// The agent's hub sender against a real hub: batches wait while the hub is away and arrive once;
// a lost answer is resent and counted once; a full buffer drops the oldest and both sides say so;
// batches go as frames, as JSON columns to a hub that refuses frames, as records to one that
// refuses columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { HubSender } from '../../src/agent/export/hub-sender.js';
import { batch, hello, tcp, type AgentRun } from './batches.js';
import { startTestHub } from './support.js';
import { waitFor } from '../support/run.js';

const log = pino({ level: 'silent' });
const fast = { initialBackoffMs: 50, maxBackoffMs: 200, log };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const start = new Date(Date.now() - 60_000).toISOString();
const client: AgentRun = { agent: 'node-a', node: 'node-a', zone: 'z', start };
const server: AgentRun = { agent: 'node-b', node: 'node-b', zone: 'z', start };

/** Interval i of a client and a server agent: i connections each way. */
function pairAt(seq: number, t: number) {
  return {
    c: batch(client, seq, t - 1000, t, [tcp({ role: 'client', process: 'wrk', peer: '10.9.0.2', port: 80, local_addrs: ['10.9.0.1'], opened: seq, closed: seq })]),
    s: batch(server, seq, t - 1000, t, [tcp({ role: 'server', process: 'nginx', peer: '10.9.0.1', port: 80, local_addrs: ['10.9.0.2'], opened: seq, closed: seq })]),
  };
}

async function edgeTotals(url: string): Promise<{ client: number; server: number; sides: string[] }> {
  const g = (await (await fetch(`${url}/api/v1/graph?view=process&from=-10m&sides=true`)).json()) as { edges: Array<{ connections: number; sides: string[]; server: { connections: number } | null }> };
  const e = g.edges[0];
  return { client: e?.connections ?? 0, server: e?.server?.connections ?? 0, sides: e?.sides ?? [] };
}

test('while the hub is away batches wait, then arrive once each', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const a = new HubSender({ url, hello: () => hello(client), ...fast });
  const b = new HubSender({ url, hello: () => hello(server), ...fast });
  a.start();
  b.start();
  const t0 = Date.now() - 30_000;
  for (let i = 1; i <= 20; i++) {
    const p = pairAt(i, t0 + i * 1000);
    a.enqueue(p.c);
    b.enqueue(p.s);
  }
  await waitFor(() => a.stats.failedRequests > 2, 5000, 'the sender to retry');
  assert.equal(a.stats.buffered, 20);
  const hub = await startTestHub({ listen: { host: '127.0.0.1', port } });
  try {
    await waitFor(() => a.stats.buffered === 0 && b.stats.buffered === 0, 15_000, 'the backlog to arrive');
    await hub.settle();
    const total = (20 * 21) / 2;
    assert.deepEqual(await edgeTotals(url), { client: total, server: total, sides: ['client', 'server'] });
    assert.equal(a.stats.dropped, 0);
  } finally {
    await a.stop(100);
    await b.stop(100);
    await hub.destroy();
  }
});

test('a lost answer is resent and the hub counts the batch once', async () => {
  const hub = await startTestHub();
  // A proxy that loses the hub's answer to the first requests (the hub has applied them).
  let lose = 3;
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void fetch(`${hub.url}${req.url}`, { method: 'POST', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks) }).then(async (r) => {
        const text = await r.text();
        if (lose-- > 0) res.writeHead(502).end('answer lost');
        else res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
      });
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const a = new HubSender({ url, hello: () => hello(client), ...fast });
  const b = new HubSender({ url, hello: () => hello(server), ...fast });
  try {
    a.start();
    b.start();
    const t0 = Date.now() - 30_000;
    for (let i = 1; i <= 10; i++) {
      const p = pairAt(i, t0 + i * 1000);
      a.enqueue(p.c);
      b.enqueue(p.s);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => a.stats.buffered === 0 && b.stats.buffered === 0, 15_000, 'every batch to be acknowledged');
    await hub.settle();
    assert.deepEqual(await edgeTotals(hub.url), { client: 55, server: 55, sides: ['client', 'server'] });
    const metrics = (await hub.get('/metrics')).text;
    assert.match(metrics, /flowscope_hub_ingest_batches_total\{agent="node-[ab]",result="duplicate"\} [1-9]/, 'the resends were seen as duplicates');
  } finally {
    await a.stop(100);
    await b.stop(100);
    proxy.close();
    await hub.destroy();
  }
});

test('a full buffer drops the oldest batches, counted by the agent and reported to the hub', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const a = new HubSender({ url, hello: () => hello(client), ...fast, maxBufferBytes: 3000 });
  a.start();
  const t0 = Date.now() - 30_000;
  let lastSaid = 0;
  for (let i = 1; i <= 40; i++) {
    lastSaid = a.stats.dropped;
    a.enqueue({ ...pairAt(i, t0 + i * 500).c, losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: lastSaid } });
  }
  assert.ok(a.stats.dropped > 0, 'the buffer overflowed');
  assert.ok(a.stats.bufferedBytes <= 3000);
  const hub = await startTestHub({ listen: { host: '127.0.0.1', port } });
  try {
    await waitFor(() => a.stats.buffered === 0, 15_000, 'the rest to arrive');
    const metrics = (await hub.get('/metrics')).text;
    const reported = Number(/flowscope_hub_agent_dropped_batches\{agent="node-a"\} (\d+)/.exec(metrics)?.[1]);
    // The last batch says how many were dropped before it was queued.
    assert.equal(reported, lastSaid);
    assert.ok(lastSaid > 0);
    assert.equal(a.stats.sent + a.stats.dropped, 40, 'every batch was sent or counted as dropped');
  } finally {
    await a.stop(100);
    await hub.destroy();
  }
});

test('stopping sends the backlog at once, even in the middle of a long backoff', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Backoff bounds of 20-60 s: without the flush, nothing would go out within stop's 5 s.
  const a = new HubSender({ url, hello: () => hello(client), log, initialBackoffMs: 20_000, maxBackoffMs: 60_000, random: () => 0.99 });
  a.start();
  const t0 = Date.now() - 30_000;
  for (let i = 1; i <= 5; i++) a.enqueue(pairAt(i, t0 + i * 1000).c);
  await waitFor(() => a.stats.failedRequests >= 1, 5000, 'a first failed attempt');
  const hub = await startTestHub({ listen: { host: '127.0.0.1', port } });
  try {
    const started = Date.now();
    await a.stop(5000);
    assert.equal(a.stats.buffered, 0, 'everything went out');
    assert.equal(a.stats.sent, 5);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await hub.destroy();
  }
});

test('a hub that does not read columns (an older hub) gets records: the buffered batches too, every count once', async () => {
  const hub = await startTestHub();
  // An older hub in front of this one: it refuses frames as main's hub did before them (415
  // naming the content type), a batch without `tcp` as it did before columns (400 naming
  // `[i].tcp`, checked against that build) and passes record batches on.
  let refused = 0;
  let columnsSeen = 0;
  let framesRefused = 0;
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.headers['content-type'] !== 'application/json') {
        framesRefused++;
        res.writeHead(415, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `content-type: '${req.headers['content-type']}' is not supported: send application/json`, field: 'content-type' }));
        return;
      }
      const messages = JSON.parse(gunzipSync(body).toString('utf8')) as Array<{ kind: string; tcp?: unknown; tcp_columns?: unknown }>;
      const at = messages.findIndex((m) => m.kind === 'batch' && m.tcp === undefined);
      columnsSeen += messages.filter((m) => m.tcp_columns !== undefined).length;
      if (at >= 0) {
        refused++;
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `[${at}].tcp: Invalid input: expected array, received undefined`, field: `[${at}].tcp` }));
        return;
      }
      void fetch(`${hub.url}${req.url}`, { method: 'POST', headers: req.headers as Record<string, string>, body }).then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const a = new HubSender({ url, hello: () => hello(client), ...fast });
  const b = new HubSender({ url, hello: () => hello(server), ...fast });
  try {
    const t0 = Date.now() - 30_000;
    for (let i = 1; i <= 6; i++) {
      const p = pairAt(i, t0 + i * 1000);
      a.enqueue(p.c);
      b.enqueue(p.s);
    }
    assert.equal(a.sendsColumns, true, 'columns by default');
    assert.equal(a.sendsFrames, true, 'frames by default');
    a.start();
    b.start();
    await waitFor(() => a.stats.buffered === 0 && b.stats.buffered === 0, 15_000, 'every batch to be acknowledged');
    await hub.settle();
    assert.deepEqual(await edgeTotals(hub.url), { client: 21, server: 21, sides: ['client', 'server'] });
    assert.equal(a.sendsColumns, false);
    assert.equal(a.sendsFrames, false);
    assert.ok(framesRefused >= 2, `each sender's frames were refused once (${framesRefused})`);
    assert.equal(a.stats.rejected + b.stats.rejected, 0, 'nothing dropped');
    assert.ok(refused >= 2 && columnsSeen >= 2, `each sender was refused once (${refused}, ${columnsSeen})`);
  } finally {
    await a.stop(100);
    await b.stop(100);
    proxy.close();
    await hub.destroy();
  }
});
