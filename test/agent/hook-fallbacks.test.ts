// Each fallback hook, forced with --hooks, still counts every connection exactly, and
// /capabilities says which hook runs and why the better ones were passed over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, freePort } from '../support/agent.js';
import { tcpload, startServer, runClient } from '../support/tcpload.js';
import { uniqueName } from '../support/netns.js';
import { sh } from '../support/run.js';

interface HookReport {
  group: string;
  hook: string | null;
  fallbacks: Array<{ kind: string; reason: string }>;
}

const variants: Array<[string, string, string]> = [
  ['lifecycle=raw_tp', 'lifecycle', 'raw_tp'],
  ['lifecycle=tracepoint', 'lifecycle', 'tracepoint'],
  ['snapshots=raw_tp', 'snapshots', 'raw_tp'],
  ['snapshots=tracepoint', 'snapshots', 'tracepoint'],
  ['snapshots=sockops', 'snapshots', 'sockops'],
];

for (const [spec, group, kind] of variants) {
  test(`--hooks ${spec}: 40 connections counted exactly on both ends, and /capabilities says why`, async () => {
    const agent = await startAgent(['--hooks', spec]);
    try {
      const caps = await agent.json<{ tcp: { hooks: HookReport[] } }>('/capabilities');
      const g = caps.tcp.hooks.find((h) => h.group === group)!;
      assert.equal(g.hook, kind);
      assert.ok(g.fallbacks.length >= 1, 'the skipped better hooks are listed');
      for (const f of g.fallbacks) assert.match(f.reason, /--hooks/, `reason names the flag: ${f.reason}`);

      const port = await freePort();
      const server = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
      let counted;
      try {
        const r = await runClient(tcpload('fs-cli'), ['client', '127.0.0.1', String(port), '40', '3000']);
        assert.equal(r.code, 0, r.stderr);
      } finally {
        counted = await server.stop();
      }
      const p = String(port);
      const m = await agent.waitFor(
        (m) => m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'client' }) === 40 && m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'server' }) === 40,
        3000,
        '40 closes on both ends',
      );
      assert.equal(m.sum('flowscope_tcp_connections_opened_total', { port: p, role: 'client', process: 'fs-cli' }), 40);
      assert.equal(m.sum('flowscope_tcp_connections_opened_total', { port: p, role: 'server', process: 'fs-srv' }), 40);
      assert.equal(m.sum('flowscope_tcp_sent_bytes_total', { port: p, role: 'client' }), 120_000);
      assert.equal(m.sum('flowscope_tcp_received_bytes_total', { port: p, role: 'server' }), counted.bytes_received);
      assert.equal(m.sum('flowscope_tcp_connect_duration_seconds_count', { port: p, role: 'client' }), 40);
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  });
}

// In a namespace of its own (the agent follows only its sockets): the host's other connections,
// adopted at start or made by concurrent tests, would otherwise take the 8 edges and push the test's
// roll-ups past twice the cap into port 0.
test('--max-series 8: connections to 30 peers keep their totals, the excess rolls into peer_addr="other" and is counted', async () => {
  const ns = uniqueName('fscap');
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const agent = await startAgent(['--max-series', '8', '--netns', `/run/netns/${ns}`]);
    try {
      const port = await freePort();
      const server = await startServer(tcpload('fs-srv'), '0.0.0.0', port, { netns: ns });
      try {
        for (let i = 0; i < 30; i++) {
          const r = await runClient(tcpload('fs-cap'), ['client', `127.0.0.${i + 2}`, String(port), '1', '100'], ns);
          assert.equal(r.code, 0, r.stderr);
        }
      } finally {
        await server.stop();
      }
      const p = String(port);
      const m = await agent.waitFor((m) => m.sum('flowscope_tcp_connections_closed_total', { port: p, role: 'client' }) === 30, 3000, '30 client closes');
      const series = m.select('flowscope_tcp_connections_opened_total', {});
      assert.ok(series.length <= 8 * 2, `series stay bounded: ${series.length}`);
      assert.equal(m.sum('flowscope_tcp_connections_opened_total', { port: p, role: 'client' }), 30, 'nothing lost in the roll-up');
      assert.equal(m.sum('flowscope_tcp_sent_bytes_total', { port: p, role: 'client' }), 3000);
      const other = m.sum('flowscope_tcp_connections_opened_total', { port: p, role: 'client', peer_addr: 'other' });
      assert.ok(other >= 30 - 8, `rolled into other: ${other}`);
      // Self-metrics are mirrored once per interval: the next interval carries the last roll-ups.
      const later = await agent.waitFor((m) => m.sum('flowscope_agent_series_rolled_up_total', {}) >= other, 3000, 'the roll-up counter to cover the rolled-up connections');
      assert.ok(later.sum('flowscope_agent_series_rolled_up_total', {}) >= 30 - 8);
    } finally {
      await agent.stop();
    }
  } finally {
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
});
