// The agent's export to the hub (--hub URL): each interval, the edge tables as one wire v1 batch,
// handed to the sender; its own metrics say what was sent, buffered and dropped.
import type { Logger } from 'pino';
import { Family } from '../../lib/metrics.js';
import type { AgentCapabilities } from '../../model/capabilities.js';
import type { LossesV1 } from '../../model/wire/v1.js';
import { SELF_METRICS as M } from '../metrics.js';
import { HubBatchBuilder, type DnsReading, type DropReading, type FlowEdgeReading, type RequestEdgeReading, type TcpEdgeReading } from './hub-batch.js';
import { HubSender, type HubTls } from './hub-sender.js';

export interface HubExportOptions {
  url: string;
  token?: string;
  /** This agent's id at the hub: the node name, with the network namespace when it observes one. */
  agent: string;
  node: string;
  /** --zone; when empty, `zoneOf` (the node's Kubernetes label) is asked each interval. */
  zone: string;
  zoneOf?: () => string;
  intervalMs: number;
  version: string;
  /** For an https:// hub: the CA that signed its certificate, and this agent's client certificate. */
  tls?: HubTls;
  /** Basic authentication (a hub whose web configuration has basic_auth_users). */
  basicAuth?: { user: string; password: string };
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
  /** The zone the hub was (or will be) told in the hello. */
  private zone: string;

  constructor(
    private readonly o: HubExportOptions,
    capabilities: () => AgentCapabilities,
    log: Logger,
  ) {
    const run = { agent: o.agent, node: o.node, start: new Date().toISOString() };
    this.zone = this.currentZone();
    this.builder = new HubBatchBuilder(run);
    this.sender = new HubSender({
      url: o.url,
      token: o.token,
      tls: o.tls,
      basicAuth: o.basicAuth,
      log,
      maxBufferBytes: o.maxBufferBytes,
      hello: () => ({ v: 1, kind: 'hello', run, zone: this.zone, version: o.version, interval_ms: o.intervalMs, capabilities: { ...capabilities(), zone: this.zone } }),
    });
    this.sender.start();
  }

  /** One interval's batch, queued for the hub. */
  interval(tables: HubTables, losses: Omit<LossesV1, 'batches_dropped'>, nowMs = Date.now()): void {
    const zone = this.currentZone();
    if (zone !== this.zone) {
      // Found later (the Kubernetes node came in after start): the hub hears a new hello.
      this.zone = zone;
      this.sender.renewHello();
    }
    this.sender.enqueue(this.builder.build(nowMs, tables, { ...losses, batches_dropped: this.sender.stats.dropped }));
  }

  private currentZone(): string {
    return this.o.zone || this.o.zoneOf?.() || '';
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
