// Two hosts (network namespaces) on a link with a known delay and loss (netem, or a tun link where
// the kernel lacks netem): checked against that delay and the kernel's own retransmission counter.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { tcpload, startServer, runClient } from '../support/tcpload.js';
import { retransSegs } from '../support/netns.js';
import { createImpairedLink } from '../support/impair.js';
import { median } from '../../bench/support.js';

let agent: RunningAgent;
before(async () => {
  agent = await startAgent(['--output', 'ndjson']);
});
after(async () => {
  await agent?.stop();
});

interface Rec {
  event: string;
  role: string;
  process: string;
  lport: number;
  rport: number;
  connect_ms?: number;
  srtt_ms?: number;
}
const records = (): Rec[] =>
  agent.records<Rec>();

test('delay 20 ms: median connect duration and RTT within ±20% of 20 ms; each end named after its own process', async () => {
  const net = await createImpairedLink(20);
  console.log(`# link: ${net.mechanism}`);
  try {
    const port = await freePort();
    const server = await startServer(tcpload('fs-srv'), net.b.addr, port, { netns: net.b.ns });
    try {
      const r = await runClient(tcpload('fs-cli'), ['client', net.b.addr, String(port), '25', '200000'], net.a.ns);
      assert.equal(r.code, 0, r.stderr);
      const p = String(port);
      const m = await agent.waitFor((m) => m.sum('flowscope_tcp_connections_closed_total', { port: p }) === 50, 5000, '25 connections closed on both ends');
      // Exact values per connection, from the agent's NDJSON stream.
      const opens = records().filter((x) => x.event === 'open' && x.role === 'client' && x.rport === port);
      const closes = records().filter((x) => x.event === 'close' && x.role === 'client' && x.rport === port);
      assert.equal(opens.length, 25);
      const connectMs = median(opens.map((x) => x.connect_ms!));
      const rttMs = median(closes.map((x) => x.srtt_ms!));
      console.log(`# median connect ${connectMs} ms, median srtt ${rttMs} ms`);
      assert.ok(connectMs >= 16 && connectMs <= 24, `median connect ${connectMs} ms`);
      assert.ok(rttMs >= 16 && rttMs <= 24, `median srtt ${rttMs} ms`);
      // The same from the exported histograms, as PromQL's histogram_quantile would read them.
      const client = { port: p, role: 'client' };
      const qConnect = m.quantile(0.5, 'flowscope_tcp_connect_duration_seconds', client) * 1000;
      const qRtt = m.quantile(0.5, 'flowscope_tcp_rtt_seconds', client) * 1000;
      console.log(`# histogram medians: connect ${qConnect.toFixed(1)} ms, rtt ${qRtt.toFixed(1)} ms`);
      assert.ok(qConnect >= 16 && qConnect <= 24, `histogram connect median ${qConnect}`);
      assert.ok(qRtt >= 16 && qRtt <= 24, `histogram rtt median ${qRtt}`);
      assert.equal(m.sum('flowscope_tcp_connections_opened_total', { ...client, process: 'fs-cli', peer_addr: net.b.addr }), 25, 'client end: the client process, in its namespace');
      assert.equal(m.sum('flowscope_tcp_connections_opened_total', { port: p, role: 'server', process: 'fs-srv', peer_addr: net.a.addr }), 25, 'server end: the server process');
    } finally {
      await server.stop();
    }
  } finally {
    await net.destroy();
  }
});

test('loss: retransmits equal the kernel\'s RetransSegs delta over the same window', async () => {
  const net = await createImpairedLink(2, 5);
  console.log(`# link: ${net.mechanism}`);
  try {
    const port = await freePort();
    const before = retransSegs(net.a.ns) + retransSegs(net.b.ns);
    const server = await startServer(tcpload('fs-srv'), net.b.addr, port, { netns: net.b.ns });
    try {
      const r = await runClient(tcpload('fs-cli'), ['client', net.b.addr, String(port), '20', '300000'], net.a.ns);
      assert.equal(r.code, 0, r.stderr);
      const p = String(port);
      // Both ends closed: every socket's retransmissions are in (they stop with the socket).
      const m = await agent.waitFor((m) => m.sum('flowscope_tcp_connections_closed_total', { port: p }) === 40, 30_000, '20 connections closed on both ends');
      const after = retransSegs(net.a.ns) + retransSegs(net.b.ns);
      const kernel = after - before;
      const ours = m.sum('flowscope_tcp_retransmits_total', { port: p });
      console.log(`# RetransSegs delta ${kernel}, agent ${ours}`);
      assert.ok(kernel > 0, '5% loss must cause retransmissions');
      assert.equal(ours, kernel);
    } finally {
      await server.stop();
    }
  } finally {
    await net.destroy();
  }
});
