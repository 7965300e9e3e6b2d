// Wire v1 as frames (application/x-flowscope-frames) against a real hub: an old agent posting
// JSON and a new one posting frames join into one edge with both sides; frames accepted before a
// restart are joined after it from the inbox; malformed frames get 400 naming where, are counted
// and change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { wire } from '../../src/model/index.js';
import { batch, hello, tcp, type AgentRun } from './batches.js';
import { startTestHub, type TestHub } from './support.js';

const start = new Date(Date.now() - 60_000).toISOString();
const client: AgentRun = { agent: 'node-a', node: 'node-a', zone: 'z', start };
const server: AgentRun = { agent: 'node-b', node: 'node-b', zone: 'z', start };

function pairAt(seq: number, t: number) {
  return {
    c: batch(client, seq, t - 1000, t, [tcp({ role: 'client', process: 'wrk', peer: '10.9.0.2', port: 80, local_addrs: ['10.9.0.1'], opened: seq, closed: seq, bytes_sent: 100 * seq })]),
    s: batch(server, seq, t - 1000, t, [tcp({ role: 'server', process: 'nginx', peer: '10.9.0.1', port: 80, local_addrs: ['10.9.0.2'], opened: seq, closed: seq, bytes_received: 100 * seq })]),
  };
}

const frames = (messages: Array<wire.HelloV1 | wire.BatchV1>): Buffer => gzipSync(Buffer.concat(messages.map((m) => wire.encodeFrame(m.kind === 'batch' ? wire.columnarBatch(m) : m))));

async function postFrames(hub: TestHub, body: Buffer, encoding = 'gzip'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${hub.url}/api/v1/ingest`, { method: 'POST', headers: { 'content-type': wire.FRAMES_CONTENT_TYPE, 'content-encoding': encoding }, body });
  return { status: res.status, body: await res.json() };
}

async function edge(hub: TestHub): Promise<{ client: number; server: number; bytes: number; sides: string[]; edges: number }> {
  const g = (await hub.get('/api/v1/graph?view=process&from=-10m&sides=true')).body as { edges: Array<{ connections: number; bytes_sent: number; sides: string[]; server: { connections: number } | null }> };
  const e = g.edges[0];
  return { client: e?.connections ?? 0, server: e?.server?.connections ?? 0, bytes: e?.bytes_sent ?? 0, sides: e?.sides ?? [], edges: g.edges.length };
}

test('an old agent posting JSON and a new one posting frames join into one edge; frames accepted before a restart are joined after it', async () => {
  const hub = await startTestHub();
  let again: TestHub | undefined;
  try {
    const t0 = Date.now() - 30_000;
    assert.equal((await hub.post([hello(client)])).status, 200);
    assert.equal((await postFrames(hub, frames([hello(server)]))).status, 200);
    for (let i = 1; i <= 3; i++) {
      const p = pairAt(i, t0 + i * 1000);
      const json = await hub.post([wire.columnarBatch(p.c)]);
      assert.equal(json.status, 200, JSON.stringify(json.body));
      const framed = await postFrames(hub, frames([p.s]));
      assert.deepEqual(framed, { status: 200, body: { applied: 1, duplicates: 0 } });
    }
    // A resend of frames already applied changes nothing.
    assert.deepEqual((await postFrames(hub, frames([pairAt(3, t0 + 3000).s]))).body, { applied: 0, duplicates: 1 });
    await hub.settle();
    assert.deepEqual(await edge(hub), { client: 6, server: 6, bytes: 600, sides: ['client', 'server'], edges: 1 });
    // Both of the next interval's views as frames in one body (hello first), not joined before the stop.
    const p = pairAt(4, t0 + 4000);
    assert.equal((await postFrames(hub, frames([hello(client), p.c, p.s]))).status, 200);
    await hub.stop();
    again = await startTestHub({ dir: hub.dir });
    assert.equal(again.hub.ingest!.pendingBatches, 2, 'the inbox holds the frames body and replays it');
    await again.settle();
    assert.deepEqual(await edge(again), { client: 10, server: 10, bytes: 1000, sides: ['client', 'server'], edges: 1 });
  } finally {
    await again?.destroy();
    await hub.destroy();
  }
});

test('malformed frames get 400 naming where, are counted, and change nothing', async () => {
  const hub = await startTestHub();
  try {
    const t0 = Date.now() - 30_000;
    await hub.post([hello(client), hello(server)]);
    const p = pairAt(1, t0);
    assert.equal((await postFrames(hub, frames([p.c, p.s]))).status, 200);
    await hub.settle();
    const before = await edge(hub);
    assert.equal(before.client, 1);

    const next = pairAt(2, t0 + 1000);
    const good = wire.encodeFrame(wire.columnarBatch(next.c));
    const headerLength = new DataView(good.buffer, good.byteOffset).getUint32(4, true);
    const portOutOfRange = wire.columnarBatch(next.s);
    portOutOfRange.tcp_columns.port[0] = 70_000;
    const badIndex = wire.columnarBatch(next.s);
    badIndex.tcp_columns.peer[0] = 99;
    const cases: Array<{ body: Buffer; encoding?: string; field: RegExp }> = [
      { body: Buffer.from('{"v":1,"kind":"batch"}'), encoding: 'identity', field: /^frame\[0\]$/ },
      { body: gzipSync(good.subarray(0, good.length - 2)), field: /^frame\[0\]\.columns/ },
      { body: gzipSync(Buffer.concat([good, good.subarray(0, 5)])), field: /^frame\[1\]$/ },
      { body: gzipSync(Buffer.concat([good.subarray(0, 8), Buffer.from('x'.repeat(headerLength)), good.subarray(8 + headerLength)])), field: /^frame\[0\]\.header$/ },
      // A good frame, then one whose columns do not check: the whole body is refused (the good one too).
      { body: gzipSync(Buffer.concat([good, wire.encodeFrame(portOutOfRange)])), field: /^\[1\]\.tcp_columns\.port\[0\]$/ },
      { body: gzipSync(wire.encodeFrame(badIndex)), field: /^\[0\]\.tcp_columns\.peer\[0\]$/ },
      { body: gzipSync(wire.encodeFrame({ ...wire.columnarBatch(next.c), v: 2 as 1 })), field: /^\[0\]\.v$/ },
      { body: gzipSync(Buffer.alloc(0)), field: /^body$/ },
    ];
    for (const c of cases) {
      const r = await postFrames(hub, c.body, c.encoding);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.field, c.field, JSON.stringify(r.body));
    }
    await hub.settle();
    assert.deepEqual(await edge(hub), before, 'nothing of the refused bodies was applied');
    assert.equal(hub.hub.ingest!.pendingBatches, 0);
    const metrics = (await hub.get('/metrics')).text;
    assert.match(metrics, new RegExp(`flowscope_hub_ingest_rejected_total\\{reason="malformed"\\} ${cases.length}\\b`));
    // The same batches, well formed, are applied afterwards (the refusals marked nothing as seen).
    assert.deepEqual((await postFrames(hub, frames([next.c, next.s]))).body, { applied: 2, duplicates: 0 });
  } finally {
    await hub.destroy();
  }
});
