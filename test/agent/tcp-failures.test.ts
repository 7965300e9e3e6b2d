// Connect failures by reason, each caused for real in a namespace pair: an ICMP host-unreachable
// answer (iptables REJECT) and silence (iptables DROP, with SYN retries cut to 1 in the client's
// namespace so that the timeout comes in ~3 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../support/agent.js';
import { createNamespacePair, retransSegs } from '../support/netns.js';
import { tcpload, runClient } from '../support/tcpload.js';

test('unreachable and timed-out connects are counted by reason, with their SYN retransmissions', async () => {
  const net = createNamespacePair();
  const agent = await startAgent(['--output', 'ndjson']);
  try {
    const unreachablePort = 20000 + Math.floor(Math.random() * 10000);
    const silentPort = unreachablePort + 1;
    net.exec(net.b.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(unreachablePort), '-j', 'REJECT', '--reject-with', 'icmp-host-unreachable']);
    net.exec(net.b.ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(silentPort), '-j', 'DROP']);
    net.exec(net.a.ns, 'sysctl', ['-qw', 'net.ipv4.tcp_syn_retries=1']);

    const u = await runClient(tcpload('fs-fail'), ['client', net.b.addr, String(unreachablePort), '3', '10'], net.a.ns);
    const started = Date.now();
    const t = await runClient(tcpload('fs-fail'), ['client', net.b.addr, String(silentPort), '1', '10'], net.a.ns);
    const timeoutMs = Date.now() - started;
    assert.equal((JSON.parse(u.stdout) as { failed: number }).failed, 3, 'the generator saw 3 failures');
    assert.equal((JSON.parse(t.stdout) as { failed: number }).failed, 1);
    console.log(`# timed out after ${timeoutMs} ms`);

    const client = { role: 'client', process: 'fs-fail', peer_addr: net.b.addr };
    const m = await agent.waitFor(
      (m) =>
        m.sum('flowscope_tcp_connect_failures_total', { ...client, port: String(unreachablePort), reason: 'unreachable' }) === 3 &&
        m.sum('flowscope_tcp_connect_failures_total', { ...client, port: String(silentPort), reason: 'timeout' }) === 1,
      3000,
      '3 unreachable and 1 timeout',
    );
    assert.equal(m.sum('flowscope_tcp_connect_failures_total', { ...client, port: String(unreachablePort) }), 3, 'no other reason');
    assert.equal(m.sum('flowscope_tcp_connect_failures_total', { ...client, port: String(silentPort) }), 1);
    assert.equal(m.sum('flowscope_tcp_connections_opened_total', { ...client }), 0, 'failures are not openings');
    // The client's namespace is fresh: its RetransSegs are exactly the SYN retries of these connects.
    const kernelRetrans = retransSegs(net.a.ns);
    assert.ok(kernelRetrans >= 1);
    assert.equal(m.sum('flowscope_tcp_retransmits_total', { ...client }), kernelRetrans, "SYN retries equal the kernel's RetransSegs");
    const failures = agent
      .records<{ event: string; rport: number; reason?: string; error?: string }>()
      .filter((r) => r.event === 'connect_failure');
    assert.deepEqual(failures.filter((f) => f.rport === unreachablePort).map((f) => f.error), ['EHOSTUNREACH', 'EHOSTUNREACH', 'EHOSTUNREACH']);
    assert.deepEqual(failures.filter((f) => f.rport === silentPort).map((f) => f.error), ['ETIMEDOUT']);
  } finally {
    await agent.stop();
    net.destroy();
  }
});
