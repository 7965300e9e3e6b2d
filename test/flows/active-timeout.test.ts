// A flow that keeps going is exported every active timeout with its counts since its last record
// (IPFIX delta semantics): the records of one flow add up to what trafgen sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../support/agent.js';
import { commandExists } from '../support/run.js';
import { createFlowLink, flowRecords, trafgen } from './support.js';

test('3 bursts of 100 packets 1.5 s apart, active timeout 1 s: several records that sum to 300', { skip: !commandExists('trafgen') && 'trafgen (netsniff-ng) is not installed' }, async () => {
  const link = createFlowLink();
  try {
    const agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--flow-idle-timeout', '30s', '--flow-active-timeout', '1s', '--flows', 'ndjson']);
    try {
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
      for (let i = 0; i < 3; i++) {
        assert.equal(trafgen(link, { count: 100, flows: 1, dport: 13 }).packets, 100);
        await new Promise((r) => setTimeout(r, 1500));
      }
    } finally {
      assert.equal(await agent.stop(), 0);
    }
    const recs = flowRecords(agent.stdout()).filter((r) => r.dport === 13 && r.direction === 'ingress');
    console.log(`# ${recs.length} records: ${recs.map((r) => `${r.packets}${r.final ? ' final' : ''}`).join(', ')}`);
    assert.ok(recs.length >= 2, 'exported while going, not only at the end');
    assert.equal(recs.reduce((a, r) => a + r.packets, 0), 300, 'the records add up to the packets sent');
    assert.equal(recs.reduce((a, r) => a + r.bytes, 0), 300 * 60);
    for (let i = 1; i < recs.length; i++) assert.ok(Date.parse(recs[i]!.start as string) >= Date.parse(recs[i - 1]!.start as string), 'in order');
  } finally {
    link.destroy();
  }
});
