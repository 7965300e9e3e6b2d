// A long-lived connection: its counters advance every interval, not only at close.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startAgent, freePort, type RunningAgent } from '../support/agent.js';
import { tcpload, startServer } from '../support/tcpload.js';
import { sleep } from '../support/run.js';

let agent: RunningAgent;
before(async () => {
  agent = await startAgent(['--interval', '1s']);
});
after(async () => {
  await agent.stop();
});

test('a connection sending 200 KB/s for 6 s: sent bytes advance every interval and match the sender within 1%', async () => {
  const port = await freePort();
  const server = await startServer(tcpload('fs-srv'), '127.0.0.1', port);
  try {
    const sender = spawn(tcpload('fs-stream'), ['stream', '127.0.0.1', String(port), '200000', '6']);
    let out = '';
    sender.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number | null>((r) => sender.on('close', r));
    const p = String(port);
    const edge = { port: p, role: 'client', process: 'fs-stream' };
    const samples: Array<{ t: number; sent: number; senderSaid: number }> = [];
    const started = Date.now();
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      await sleep(1000);
      const m = await agent.scrape();
      const lines = out.trim().split('\n').filter(Boolean);
      const senderSaid = lines.length ? (JSON.parse(lines[lines.length - 1]!) as { bytes_sent: number }).bytes_sent : 0;
      samples.push({ t: Date.now() - started, sent: m.sum('flowscope_tcp_sent_bytes_total', edge), senderSaid });
    }
    assert.equal(await done, 0);
    const total = (JSON.parse(out.trim().split('\n').pop()!) as { bytes_sent: number }).bytes_sent;
    console.log(`# samples (ms, agent, sender): ${samples.map((s) => `${s.t}:${s.sent}/${s.senderSaid}`).join(' ')}`);
    // While the connection is open (the last sample may fall after the close), every scrape shows more.
    const during = samples.filter((s) => s.t < 5500);
    assert.ok(during.length >= 4, `enough samples during the transfer (${during.length})`);
    for (let i = 1; i < during.length; i++) {
      assert.ok(during[i]!.sent > during[i - 1]!.sent, `sent bytes advanced between scrapes ${i - 1} and ${i}: ${during[i - 1]!.sent} -> ${during[i]!.sent}`);
      // An interval behind the sender at most (the map is read once per interval).
      assert.ok(during[i]!.sent >= during[i]!.senderSaid - 2 * 200_000, 'not more than two intervals behind');
    }
    const m = await agent.waitFor((m) => m.sum('flowscope_tcp_connections_closed_total', edge) === 1, 3000, 'the close');
    const final = m.sum('flowscope_tcp_sent_bytes_total', edge);
    assert.ok(Math.abs(final - total) <= total * 0.01, `agent ${final}, sender ${total}`);
    assert.ok(m.sum('flowscope_tcp_rtt_seconds_count', edge) >= 4, 'an RTT sample in each interval with traffic');
  } finally {
    await server.stop();
  }
});
