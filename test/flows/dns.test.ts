// DNS from packets: a dnsmasq resolver on loopback in a namespace answers the test's queries (UDP
// and TCP); the agent, running in that namespace, counts them by rcode with latencies, against
// dnsmasq's own query log, and names the peer of a connection to a resolved address (peer_dns).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { commandExists } from '../support/run.js';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { createFlowLink, type FlowLink } from './support.js';

const haveDnsmasq = commandExists('dnsmasq');
let link: FlowLink;
let agent: RunningAgent;
let dnsmasq: ChildProcess | undefined;
let dnsLog = '';

before(async () => {
  if (!haveDnsmasq) return;
  link = createFlowLink();
  dnsmasq = spawn(
    'ip',
    ['netns', 'exec', link.ns, 'dnsmasq', '-k', '--no-resolv', '--no-hosts', '--listen-address=127.0.0.1', '--bind-interfaces', '--port=53', '--local=/flowscope.test/',
      `--host-record=web.flowscope.test,${link.hostAddr}`, '--log-queries', '--log-facility=-', `--pid-file=/tmp/${link.ns}-dnsmasq.pid`, '--user=root', '--cache-size=0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  dnsmasq.stdout!.on('data', (d: Buffer) => (dnsLog += d.toString()));
  dnsmasq.stderr!.on('data', (d: Buffer) => (dnsLog += d.toString()));
  agent = await startAgent(['--flow-interfaces', `^(lo|${link.peer})$`], 'agent', { netns: link.ns, host: link.peerAddr });
  await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 2, 5000, 'lo and the veth attached');
});

after(async () => {
  try {
    if (agent) assert.equal(await agent.stop(), 0);
  } finally {
    dnsmasq?.kill('SIGKILL');
    link?.destroy();
  }
});

// Runs inside the namespace: 10 A queries for a known name and 5 for a missing one over UDP (c-ares),
// 2 over TCP (by hand), then a TCP connection to the resolved address.
const CLIENT = `
const dns = require('dns'); const net = require('net');
const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 }); r.setServers(['127.0.0.1']);
function tcpQuery(name, id) {
  return new Promise((resolve, reject) => {
    const q = Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.concat(name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]))), Buffer.from([0, 0, 1, 0, 1])]);
    const len = Buffer.from([q.length >> 8, q.length & 255]);
    const c = net.connect(53, '127.0.0.1', () => c.write(Buffer.concat([len, q])));
    let got = Buffer.alloc(0);
    c.on('data', (d) => { got = Buffer.concat([got, d]); if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) { c.end(); resolve(got[5] & 15); } });
    c.on('error', reject);
  });
}
(async () => {
  const out = { ok: 0, nx: 0, tcp: [], addr: '' };
  for (let i = 0; i < 10; i++) { const a = await r.resolve4('web.flowscope.test'); out.addr = a[0]; out.ok++; }
  for (let i = 0; i < 5; i++) { try { await r.resolve4('missing.flowscope.test'); } catch (e) { if (e.code === 'ENOTFOUND') out.nx++; } }
  for (let i = 0; i < 2; i++) out.tcp.push(await tcpQuery('web.flowscope.test', 0x4200 + i));
  await new Promise((res) => { const c = net.connect(9, out.addr); c.on('error', () => res()); c.on('connect', () => { c.destroy(); res(); }); });
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

test('queries to a resolver on loopback: NOERROR and NXDOMAIN with latencies, UDP and TCP; peer_dns on the connection that follows', { skip: !haveDnsmasq && 'dnsmasq is not installed' }, async () => {
  const r = JSON.parse(link.exec(process.execPath, ['-e', CLIENT], 30_000)) as { ok: number; nx: number; tcp: number[]; addr: string };
  assert.deepEqual(r, { ok: 10, nx: 5, tcp: [0, 0], addr: link.hostAddr });
  // dnsmasq's own log is the ground truth of what it answered (it writes it a moment later).
  for (let i = 0; i < 50 && (dnsLog.match(/config missing\.flowscope\.test is NXDOMAIN/g) ?? []).length < 5; i++) await new Promise((r) => setTimeout(r, 100));
  const answered = (dnsLog.match(/config web\.flowscope\.test is /g) ?? []).length;
  const nx = (dnsLog.match(/config missing\.flowscope\.test is NXDOMAIN/g) ?? []).length;
  assert.equal(answered, 12);
  assert.equal(nx, 5);
  const sel = { server: '127.0.0.1', qtype: 'A' };
  const m = await agent.waitFor((m) => m.sum('flowscope_dns_requests_total', sel) >= 17, 5000, 'all 17 answers').catch(async (err: Error) => {
    const text = await agent.text();
    console.log(text.split('\n').filter((l) => /dns|agent_flow|flow_packets_total/.test(l) && !l.startsWith('#')).join('\n'));
    throw err;
  });
  assert.equal(m.sum('flowscope_dns_requests_total', { ...sel, rcode: 'NOERROR' }), answered, 'NOERROR = dnsmasq answers (UDP and TCP)');
  assert.equal(m.sum('flowscope_dns_requests_total', { ...sel, rcode: 'NXDOMAIN' }), nx, 'NXDOMAIN = dnsmasq NXDOMAIN answers');
  assert.equal(m.sum('flowscope_dns_request_duration_seconds_count', sel), 17, 'one latency per answered query');
  const p50 = m.quantile(0.5, 'flowscope_dns_request_duration_seconds', sel);
  assert.ok(p50 > 0 && p50 < 0.1, `median latency ${p50} s`);
  console.log(`# median DNS latency ${(p50 * 1e3).toFixed(3)} ms`);
  assert.equal(m.sum('flowscope_dns_requests_total', { rcode: 'TIMEOUT' }), 0);
  // The connection to the resolved address (port 9; the scrapes come from the same address, port 9387).
  const to = { protocol: 'tcp', peer_addr: link.hostAddr, port: '9', direction: 'egress' };
  const conn = await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', to) > 0, 5000, 'the connection');
  const series = conn.select('flowscope_flow_packets_total', to);
  assert.deepEqual(series.map((s) => s.labels.peer_dns), ['web.flowscope.test'], 'the connection carries the name it was resolved from');
});
