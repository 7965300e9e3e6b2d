// The classifier follows netlink link events, not the agent's interval: with a 10 s interval, an
// interface is attached within a second of its creation, released within a second of its deletion
// or of a rename out of the filter, attached again when it comes back under the same name (a new
// ifindex) or is renamed into the filter, whatever its kind (veth, bridge, tun). The kernel says
// so (BPF_PROG_QUERY for tcx, bpftool net show for legacy filters), not only the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { sh, sleep } from '../support/run.js';
import { compileC } from '../support/cbin.js';
import { uniqueName } from '../support/netns.js';
import { bpfLinkIds, ifindexOf, legacyTcView, prepareTcxView, tcxView } from './tc-view.js';
import { startAgentWithoutNetlink } from './support.js';

const LIMIT_MS = 1000;

/** Polls `probe` from `t0` until it returns a value; fails after LIMIT_MS. Returns the value and how long it took. */
async function within<T>(t0: number, what: string, probe: () => T | undefined): Promise<{ value: T; ms: number }> {
  for (;;) {
    const value = probe();
    const ms = Date.now() - t0;
    if (value !== undefined) return { value, ms };
    if (ms > LIMIT_MS) throw new Error(`not within ${LIMIT_MS} ms: ${what}`);
    await sleep(5);
  }
}

function attachedTcx(ifindex: number, l3 = false): number[] | undefined {
  const v = tcxView(ifindex);
  const prefix = l3 ? 'flow_l3_' : 'flow_';
  return v && v.ingress[0] === `${prefix}in` && v.egress[0] === `${prefix}out` ? v.links : undefined;
}

function notOursTcx(ifindex: number): true | undefined {
  const v = tcxView(ifindex);
  return !v || ![...v.ingress, ...v.egress].some((n) => n.startsWith('flow_')) ? true : undefined;
}

/** When the agent logged `message` (its own clock: the event's handling, without our polling), after t0. */
function loggedAfter(agent: RunningAgent, message: string, t0: number): string {
  for (const line of agent.stderr().split('\n').concat(agent.stdout().split('\n'))) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as { msg?: string; time?: number };
    if (r.msg === message && (r.time ?? 0) >= t0) return `${r.time! - t0} ms`;
  }
  return '?';
}

async function interfaces(agent: RunningAgent): Promise<Array<{ name: string; ifindex: number; attached: boolean; program?: string }>> {
  return (await agent.json<{ flows: { interfaces: Array<{ name: string; ifindex: number; attached: boolean; program?: string }> } }>('/capabilities')).flows.interfaces;
}

test('tcx: attached within a second of a link event, released at deletion and rename, attached anew to a re-created device', async () => {
  const prefix = uniqueName('fsle').slice(0, 10);
  const ns = uniqueName('fslen');
  const host = `${prefix}h`;
  const outside = uniqueName('fslx'); // does not match the filter
  const renamed = `${prefix}r`;
  const bridge = `${prefix}br`;
  const tun = `${prefix}t`;
  const subnet = 10 + Math.floor(Math.random() * 240);
  const latencies: string[] = [];
  const cleanup = (): void => {
    for (const dev of [host, outside, renamed, bridge, tun]) sh('ip', ['link', 'del', dev], { allowFail: true });
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  };
  prepareTcxView();
  const agent = await startAgent(['--flow-interfaces', `^${prefix}`, '--interval', '10s', '--log-level', 'info']);
  try {
    const caps = await agent.json<{ flows: { linkEvents: { source: string } } }>('/capabilities');
    assert.equal(caps.flows.linkEvents.source, 'netlink');
    sh('ip', ['netns', 'add', ns]);

    // Created: attached (the kernel's view), counted in the gauge.
    let t0 = Date.now();
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${prefix}p`, 'netns', ns]);
    const idx1 = ifindexOf(host);
    const first = await within(t0, `tcx programs on new ${host}`, () => attachedTcx(idx1));
    latencies.push(`attach ${first.ms} ms`);
    const attachT0 = t0;
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, LIMIT_MS, 'gauge 1');

    // Its traffic is counted (at the next interval).
    sh('ip', ['addr', 'add', `10.68.${subnet}.1/24`, 'dev', host]);
    sh('ip', ['-n', ns, 'addr', 'add', `10.68.${subnet}.2/24`, 'dev', `${prefix}p`]);
    sh('ip', ['link', 'set', host, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', `${prefix}p`, 'up']);
    sh('ping', ['-c', '3', '-i', '0.2', '-W', '1', `10.68.${subnet}.2`]);
    await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', { interface: host, protocol: 'icmp', direction: 'ingress' }) === 3, 15_000, 'the pings counted');

    // Deleted: our tcx links are gone from the kernel, the gauge drops.
    t0 = Date.now();
    sh('ip', ['link', 'del', host]);
    const gone = await within(t0, 'our tcx links released', () => (first.value.every((id) => !bpfLinkIds().has(id)) ? true : undefined));
    latencies.push(`detach ${gone.ms} ms`);
    const detachT0 = t0;
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 0, LIMIT_MS, 'gauge 0');

    // Re-created under the same name: a new ifindex, attached again.
    t0 = Date.now();
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${prefix}p`, 'netns', ns]);
    const idx2 = ifindexOf(host);
    assert.notEqual(idx2, idx1);
    const again = await within(t0, `tcx programs on re-created ${host}`, () => attachedTcx(idx2));
    latencies.push(`re-attach ${again.ms} ms`);
    assert.deepEqual((await interfaces(agent)).filter((i) => i.attached).map((i) => [i.name, i.ifindex]), [[host, idx2]]);

    // Renamed out of the filter: released; into it: attached.
    t0 = Date.now();
    sh('ip', ['link', 'set', host, 'name', outside]);
    const out = await within(t0, `released after the rename to ${outside}`, () => notOursTcx(idx2));
    latencies.push(`rename out ${out.ms} ms`);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 0, LIMIT_MS, 'gauge 0 after the rename');
    t0 = Date.now();
    sh('ip', ['link', 'set', outside, 'name', renamed]);
    const into = await within(t0, `attached after the rename to ${renamed}`, () => attachedTcx(idx2));
    latencies.push(`rename in ${into.ms} ms`);
    assert.deepEqual((await interfaces(agent)).filter((i) => i.attached).map((i) => [i.name, i.ifindex]), [[renamed, idx2]]);

    // A bridge is attached; a port joining and leaving it (AF_BRIDGE RTM_NEWLINK/RTM_DELLINK) stays attached.
    t0 = Date.now();
    sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    const br = await within(t0, `tcx programs on bridge ${bridge}`, () => attachedTcx(ifindexOf(bridge)));
    latencies.push(`bridge ${br.ms} ms`);
    sh('ip', ['link', 'set', renamed, 'master', bridge]);
    sh('ip', ['link', 'set', renamed, 'nomaster']);
    await sleep(200);
    assert.ok(attachedTcx(idx2), 'the former bridge port keeps the classifier');

    // A raw IP device (tun: ARPHRD_NONE) gets the l3 programs.
    t0 = Date.now();
    sh('ip', ['tuntap', 'add', 'mode', 'tun', 'name', tun]);
    const l3 = await within(t0, `l3 programs on ${tun}`, () => attachedTcx(ifindexOf(tun), true));
    latencies.push(`tun ${l3.ms} ms`);
    const m = await agent.waitFor((x) => x.sum('flowscope_agent_flow_interfaces') === 3, LIMIT_MS, 'gauge 3');
    assert.equal(m.sum('flowscope_agent_link_event_overruns_total'), 0);
    assert.equal((await interfaces(agent)).find((i) => i.name === tun)?.program, 'flow_l3_in/out');
    console.log(`# after the link event (kernel view): ${latencies.join(', ')}`);
    await sleep(200); // the agent's log lines are written asynchronously
    console.log(`# after the link event (agent's log): attach ${loggedAfter(agent, `flows: attached to ${host} (tcx)`, attachT0)}, release ${loggedAfter(agent, `flows: released ${host}`, detachT0)}`);
  } finally {
    cleanup();
    assert.equal(await agent.stop(), 0);
  }
});

test('legacy clsact: filters appear and go with link events', async () => {
  const prefix = uniqueName('fslg').slice(0, 10);
  const dev = `${prefix}a`;
  const outside = uniqueName('fslx');
  const cleanup = (): void => {
    for (const d of [dev, outside]) sh('ip', ['link', 'del', d], { allowFail: true });
  };
  const agent = await startAgent(['--flow-interfaces', `^${prefix}`, '--interval', '10s', '--flow-tc-mode', 'legacy']);
  const latencies: string[] = [];
  try {
    const ours = (name: string): string[] => legacyTcView(name).filter((f) => f.endsWith(':flow_in') || f.endsWith(':flow_out'));
    let t0 = Date.now();
    sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${prefix}b`]);
    const added = await within(t0, `filters on ${dev}`, () => (ours(dev).sort().join() === 'egress:flow_out,ingress:flow_in' ? true : undefined));
    latencies.push(`attach ${added.ms} ms`);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 2, LIMIT_MS, 'both ends');
    t0 = Date.now();
    sh('ip', ['link', 'set', dev, 'name', outside]);
    const removed = await within(t0, `filters removed from ${outside}`, () => (ours(outside).length === 0 ? true : undefined));
    latencies.push(`rename out ${removed.ms} ms`);
    sh('ip', ['link', 'del', outside]);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 0, LIMIT_MS, 'gauge 0');
    console.log(`# legacy, after the link event: ${latencies.join(', ')}`);
  } finally {
    cleanup();
    assert.equal(await agent.stop(), 0);
  }
});


test('without a netlink socket the agent polls, warns, and says so in /capabilities', async () => {
  const prefix = uniqueName('fslf').slice(0, 10);
  const agent = await startAgentWithoutNetlink(['--flow-interfaces', `^${prefix}`, '--interval', '500ms']);
  try {
    const caps = await agent.json<{ flows: { linkEvents: { source: string; fallback?: string } } }>('/capabilities');
    assert.equal(caps.flows.linkEvents.source, 'poll');
    assert.match(caps.flows.linkEvents.fallback ?? '', /^netlink link events unavailable \(netlink socket: Protocol not supported\): polling/);
    assert.match(agent.stderr(), /"level":40.*netlink link events unavailable/, 'a warning in the log');
    sh('ip', ['link', 'add', `${prefix}a`, 'type', 'veth', 'peer', 'name', `${prefix}b`]);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 2, 3000, 'both ends attached by polling');
    sh('ip', ['link', 'del', `${prefix}a`]);
    await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 0, 3000, 'released by polling');
  } finally {
    sh('ip', ['link', 'del', `${prefix}a`], { allowFail: true });
    assert.equal(await agent.stop(), 0);
  }
});
