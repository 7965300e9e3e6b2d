// Wire v1 messages for hub tests: agents' hellos and batches, built the way the agent builds them.
import type { wire } from '../../src/model/index.js';

export interface AgentRun {
  agent: string;
  node: string;
  zone: string;
  start: string;
}

export function hello(run: AgentRun, intervalMs = 1000): wire.HelloV1 {
  return {
    v: 1,
    kind: 'hello',
    run: { agent: run.agent, node: run.node, start: run.start },
    zone: run.zone,
    version: 'test',
    interval_ms: intervalMs,
    capabilities: { node: run.node } as unknown as wire.HelloV1['capabilities'],
  };
}

export function tcp(over: Partial<wire.TcpEdgeV1> & Pick<wire.TcpEdgeV1, 'role' | 'process' | 'peer' | 'port'>): wire.TcpEdgeV1 {
  return { local: {}, remote: {}, opened: 0, closed: 0, active: 0, bytes_sent: 0, bytes_received: 0, retransmits: 0, resets_sent: 0, resets_received: 0, ...over };
}

export function batch(run: AgentRun, seq: number, fromMs: number, toMs: number, records: wire.TcpEdgeV1[], more: Partial<wire.BatchV1> = {}): wire.BatchV1 {
  return {
    v: 1,
    kind: 'batch',
    run: { agent: run.agent, node: run.node, start: run.start },
    seq,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    tcp: records,
    flows: [],
    drops: [],
    dns: [],
    losses: { events: {}, rolled_up: 0, flows: {}, batches_dropped: 0 },
    ...more,
  };
}
