// Connections open before the agent starts (every agent upgrade or restart meets them: database
// pools, gRPC streams): adopted in every network namespace, counted active within one interval,
// named, and their bytes from the agent's start on counted exactly; across a restart in the middle
// of a transfer, nothing is lost beyond the gap between the two agents, which the second reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { tcpload, startServer } from '../support/tcpload.js';
import { createNamespacePair } from '../support/netns.js';
import { sleep } from '../support/run.js';
import type { LifecycleRecord } from '../../src/model/records.js';
import type { TcpAdoption } from '../../src/model/capabilities.js';

const RATE = 200_000;
/**
 * The TCP side only: L7's programs make a start-up seconds longer on a loaded machine, and the
 * streams below must outlast it (under other tests' load one had ended before the agent was up).
 */
const AGENT = ['--no-flows', '--no-l7'];

/** `tcpload stream` at RATE bytes/s for `secs` (inside `netns` when given); done() resolves with the bytes it sent. */
function stream(addr: string, port: number, secs: number, netns?: string): { proc: ChildProcess; done: Promise<number> } {
  const bin = tcpload('fs-stream');
  const args = ['stream', addr, String(port), String(RATE), String(secs)];
  const proc = netns ? spawn('ip', ['netns', 'exec', netns, bin, ...args]) : spawn(bin, args);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve, reject) =>
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`stream exited ${code}`));
      resolve((JSON.parse(out.trim().split('\n').pop()!) as { bytes_sent: number }).bytes_sent);
    }),
  );
  return { proc, done };
}

/** The agent's adopt and close records of a connection, by its role and the service port. */
function recordsOf(agent: RunningAgent, role: 'client' | 'server', port: number): { adopt?: LifecycleRecord; close?: LifecycleRecord } {
  const mine = agent.records<LifecycleRecord>().filter((r) => r.role === role && (role === 'client' ? r.rport : r.lport) === port);
  return { adopt: mine.find((r) => r.event === 'adopt'), close: mine.find((r) => r.event === 'close') };
}

async function waitClosed(agent: RunningAgent, port: number, peer?: string): Promise<void> {
  const p = String(port);
  await agent.waitFor(
    (m) => m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'client', ...(peer ? { peer_addr: peer } : {}) }) === 1 && m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'server' }) === 1,
    5000,
    'both ends closed',
  );
  // The close records are written as the close happens; the scrape may come first.
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && (!recordsOf(agent, 'client', port).close || !recordsOf(agent, 'server', port).close)) await sleep(50);
}

test('a connection opened before the agent: active on both ends within one interval, named, and its bytes from the start on exact', async () => {
  const port = await freePort();
  const server = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
  const s = stream('127.0.0.1', port, 6);
  let agent: RunningAgent | undefined;
  try {
    await sleep(1500); // traffic before the agent: not ours to count
    agent = await startAgent([...AGENT, '--output', 'ndjson', '--interval', '1s']);
    const started = Date.now();
    const p = String(port);
    await agent.waitFor(
      (m) => m.sum('flowscope_tcp_active_connections', { port: p, role: 'client', process: 'fs-stream' }) === 1 && m.sum('flowscope_tcp_active_connections', { port: p, role: 'server', process: 'fs-srv' }) === 1,
      1500,
      'the connection active on both ends, named after each end\'s process, within one interval',
    );
    console.log(`# active and named ${Date.now() - started} ms after the agent answered`);
    const caps = await agent.json<{ tcp: { adoption: TcpAdoption } }>('/capabilities');
    assert.ok(caps.tcp.adoption.adopted >= 2, `both ends adopted (${caps.tcp.adoption.adopted})`);
    const total = await s.done;
    await waitClosed(agent, port);
    const m = await agent.scrape();
    const client = recordsOf(agent, 'client', port);
    const srv = recordsOf(agent, 'server', port);
    assert.ok(client.adopt && client.close && srv.adopt && srv.close, 'adopt and close records of both ends');
    assert.equal(client.close!.bytes_sent, total, 'the close carries the socket\'s totals: what the sender sent');
    assert.ok(client.adopt!.bytes_sent! > 0, 'traffic before the agent');
    const sent = m.sum('flowscope_tcp_sent_bytes_total', { port: p, role: 'client' });
    const received = m.sum('flowscope_tcp_received_bytes_total', { port: p, role: 'server' });
    console.log(`# sender ${total}; before the agent ${client.adopt!.bytes_sent}; counted ${sent} sent, ${received} received`);
    assert.equal(sent, client.close!.bytes_sent! - client.adopt!.bytes_sent!, 'every byte sent after the adoption, none before');
    assert.equal(received, srv.close!.bytes_received! - srv.adopt!.bytes_received!, 'every byte received after the adoption, none before');
    assert.equal(m.sum('flowscope_tcp_connections_adopted_total', { port: p }), 2);
    assert.equal(m.sum('flowscope_tcp_connections_opened_total', { port: p }), 0, 'it did not open under this agent');
    assert.equal(m.sum('flowscope_tcp_connections_closed_total', { port: p }), 2);
    assert.equal(m.sum('flowscope_tcp_active_connections', { port: p }), 0);
  } finally {
    s.proc.kill();
    await server.stop();
    await agent?.stop();
  }
});

test('an agent restarted in the middle of a transfer: the new one counts exactly from its adoption on and reports when that was', async () => {
  const port = await freePort();
  const server = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
  const s = stream('127.0.0.1', port, 12); // long enough for two agents' start-ups
  let streaming = true;
  s.proc.on('close', () => (streaming = false));
  let second: RunningAgent | undefined;
  try {
    const first = await startAgent(AGENT);
    const p = String(port);
    await sleep(2500);
    // Its count as fresh as it gets: the scrape right after the agent credited a read (the count
    // moves), so that the gap below is the restart's, not also the age of a read on a loaded machine.
    const sent = async (): Promise<number> => (await first.scrape()).sum('flowscope_tcp_sent_bytes_total', { port: p, role: 'client' });
    const was = await sent();
    let before = was;
    for (const deadline = Date.now() + 3000; before === was && Date.now() < deadline; ) {
      await sleep(20);
      before = await sent();
    }
    assert.ok(before > 0, 'the first agent counted the transfer');
    const stoppedAt = Date.now();
    assert.equal(await first.stop(), 0);
    second = await startAgent([...AGENT, '--output', 'ndjson']);
    const caps = await second.json<{ tcp: { adoption: TcpAdoption } }>('/capabilities');
    assert.ok(streaming, `the stream still runs when the second agent is up (${Date.now() - stoppedAt} ms after the first stopped): else there is nothing to adopt`);
    const adoptedAt = Date.parse(caps.tcp.adoption.at);
    assert.ok(adoptedAt >= stoppedAt, 'the second agent reports when its counting began');
    const total = await s.done;
    await waitClosed(second, port);
    const client = recordsOf(second, 'client', port);
    assert.ok(client.adopt && client.close);
    const counted = (await second.scrape()).sum('flowscope_tcp_sent_bytes_total', { port: p, role: 'client' });
    const gap = client.adopt!.bytes_sent! - before;
    console.log(`# first agent ${before} B (its last scrape); gap ${gap} B over ${adoptedAt - stoppedAt} ms; second agent ${counted} B; sender ${total} B`);
    assert.equal(client.close!.bytes_sent, total);
    assert.equal(counted, total - client.adopt!.bytes_sent!, 'from its adoption on, every byte');
    assert.ok(gap >= 0 && gap <= RATE * ((adoptedAt - stoppedAt) / 1000 + 2), `the gap is the restart's: ${gap} B`);
  } finally {
    s.proc.kill();
    await server.stop();
    await second?.stop();
  }
});

test('connections open before the agent in other network namespaces: adopted there, both ends named, bytes from the start on exact', async () => {
  const net = createNamespacePair();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = await startServer(tcpload('fs-srv'), net.b.addr, port, { netns: net.b.ns });
  const s = stream(net.b.addr, port, 5, net.a.ns);
  let agent: RunningAgent | undefined;
  try {
    await sleep(1500);
    agent = await startAgent([...AGENT, '--output', 'ndjson']);
    const p = String(port);
    await agent.waitFor(
      (m) =>
        m.sum('flowscope_tcp_active_connections', { port: p, role: 'client', process: 'fs-stream', peer_addr: net.b.addr }) === 1 &&
        m.sum('flowscope_tcp_active_connections', { port: p, role: 'server', process: 'fs-srv', peer_addr: net.a.addr }) === 1,
      1500,
      'both ends active and named within one interval',
    );
    const caps = await agent.json<{ tcp: { adoption: TcpAdoption } }>('/capabilities');
    assert.ok(caps.tcp.adoption.namespaces >= 3, `this namespace and the two of the pair read (${caps.tcp.adoption.namespaces})`);
    const total = await s.done;
    await waitClosed(agent, port, net.b.addr);
    const m = await agent.scrape();
    const client = recordsOf(agent, 'client', port);
    const srv = recordsOf(agent, 'server', port);
    assert.equal(client.close!.bytes_sent, total);
    assert.equal(m.sum('flowscope_tcp_sent_bytes_total', { port: p, role: 'client' }), client.close!.bytes_sent! - client.adopt!.bytes_sent!);
    assert.equal(m.sum('flowscope_tcp_received_bytes_total', { port: p, role: 'server' }), srv.close!.bytes_received! - srv.adopt!.bytes_received!);
  } finally {
    s.proc.kill();
    await server.stop();
    await agent?.stop();
    net.destroy();
  }
});
