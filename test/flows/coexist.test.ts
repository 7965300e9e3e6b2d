// A TC program already on the interface (a stand-in for a CNI's) keeps working while the agent
// attaches and after it detaches, in tcx and in legacy (clsact) mode; /capabilities says whether
// the other program can hide traffic from ours.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, codec, type Link } from '../../src/bpf/index.js';
import { startAgent } from '../support/agent.js';
import { sh } from '../support/run.js';
import { testObject } from '../support/paths.js';
import { AttachCounter } from '../gen/attach.gen.js';
import { createFlowLink, type FlowLink } from './support.js';

interface OtherProgram {
  hook: string;
  direction: string;
  priority?: number;
  runsBeforeUs: boolean;
  canHide: boolean;
}
interface Caps {
  flows: { hiddenTrafficPossible: boolean; interfaces: Array<{ name: string; attached: boolean; mode: string; others: OtherProgram[] }> };
}

const PORT = 4789;
let link: FlowLink;
let cni: BpfObject;
let cniLink: Link;

before(() => {
  link = createFlowLink();
  cni = BpfObject.load(testObject('attach'), { programs: ['count_tc'], globals: { targ_port: PORT } });
  cniLink = cni.program('count_tc').attachTc({ interface: link.host, direction: 'ingress', mode: 'legacy', priority: 1 });
});

after(() => {
  try {
    cniLink?.destroy();
    cni?.close();
  } finally {
    link?.destroy();
  }
});

const cniCount = (): number => cni.map('counters', codec.u32, codec.u64).get(AttachCounter.COUNT_TC) ?? 0;
const filters = (): string => sh('tc', ['filter', 'show', 'dev', link.host, 'ingress']);

test('the pre-attached program counts every packet before, during and after the agent (tcx, then legacy)', async () => {
  let expected = 0;
  const send = (): void => {
    // Ordinary sockets (the stand-in reads headers in place, so it wants linear packets, not trafgen's).
    const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n++===100)return s.close();s.send(Buffer.alloc(18),${PORT},'${link.hostAddr}',go)};go()`;
    link.exec(process.execPath, ['-e', script]);
    expected += 100;
    assert.equal(cniCount(), expected, 'the pre-attached program saw every packet');
  };
  send();
  for (const mode of ['auto', 'legacy'] as const) {
    const agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--flow-tc-mode', mode]);
    try {
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
      send();
      const sel = { interface: link.host, direction: 'ingress', port: String(PORT) };
      const m = await agent.waitFor((m) => m.sum('flowscope_flow_packets_total', sel) >= 100, 5000, 'the agent counting too');
      assert.equal(m.sum('flowscope_flow_packets_total', sel), 100, 'and ours saw them too');
      const caps = await agent.json<Caps>('/capabilities');
      const iface = caps.flows.interfaces.find((i) => i.name === link.host)!;
      const other = iface.others.find((o) => o.hook === 'tc' && o.direction === 'ingress' && o.priority === 1);
      assert.ok(other, `the other program is reported: ${JSON.stringify(iface.others)}`);
      if (iface.mode === 'tcx') {
        // tcx runs before every clsact filter: nothing the other program does can hide packets from ours.
        assert.equal(other.runsBeforeUs, false);
        assert.equal(caps.flows.hiddenTrafficPossible, false);
      } else {
        // Legacy: ours took the next free priority after the CNI's, which can now drop or redirect first.
        assert.equal(other.runsBeforeUs, true);
        assert.equal(other.canHide, true);
        assert.equal(caps.flows.hiddenTrafficPossible, true);
      }
    } finally {
      assert.equal(await agent.stop(), 0);
    }
    const left = filters();
    assert.match(left, /pref 1 bpf/, 'the pre-attached filter is still there');
    assert.doesNotMatch(left, /flow_in/, 'ours is gone');
    send();
  }
});
