// The agent against a load generator's own counts: short connections over IPv4 and IPv6 loopback,
// refused connects, process attribution of both roles.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { tcpload, startServer, runClient } from '../support/tcpload.js';

let agent: RunningAgent;
before(async () => {
  agent = await startAgent();
});
after(async () => {
  assert.equal(await agent.stop(), 0, 'the agent exits cleanly on SIGTERM');
});

describe('500 short connections, 1,000 bytes each, counted exactly', () => {
  for (const [family, addr] of [
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const) {
    test(`${family} (${addr}): opened, closed and bytes per role, within 2 s of the last close`, async () => {
      const port = await freePort();
      const server = await startServer(tcpload('fs-srv'), addr, port);
      let serverCount;
      try {
        const r = await runClient(tcpload('fs-cli'), ['client', addr, String(port), '500', '1000']);
        assert.equal(r.code, 0, r.stderr);
        const client = JSON.parse(r.stdout) as { connections: number; bytes_sent: number; failed: number };
        const lastClose = Date.now();
        assert.equal(client.connections, 500);
        assert.equal(client.bytes_sent, 500_000);
        const p = String(port);
        const m = await agent.waitFor(
          (m) =>
            m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'client' }) === 500 &&
            m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'server' }) === 500,
          2000,
          'all 500 closes of both roles',
        );
        console.log(`# visible ${Date.now() - lastClose} ms after the last close`);
        const client_ = { port: p, role: 'client', process: 'fs-cli' };
        const server_ = { port: p, role: 'server', process: 'fs-srv' };
        assert.equal(m.sum('flowscope_tcp_connections_opened_total', client_), 500, 'client opened, named after the client process');
        assert.equal(m.sum('flowscope_tcp_connections_opened_total', server_), 500, 'server opened, named after the server process');
        assert.equal(m.sum('flowscope_tcp_connections_closed_total', client_), 500);
        assert.equal(m.sum('flowscope_tcp_connections_closed_total', server_), 500);
        assert.equal(m.sum('flowscope_tcp_active_connections', { port: p }), 0);
        const sent = m.sum('flowscope_tcp_sent_bytes_total', client_);
        assert.ok(Math.abs(sent - client.bytes_sent) <= client.bytes_sent * 0.01, `client sent ${sent}, generator ${client.bytes_sent}`);
        assert.equal(m.select('flowscope_tcp_connections_opened_total', { port: p, role: 'client' })[0]!.labels.peer_addr, addr);
        serverCount = await server.stop();
        const received = m.sum('flowscope_tcp_received_bytes_total', server_);
        assert.ok(Math.abs(received - serverCount.bytes_received) <= serverCount.bytes_received * 0.01, `server received ${received}, server counted ${serverCount.bytes_received}`);
        assert.equal(m.sum('flowscope_tcp_connect_duration_seconds_count', client_), 500, 'one connect latency per connection');
        assert.equal(m.sum('flowscope_tcp_connection_duration_seconds_count', server_), 500);
      } finally {
        if (!serverCount) await server.stop();
      }
    });
  }
});

test('connects to a closed port: each counted as refused, exactly', async () => {
  const port = await freePort();
  const r = await runClient(tcpload('fs-cli'), ['client', '127.0.0.1', String(port), '37', '10']);
  const client = JSON.parse(r.stdout) as { failed: number };
  assert.equal(client.failed, 37);
  const p = String(port);
  const m = await agent.waitFor(
    (m) => m.sum('flowscope_tcp_connect_failures_total', { port: p }) >= 37 && m.sum('flowscope_tcp_resets_total', { port: p, role: 'server' }) >= 37,
    3000,
    '37 failures and the resets behind them',
  );
  assert.equal(m.sum('flowscope_tcp_connect_failures_total', { port: p, reason: 'refused', role: 'client', process: 'fs-cli' }), 37);
  assert.equal(m.sum('flowscope_tcp_connect_failures_total', { port: p }), 37, 'no other reason');
  assert.equal(m.sum('flowscope_tcp_connections_opened_total', { port: p }), 0, 'a refused connect never opened');
  assert.equal(m.sum('flowscope_tcp_resets_total', { port: p, role: 'client', direction: 'received' }), 37, 'each refusal is a reset received');
  assert.equal(m.sum('flowscope_tcp_resets_total', { port: p, role: 'server', direction: 'sent' }), 37, 'and a reset sent for a port nobody listens on');
});
