// The classifier follows interfaces as they appear and go: attached at creation, released at
// deletion, attached again when a device of the same name comes back (link events; the timing,
// renames and the kernel's own view are in link-events-attach.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../support/agent.js';
import { sh } from '../support/run.js';
import { uniqueName } from '../support/netns.js';
import { createFlowLink } from './support.js';

test('interfaces are attached when they appear and released when they go', async () => {
  const prefix = uniqueName('fsfw').slice(0, 10);
  const agent = await startAgent(['--flow-interfaces', `^${prefix}`, '--interval', '500ms']);
  const made: Array<() => void> = [];
  try {
    const m0 = await agent.scrape();
    assert.equal(m0.sum('flowscope_agent_flow_interfaces'), 0, 'nothing matches yet');
    for (let round = 0; round < 2; round++) {
      const name = `${prefix}a`;
      sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${prefix}b`]);
      made.push(() => sh('ip', ['link', 'del', name], { allowFail: true }));
      const t0 = Date.now();
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 2, 3000, 'both ends attached');
      console.log(`# round ${round}: attached ${Date.now() - t0} ms after creation`);
      const caps = await agent.json<{ flows: { namespace: unknown; interfaces: Array<{ name: string; attached: boolean }> } }>('/capabilities');
      assert.equal(caps.flows.namespace, null, "an agent without --netns watches its own namespace");
      assert.deepEqual(caps.flows.interfaces.filter((i) => i.attached).map((i) => i.name).sort(), [`${prefix}a`, `${prefix}b`]);
      sh('ip', ['link', 'del', name]);
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 0, 3000, 'released after deletion');
    }
    // Traffic on an interface created after start is counted.
    const link = createFlowLink();
    made.push(() => link.destroy());
    const agent2 = await startAgent(['--flow-interfaces', `^${link.host}$`, '--interval', '500ms']);
    try {
      sh('ping', ['-c', '3', '-i', '0.2', link.peerAddr]);
      const m = await agent2.waitFor((m) => m.sum('flowscope_flow_packets_total', { interface: link.host, protocol: 'icmp', direction: 'ingress' }) === 3, 3000, 'pings counted');
      assert.equal(m.sum('flowscope_flow_packets_total', { interface: link.host, protocol: 'icmp', direction: 'egress' }), 3);
    } finally {
      assert.equal(await agent2.stop(), 0);
    }
  } finally {
    for (const f of made) f();
    assert.equal(await agent.stop(), 0);
  }
});

test('by default every interface but loopback: loopback is listed as left out, and why; "." includes it', async () => {
  const link = createFlowLink();
  // In the namespace only its loopback and its end of the veth pair exist: the defaults touch nothing else.
  const saved = process.env.FLOWSCOPE_FLOW_INTERFACES;
  process.env.FLOWSCOPE_FLOW_INTERFACES = '';
  try {
    for (const [args, loAttached] of [
      [[], false],
      [['--flow-interfaces', '.'], true],
    ] as const) {
      const agent = await startAgent([...args, '--web.enable-details'], 'agent', { netns: link.ns, host: link.peerAddr });
      try {
        const caps = await agent.json<{ flows: { interfaces: Array<{ name: string; attached: boolean; error?: string }> } }>('/capabilities');
        const byName = Object.fromEntries(caps.flows.interfaces.map((i) => [i.name, i]));
        assert.equal(byName[link.peer]?.attached, true, `${link.peer} attached`);
        assert.equal(byName.lo?.attached, loAttached, `lo ${loAttached ? 'attached' : 'left out'} with ${JSON.stringify(args)}`);
        if (!loAttached) assert.match(byName.lo!.error!, /loopback: left out by default .*--flow-interfaces/);
      } finally {
        assert.equal(await agent.stop(), 0);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.FLOWSCOPE_FLOW_INTERFACES;
    else process.env.FLOWSCOPE_FLOW_INTERFACES = saved;
    link.destroy();
  }
});
