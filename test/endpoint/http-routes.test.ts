// The agent's and exporter's routes on real sockets: concurrent scrapes share one render, HEAD does not
// render, a flood beyond the bound is told to come back, and detail pages follow the listen address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startHttpServer, detailsServed, type HttpSources } from '../../src/lib/http.js';
import { freePort } from '../support/agent.js';
import { request } from '../support/https.js';

function sources(renderMs: number): HttpSources & { renders: number } {
  const s = {
    renders: 0,
    metrics: async () => {
      s.renders++;
      await new Promise((r) => setTimeout(r, renderMs));
      return '# HELP x_total x\n# TYPE x_total counter\nx_total 1\n';
    },
    health: () => ({ ok: true, detail: {} }),
    capabilities: () => ({ secret: 'details' }),
    connections: () => ({ edges: [] }),
  };
  return s;
}

test('30 concurrent scrapes during one render share it; HEAD renders nothing', async () => {
  const src = sources(500);
  const port = await freePort();
  const e = await startHttpServer({ host: '127.0.0.1', port }, src, pino({ level: 'silent' }));
  try {
    const replies = await Promise.all(Array.from({ length: 30 }, () => request(`http://127.0.0.1:${port}/metrics`)));
    assert.ok(replies.every((r) => r.status === 200 && r.body.startsWith('# HELP x_total')), replies.map((r) => r.status).join());
    assert.equal(src.renders, 1, 'one render for all of them');
    for (let i = 0; i < 5; i++) {
      const h = await request(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    }
    assert.equal(src.renders, 1, 'HEAD did not render');
  } finally {
    await e.close();
  }
});

test('beyond 64 scrapes waiting on one render, the rest get 503 with Retry-After', async () => {
  const src = sources(1500);
  const port = await freePort();
  const e = await startHttpServer({ host: '127.0.0.1', port }, src, pino({ level: 'silent' }));
  try {
    const replies = await Promise.all(Array.from({ length: 80 }, () => request(`http://127.0.0.1:${port}/metrics`, { timeoutMs: 20_000 })));
    const busy = replies.filter((r) => r.status === 503);
    assert.equal(replies.filter((r) => r.status === 200).length, 64);
    assert.equal(busy.length, 16);
    assert.equal(busy[0]!.headers['retry-after'], '1');
    assert.equal(src.renders, 1);
  } finally {
    await e.close();
  }
});

test('detail pages: served on loopback, off beyond it unless enabled', async () => {
  assert.equal(detailsServed({ host: '127.0.0.1', port: 1 }), true);
  assert.equal(detailsServed({ host: '::1', port: 1 }), true);
  assert.equal(detailsServed({ host: '0.0.0.0', port: 1 }), false);
  assert.equal(detailsServed({ host: '10.1.2.3', port: 1 }), false);
  assert.equal(detailsServed({ host: '::', port: 1 }, true), true);
  const port = await freePort();
  const e = await startHttpServer({ host: '0.0.0.0', port }, sources(0), pino({ level: 'silent' }));
  try {
    const r = await request(`http://127.0.0.1:${port}/capabilities`);
    assert.equal(r.status, 404);
    assert.ok(!r.body.includes('details"'), 'nothing of the page');
    assert.equal((await request(`http://127.0.0.1:${port}/connections`)).status, 404);
    assert.equal((await request(`http://127.0.0.1:${port}/metrics`)).status, 200);
  } finally {
    await e.close();
  }
});
