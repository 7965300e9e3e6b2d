// The agent's export to the hub (--hub URL): each interval, the edge tables as one wire v1 batch,
// handed to the sender; its own metrics say what was sent, buffered and dropped.
import type { Logger } from 'pino';
import { Family } from '../../lib/metrics.js';
import type { AgentCapabilities } from '../../model/capabilities.js';
import type { LossesV1 } from '../../model/wire/v1.js';
import { SELF_METRICS as M } from '../metrics.js';
import { HubBatchBuilder, type DnsReading, type DropReading, type FlowEdgeReading, type RequestEdgeReading, type TcpEdgeReading } from './hub-batch.js';
import { HubSender } from './hub-sender.js';

export interface HubExportOptions {
  url: string;
  token?: string;
  /** This agent's id at the hub: the node name, with the network namespace when it observes one. */
  agent: string;
  node: string;
  zone: string;
  intervalMs: number;
  version: string;
  /** Compressed bytes kept while the hub is away. */
  maxBufferBytes?: number;
}

export interface HubTables {
  tcp: Iterable<TcpEdgeReading>;
  /** Request edges (L7), sent with the TCP edges they belong to. */
  requests?: Iterable<RequestEdgeReading>;
  flows?: Iterable<FlowEdgeReading>;
  drops?: Iterable<DropReading>;
  dns?: Iterable<DnsReading>;
}

export class HubExport {
  private readonly builder: HubBatchBuilder;
  private readonly sender: HubSender;
  private readonly batches = new Family(M.hubBatches);
  private readonly buffered = new Family(M.hubBuffered);

  constructor(
    private readonly o: HubExportOptions,
    capabilities: () => AgentCapabilities,
    log: Logger,
  ) {
    const run = { agent: o.agent, node: o.node, start: new Date().toISOString() };
    this.builder = new HubBatchBuilder(run);
    this.sender = new HubSender({
      url: o.url,
      token: o.token,
      log,
      maxBufferBytes: o.maxBufferBytes,
      hello: () => ({ v: 1, kind: 'hello', run, zone: o.zone, version: o.version, interval_ms: o.intervalMs, capabilities: { ...capabilities(), zone: o.zone } }),
    });
    this.sender.start();
  }

  /** One interval's batch, queued for the hub. */
  interval(tables: HubTables, losses: Omit<LossesV1, 'batches_dropped'>, nowMs = Date.now()): void {
    this.sender.enqueue(this.builder.build(nowMs, tables, { ...losses, batches_dropped: this.sender.stats.dropped }));
  }

  render(out: string[]): void {
    const s = this.sender.stats;
    this.batches.set(s.sent, { result: 'sent' });
    this.batches.set(s.dropped, { result: 'dropped' });
    this.batches.set(s.rejected, { result: 'rejected' });
    this.buffered.set(s.buffered);
    this.batches.render(out);
    this.buffered.render(out);
  }

  /** Sends what is buffered (for at most `flushMs`) and stops. */
  stop(flushMs = 5_000): Promise<void> {
    return this.sender.stop(flushMs);
  }
}
