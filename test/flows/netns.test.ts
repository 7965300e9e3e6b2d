// Three agents on one kernel, each with --netns for its own network namespace (three namespaces on
// one bridge): each agent's flows, drops and DNS are its namespace's, exactly, and none of the
// others'. Ground truth: the senders' and receivers' own counts, each namespace's /proc/net/snmp,
// dnsmasq's query log. Also: an interface added to a namespace after start is attached by that
// namespace's agent only, and stopping an agent leaves no program on its namespace's interfaces
// (tcx for two agents, legacy clsact filters for the third).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { commandExists, runCommand, sh, sleep, waitFor } from '../support/run.js';
import { flowscopeBin } from '../support/paths.js';
import { freeSubnet, uniqueName } from '../support/netns.js';
import type { Metrics } from '../support/prom.js';
import { loadedProgramIds, loadedPrograms, programIdsHeldBy } from '../support/bpftool.js';
import { startAgentWithoutNetlink } from './support.js';

const haveDnsmasq = commandExists('dnsmasq');
/** The test's interfaces all start so (the agents watch only them); 15 characters at most. */
const PREFIX = uniqueName('fsnv').slice(0, 8);
const sw = uniqueName('fsnsw');
const NS_EPHEMERAL = '20000 29999';

interface Node {
  name: 'a' | 'b' | 'c';
  ns: string;
  dev: string;
  addr: string;
  agent?: RunningAgent;
}

const children: ChildProcess[] = [];
let nodes: Node[] = [];
let a: Node;
let b: Node;
let c: Node;
let subnet = 0;

function ns(n: Node, cmd: string, args: string[], timeoutMs?: number): string {
  return sh('ip', ['netns', 'exec', n.ns, cmd, ...args], { timeoutMs });
}

/** A field of a namespace's /proc/net/snmp (the kernel's own counter). */
function snmp(n: Node, proto: string, field: string): number {
  const lines = ns(n, 'cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith(`${proto}:`));
  return Number(lines[1]!.split(/\s+/)[lines[0]!.split(/\s+/).indexOf(field)]);
}

before(async () => {
  subnet = freeSubnet('10.69', 10, 240);
  nodes = (['a', 'b', 'c'] as const).map((name, i) => ({ name, ns: uniqueName(`fsn${name}`), dev: `${PREFIX}${name}0`, addr: `10.69.${subnet}.${i + 1}` }));
  [a, b, c] = nodes as [Node, Node, Node];
  sh('ip', ['netns', 'add', sw]);
  sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  for (const n of nodes) {
    sh('ip', ['netns', 'add', n.ns]);
    sh('ip', ['link', 'add', n.dev, 'netns', n.ns, 'type', 'veth', 'peer', 'name', `p${n.name}`, 'netns', sw]);
    sh('ip', ['-n', sw, 'link', 'set', `p${n.name}`, 'master', 'br0', 'up']);
    // No IPv6: no neighbour discovery or MLD packets beside the test's own.
    ns(n, 'sysctl', ['-qw', `net.ipv6.conf.${n.dev}.disable_ipv6=1`]);
    sh('ip', ['-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', n.dev]);
    sh('ip', ['-n', n.ns, 'link', 'set', n.dev, 'up']);
    sh('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
    // Ephemeral ports of their own, below this host's: the test's service ports (3xxxx) are ephemeral
    // in the agents' namespace and not in these; each agent is to tell them apart by its namespace's.
    ns(n, 'sysctl', ['-qw', `net.ipv4.ip_local_port_range=${NS_EPHEMERAL}`]);
  }
  // The bridge learns every address now: no unicast of the test is flooded to a bystander.
  for (const n of nodes) for (const m of nodes) if (n !== m) ns(n, 'ping', ['-c', '1', '-W', '2', m.addr]);
  for (const n of nodes) {
    // c's agent attaches legacy clsact filters (made and removed inside its namespace over netlink).
    const mode = n === c ? ['--flow-tc-mode', 'legacy'] : [];
    n.agent = await startAgent(['--netns', `/run/netns/${n.ns}`, '--node-name', `node-${n.name}`, '--flow-interfaces', `^${PREFIX}`, ...mode]);
  }
  for (const n of nodes) await n.agent!.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 10_000, `node-${n.name}'s veth attached`);
  for (const n of nodes) {
    const caps = await n.agent!.json<{ flows: { namespace: { path: string; inode: number } | null } }>('/capabilities');
    assert.deepEqual(caps.flows.namespace, { path: `/run/netns/${n.ns}`, inode: statSync(`/run/netns/${n.ns}`).ino }, `node-${n.name}'s /capabilities names its namespace`);
  }
});

after(async () => {
  try {
    for (const n of nodes) if (n.agent) assert.equal(await n.agent.stop(), 0, `agent of node-${n.name} exited cleanly`);
  } finally {
    for (const ch of children) ch.kill('SIGKILL');
    for (const n of nodes) sh('ip', ['netns', 'del', n.ns], { allowFail: true });
    sh('ip', ['netns', 'del', sw], { allowFail: true });
  }
});

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2]))); s.settimeout(10)
print("ready", flush=True)
got = 0
try:
    while got < int(sys.argv[3]):
        s.recv(2048); got += 1
except socket.timeout:
    pass
print(got, flush=True)
`;
const SENDER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for i in range(int(sys.argv[3])):
    if s.sendto(b"x" * 64, (sys.argv[1], int(sys.argv[2]))) == 64: sent += 1
    time.sleep(0.001)
print(sent)
`;

/** A UDP receiver in `n` on addr:port, once it listens, that takes `count` datagrams (or stops 10 s after the last): `received`, what it got. */
async function receiver(n: Node, addr: string, port: number, count: number): Promise<{ received: Promise<number> }> {
  const child = spawn('ip', ['netns', 'exec', n.ns, 'python3', '-c', RECEIVER, addr, String(port), String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('ready'), 10_000, `a receiver on ${addr}:${port}`);
  // Wrapped: an async function's promise would otherwise wait for this one too.
  return { received: new Promise((resolve) => child.once('close', () => resolve(Number(out.split('\n')[1])))) };
}

function send(from: Node, addr: string, port: number, count: number): number {
  return Number(ns(from, 'python3', ['-c', SENDER, addr, String(port), String(count)], 60_000).trim());
}

const flows = (m: Metrics, match: Record<string, string>): number => m.sum('flowscope_flow_packets_total', { protocol: 'udp', ...match });
const drops = (m: Metrics, match: Record<string, string>): number => m.sum('flowscope_packet_drops_total', { protocol: 'udp', ...match });

/** Two more intervals, so that a count that should stay zero had its chance to appear. */
const settle = (): Promise<void> => sleep(2500);

test('UDP between two namespaces: the sender\'s agent counts egress, the receiver\'s ingress, exactly; the third agent nothing', async () => {
  // A service port in this host's ephemeral range but not in the namespaces'.
  const port = 35000 + Math.floor(Math.random() * 1000);
  const N = 300;
  const [outBefore, inBefore] = [snmp(a, 'Udp', 'OutDatagrams'), snmp(b, 'Udp', 'InDatagrams')];
  const got = await receiver(b, b.addr, port, N);
  const sent = send(a, b.addr, port, N);
  assert.equal(sent, N, 'the sender sent them all');
  assert.equal(await got.received, N, 'the receiver got them all');
  assert.equal(snmp(a, 'Udp', 'OutDatagrams') - outBefore, N, "a's kernel: OutDatagrams");
  assert.equal(snmp(b, 'Udp', 'InDatagrams') - inBefore, N, "b's kernel: InDatagrams");
  const egress = { direction: 'egress', peer_addr: b.addr, port: String(port), interface: a.dev };
  const ingress = { direction: 'ingress', peer_addr: a.addr, port: String(port), interface: b.dev };
  const ma = await a.agent!.waitFor((m) => flows(m, egress) >= N, 5000, "a's egress");
  const mb = await b.agent!.waitFor((m) => flows(m, ingress) >= N, 5000, "b's ingress");
  await settle();
  const [fa, fb, fc] = await Promise.all(nodes.map((n) => n.agent!.scrape()));
  assert.equal(flows(fa!, egress), N, "a's agent: every datagram a sent, once");
  assert.equal(flows(fb!, ingress), N, "b's agent: every datagram b received, once");
  assert.equal(flows(fa!, { port: String(port), direction: 'ingress' }), 0, "a's agent: none received (they are b's)");
  assert.equal(flows(fb!, { port: String(port), direction: 'egress' }), 0, "b's agent: none sent (they are a's)");
  assert.equal(flows(fc!, { port: String(port) }), 0, "c's agent: none (neither a's nor b's traffic crosses c's interfaces)");
  console.log(`# ${N} datagrams a -> b: a's agent ${flows(ma, egress)} egress, b's agent ${flows(mb, ingress)} ingress, c's agent ${flows(fc!, { port: String(port) })}`);
});

test('drops at closed ports: each namespace\'s agent counts its own kernel\'s NO_SOCKET drops (NoPorts), and none of the others\'', async () => {
  const q = 33000 + Math.floor(Math.random() * 1000);
  const r = q + 1000;
  const [M, K] = [40, 25];
  const noPortsB = snmp(b, 'Udp', 'NoPorts');
  const noPortsC = snmp(c, 'Udp', 'NoPorts');
  assert.equal(send(a, b.addr, q, M), M, 'a sent to a closed port of b');
  assert.equal(send(b, c.addr, r, K), K, 'b sent to a closed port of c');
  const droppedB = snmp(b, 'Udp', 'NoPorts') - noPortsB;
  const droppedC = snmp(c, 'Udp', 'NoPorts') - noPortsC;
  assert.equal(droppedB, M, "b's kernel: NoPorts");
  assert.equal(droppedC, K, "c's kernel: NoPorts");
  const atB = { reason: 'NO_SOCKET', direction: 'received', peer_addr: a.addr, port: String(q) };
  const atC = { reason: 'NO_SOCKET', direction: 'received', peer_addr: b.addr, port: String(r) };
  await b.agent!.waitFor((m) => drops(m, atB) >= M, 5000, "b's drops");
  await c.agent!.waitFor((m) => drops(m, atC) >= K, 5000, "c's drops");
  await settle();
  const [ma, mb, mc] = await Promise.all(nodes.map((n) => n.agent!.scrape()));
  assert.equal(drops(mb!, atB), droppedB, "b's agent: b's kernel's NoPorts, each once");
  assert.equal(drops(mc!, atC), droppedC, "c's agent: c's kernel's NoPorts, each once");
  for (const [who, m] of [['a', ma], ['c', mc]] as const) assert.equal(drops(m!, { port: String(q) }), 0, `${who}'s agent: none of b's drops`);
  for (const [who, m] of [['a', ma], ['b', mb]] as const) assert.equal(drops(m!, { port: String(r) }), 0, `${who}'s agent: none of c's drops`);
  console.log(`# NO_SOCKET drops: b's kernel ${droppedB}, b's agent ${drops(mb!, atB)}; c's kernel ${droppedC}, c's agent ${drops(mc!, atC)}; elsewhere 0`);
});

test('DNS from one namespace to a resolver in another: the asking agent and the resolver\'s count each answer; the bystander none', { skip: !haveDnsmasq && 'dnsmasq is not installed' }, async () => {
  let log = '';
  const dnsmasq = spawn(
    'ip',
    ['netns', 'exec', c.ns, 'dnsmasq', '-k', '--no-resolv', '--no-hosts', `--listen-address=${c.addr}`, '--bind-interfaces', '--port=53', '--local=/flowscope.test/',
      `--host-record=web.flowscope.test,${b.addr}`, '--log-queries', '--log-facility=-', `--pid-file=/tmp/${c.ns}-dnsmasq.pid`, '--user=root', '--cache-size=0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(dnsmasq);
  dnsmasq.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  dnsmasq.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(() => ns(c, 'ss', ['-Huln', 'sport = :53']).includes(`${c.addr}:53`), 10_000, 'dnsmasq listening');
  const client = `
const r = new (require('dns').promises.Resolver)({ timeout: 2000, tries: 1 }); r.setServers(['${c.addr}']);
(async () => {
  const out = { ok: 0, nx: 0 };
  for (let i = 0; i < 10; i++) if ((await r.resolve4('web.flowscope.test'))[0] === '${b.addr}') out.ok++;
  for (let i = 0; i < 5; i++) { try { await r.resolve4('missing.flowscope.test'); } catch (e) { if (e.code === 'ENOTFOUND') out.nx++; } }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });`;
  assert.deepEqual(JSON.parse(ns(a, process.execPath, ['-e', client], 30_000)), { ok: 10, nx: 5 });
  for (let i = 0; i < 50 && (log.match(/config missing\.flowscope\.test is NXDOMAIN/g) ?? []).length < 5; i++) await sleep(100);
  const answered = (log.match(/config web\.flowscope\.test is /g) ?? []).length;
  const nx = (log.match(/config missing\.flowscope\.test is NXDOMAIN/g) ?? []).length;
  assert.deepEqual([answered, nx], [10, 5], "dnsmasq's log: what it answered");
  const sel = { server: c.addr, qtype: 'A' };
  for (const n of [a, c]) await n.agent!.waitFor((m) => m.sum('flowscope_dns_requests_total', sel) >= 15, 5000, `node-${n.name}'s DNS requests`);
  await settle();
  const [ma, mb, mc] = await Promise.all(nodes.map((n) => n.agent!.scrape()));
  for (const [who, m] of [['a (the client)', ma], ['c (the resolver)', mc]] as const) {
    assert.equal(m!.sum('flowscope_dns_requests_total', { ...sel, rcode: 'NOERROR' }), answered, `${who}: NOERROR = dnsmasq's answers`);
    assert.equal(m!.sum('flowscope_dns_requests_total', { ...sel, rcode: 'NXDOMAIN' }), nx, `${who}: NXDOMAIN = dnsmasq's NXDOMAIN answers`);
    assert.equal(m!.sum('flowscope_dns_request_duration_seconds_count', sel), 15, `${who}: a latency per answer`);
  }
  assert.equal(mb!.sum('flowscope_dns_requests_total'), 0, "b's agent: no DNS (none crossed b's interfaces)");
  dnsmasq.kill('SIGTERM');
});

test("an interface added to a namespace after start is attached by that namespace's agent, and counts; the other agents do not take it", async () => {
  const [xa, xb] = [`${PREFIX}xa`, `${PREFIX}xb`];
  const second = `10.70.${subnet}`;
  sh('ip', ['link', 'add', xa, 'netns', a.ns, 'type', 'veth', 'peer', 'name', xb, 'netns', b.ns]);
  for (const [n, dev, host] of [[a, xa, 1], [b, xb, 2]] as const) {
    ns(n, 'sysctl', ['-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    sh('ip', ['-n', n.ns, 'addr', 'add', `${second}.${host}/24`, 'dev', dev]);
    sh('ip', ['-n', n.ns, 'link', 'set', dev, 'up']);
  }
  for (const n of [a, b]) await n.agent!.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 2, 5000, `node-${n.name} attached the new veth`);
  const port = 36000 + Math.floor(Math.random() * 1000);
  const N = 100;
  const got = await receiver(b, `${second}.2`, port, N);
  assert.equal(send(a, `${second}.2`, port, N), N);
  assert.equal(await got.received, N);
  const egress = { direction: 'egress', port: String(port), interface: xa };
  const ingress = { direction: 'ingress', port: String(port), interface: xb };
  await a.agent!.waitFor((m) => flows(m, egress) >= N, 5000, "a's egress on the new veth");
  await b.agent!.waitFor((m) => flows(m, ingress) >= N, 5000, "b's ingress on the new veth");
  await settle();
  const [ma, mb, mc] = await Promise.all(nodes.map((n) => n.agent!.scrape()));
  assert.equal(flows(ma!, egress), N);
  assert.equal(flows(mb!, ingress), N);
  assert.equal(mc!.sum('flowscope_agent_flow_interfaces'), 1, "c's agent: still only its own veth");
  assert.equal(flows(mc!, { port: String(port) }), 0);
});

test("stopping an agent removes its programs from its namespace's interfaces (tcx links and legacy filters alike)", async () => {
  const filters = (n: Node, dev: string): string[] =>
    (['ingress', 'egress'] as const).flatMap((dir) => ns(n, 'tc', ['filter', 'show', 'dev', dev, dir]).split('\n').filter((l) => /flow_(in|out)/.test(l)));
  const flowPrograms = (n: Node): Set<number> => {
    const held = programIdsHeldBy(n.agent!.proc.pid!);
    return new Set(loadedPrograms().filter((p) => held.has(p.id) && /^flow_(l3_)?(in|out)$/.test(p.name ?? '')).map((p) => p.id));
  };
  assert.equal(filters(c, c.dev).length, 2, "c: the legacy filters on c's veth (ingress, egress), in c's namespace");
  assert.deepEqual(filters(b, b.dev), [], 'b: tcx, no legacy filter');
  const progs = new Map([b, c].map((n) => [n, flowPrograms(n)]));
  for (const n of [b, c]) {
    assert.equal(progs.get(n)!.size, 4, `node-${n.name}'s agent holds its four classifier programs`);
    assert.equal(await n.agent!.stop(), 0);
    n.agent = undefined;
    const loaded = loadedProgramIds();
    // A tcx link or a clsact filter left behind would keep its program loaded.
    assert.deepEqual([...progs.get(n)!].filter((id) => loaded.has(id)), [], `node-${n.name}: none of its classifier programs is still loaded`);
  }
  assert.deepEqual(filters(c, c.dev), [], "c: the legacy filters are gone from c's veth");
  assert.equal((await a.agent!.scrape()).sum('flowscope_agent_flow_interfaces'), 2, "a's agent still attached to a's two veths");
});

test("without a netlink socket an agent of a namespace polls that namespace's links (ip in it), attaches and releases", async () => {
  const prefix = uniqueName('fsnp').slice(0, 10);
  const agent = await startAgentWithoutNetlink(['--netns', `/run/netns/${a.ns}`, '--flow-interfaces', `^${prefix}`, '--interval', '500ms']);
  try {
    const caps = await agent.json<{ flows: { linkEvents: { source: string; fallback?: string } } }>('/capabilities');
    assert.equal(caps.flows.linkEvents.source, 'poll');
    assert.match(caps.flows.linkEvents.fallback ?? '', /netlink link events unavailable \(netlink socket: Protocol not supported\): polling `ip -j link` in that namespace/);
    sh('ip', ['-n', a.ns, 'link', 'add', `${prefix}a`, 'type', 'veth', 'peer', 'name', `${prefix}b`]);
    // A device of the same name in this namespace is not the agent's.
    sh('ip', ['link', 'add', `${prefix}c`, 'type', 'veth', 'peer', 'name', `${prefix}d`]);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 2, 3000, "both ends in a's namespace attached by polling");
    await settle();
    assert.equal((await agent.scrape()).sum('flowscope_agent_flow_interfaces'), 2, 'not the ones of the root namespace');
    sh('ip', ['-n', a.ns, 'link', 'del', `${prefix}a`]);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 0, 3000, 'released by polling');
  } finally {
    sh('ip', ['link', 'del', `${prefix}c`], { allowFail: true });
    assert.equal(await agent.stop(), 0);
  }
});

test('--netns that is not a network namespace: exit 2 with one line naming the path and what to give instead', async () => {
  for (const [path, says] of [['/etc/hostname', /is not a namespace file/], ['/proc/self/ns/mnt', /is a mnt namespace, not a network one/], ['/nonexistent-netns', /cannot be read/]] as const) {
    const r = await runCommand(flowscopeBin, ['agent', '--netns', path, '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.trim(), new RegExp(`^flowscope: --netns ${path} `));
    assert.match(r.stderr, says);
    assert.match(r.stderr, /\/run\/netns\/NAME/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});
