// IPFIX export read back by a real collector: nfdump's nfcapd receives the agent's export and
// nfdump reads back the same flows and counts as trafgen sent (and as the agent's own records).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, freePort } from '../support/agent.js';
import { commandExists, sh } from '../support/run.js';
import { createFlowLink, flowRecords, trafgen } from './support.js';

const have = commandExists('nfcapd') && commandExists('nfdump') && commandExists('trafgen');

test('200 flows of 5 packets: nfdump reads back 200 flows, 1,000 packets, 60,000 bytes', { skip: !have && 'nfdump/nfcapd or trafgen is not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-nfcapd-'));
  const port = await freePort();
  const nfcapd = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  nfcapd.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  nfcapd.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const nfcapdExit = new Promise((r) => nfcapd.once('close', r));
  const link = createFlowLink();
  try {
    const agent = await startAgent(['--flow-interfaces', `^${link.host}$`, '--flow-idle-timeout', '1s', '--flows', 'ndjson', '--ipfix', `127.0.0.1:${port}`]);
    let stdout: string;
    try {
      await agent.waitFor((m) => m.sum('flowscope_agent_flow_interfaces') === 1, 5000, 'attached');
      const sent = trafgen(link, { count: 1000, flows: 200, dport: 5 });
      assert.equal(sent.packets, 1000);
      await agent.waitFor((m) => m.sum('flowscope_agent_ipfix_records_total') >= 200, 10_000, '200 records exported');
    } finally {
      assert.equal(await agent.stop(), 0);
      stdout = agent.stdout();
    }
    await new Promise((r) => setTimeout(r, 300));
    nfcapd.kill('SIGTERM'); // nfcapd writes its file on exit
    await nfcapdExit;
    const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.'));
    assert.ok(files.length > 0, `nfcapd wrote a file (${log})`);
    const csv = sh('nfdump', ['-R', dir, '-q', '-o', 'csv', 'proto udp and dst port 5']).trim().split('\n').filter(Boolean);
    const rows = csv.filter((l) => !l.startsWith('ts,')).map((l) => l.split(','));
    // Columns: ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,...
    assert.equal(rows.length, 200, 'one IPFIX flow per trafgen flow');
    assert.ok(rows.every((r) => r[3] === link.peerAddr && r[4] === link.hostAddr), 'addresses');
    assert.equal(new Set(rows.map((r) => r[5])).size, 200, 'distinct source ports');
    assert.ok(rows.every((r) => Number(r[11]) === 5 && Number(r[12]) === 300), 'each flow 5 packets, 300 bytes');
    assert.equal(rows.reduce((a, r) => a + Number(r[11]), 0), 1000, 'packets = trafgen');
    // The same flows the agent wrote as NDJSON.
    const ours = flowRecords(stdout).filter((r) => r.dport === 5);
    assert.equal(ours.length, 200);
    assert.match(log, /Sequence Errors: 0/, 'the collector saw no sequence errors');
  } finally {
    nfcapd.kill('SIGKILL');
    link.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
