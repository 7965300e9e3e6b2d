// Test helper for test/flows/edge-table.test.ts: runs the classifier (BPF_PROG_TEST_RUN, on the CPU
// this process is pinned to) on packets from `peers` distinct peers, `rounds` times over, counting
// into the edge table and edge map pinned at the paths given (shared with another such process on
// the other CPU). Prints the number of packets it classified.
//   node dist/test/flows/edge-table-sender.js <table pin> <edge map pin> <peers> <rounds> <slots> <start at, ms since the epoch>
import { BpfObject } from '../../src/bpf/index.js';
import { FLOWS_OBJECT } from '../../src/agent/flows/tracer.js';
import { udpFrame } from './support.js';

const [tablePin, edgesPin, peersArg, roundsArg, slotsArg, startArg] = process.argv.slice(2);
const peers = Number(peersArg);
const rounds = Number(roundsArg);
const slots = Number(slotsArg);
const obj = BpfObject.load(FLOWS_OBJECT, {
  programs: ['flow_in'],
  globals: { track_flows: 0, edge_cache: 0, enable_dns: 0, edge_table_mask: slots - 1 },
  maxEntries: { flows: 1, edges: 65536, edge_table: slots },
  reuseMaps: { edge_table: tablePin!, edges: edgesPin! },
});
try {
  const classify = obj.program('flow_in');
  const frames = Array.from({ length: peers }, (_, p) => udpFrame([10, 8, p >> 8, p & 255], [10, 9, 0, 1], 40000, 9));
  // Both senders start at the same moment, so that their first round claims the same new edges at once.
  while (Date.now() < Number(startArg)) await new Promise((r) => setTimeout(r, 1));
  let sent = 0;
  for (let r = 0; r < rounds; r++)
    for (const f of frames) {
      classify.testRun({ data: f, repeat: 1 });
      sent++;
    }
  console.log(sent);
} finally {
  obj.close();
}
