// The packet part of the agent, started and stopped as one: the flow tracer (flows, drops), DNS,
// and the flow record sinks (NDJSON, IPFIX).
import type { Logger } from 'pino';
import type { ProgramRunStats } from '../bpf/index.js';
import type { FlowCapabilities } from '../model/capabilities.js';
import type { FlowRecord } from '../model/records.js';
import type { WorkloadOf } from '../model/workload.js';
import { FlowTracer } from './flows/tracer.js';
import { DnsTracker } from './dns/tracker.js';
import { IpfixExporter } from './export/ipfix.js';
import { NdjsonWriter } from './export/ndjson.js';

export interface PacketOptions {
  /** Interfaces to watch (default: all of this network namespace). */
  interfaces?: RegExp;
  /** Another network namespace (--netns): its interfaces, drops and DNS only. */
  netns?: { path: string; inode: number };
  tcMode: 'auto' | 'tcx' | 'legacy';
  maxFlows: number;
  /** Count edges in the edge table (default), else in the per-CPU edge map with the cache in front. */
  edgeTable?: boolean;
  idleTimeoutMs: number;
  activeTimeoutMs: number;
  drops: boolean;
  dns: boolean;
  /** Flow records (one JSON line per finished flow) on this stream. */
  ndjson?: NodeJS.WritableStream;
  /** IPFIX collector (UDP). */
  ipfix?: { host: string; port: number };
  /** The workload that owns an address, when known (from the agent's identity sources). */
  workloadOf?: WorkloadOf;
}

export class Packets {
  private constructor(
    readonly tracer: FlowTracer,
    readonly ndjson: NdjsonWriter | undefined,
    readonly dns: DnsTracker | undefined,
    readonly ipfix: IpfixExporter | undefined,
  ) {}

  static start(options: PacketOptions, maxSeries: number, log: Logger): Packets {
    const ndjson = options.ndjson ? new NdjsonWriter(options.ndjson) : undefined;
    const sinks: Array<(r: FlowRecord) => void> = [];
    if (ndjson) sinks.push((r) => ndjson.write({ type: 'flow', ...r }));
    const ipfix = options.ipfix ? new IpfixExporter(options.ipfix) : undefined;
    if (ipfix) sinks.push((r) => ipfix.add(r));
    const dns = options.dns ? new DnsTracker({ maxSeries, workloadOf: options.workloadOf }) : undefined;
    const tracer = FlowTracer.open({
      interfaces: options.interfaces,
      netns: options.netns,
      tcMode: options.tcMode,
      maxFlows: options.maxFlows,
      edgeTable: options.edgeTable,
      // The metrics need only edges: the kernel counts per 5-tuple only when flow records go somewhere.
      trackFlows: sinks.length > 0,
      idleTimeoutMs: options.idleTimeoutMs,
      activeTimeoutMs: options.activeTimeoutMs,
      maxSeries,
      drops: options.drops,
      dns: options.dns,
      onDns: dns?.handle,
      dnsName: dns?.nameOf,
      workloadOf: options.workloadOf,
      onFlowEnd: sinks.length
        ? (r) => {
            for (const s of sinks) s(r);
          }
        : undefined,
      log,
    });
    tracer.interfaces.onWarning = (message) => log.warn(message);
    const linkEvents = tracer.interfaces.linkEvents();
    if (linkEvents?.fallback) log.warn(`flows: ${linkEvents.fallback}`);
    log.info({ interfaces: tracer.interfaces.count, drops: tracer.dropHook.program ?? 'off' }, 'flows: started');
    return new Packets(tracer, ndjson, dns, ipfix);
  }

  async tick(): Promise<void> {
    await this.tracer.dnsRing?.flush();
    this.dns?.tick();
    await this.tracer.tick();
    this.ipfix?.flush();
  }

  /** Forgets flow, drop and DNS edges without traffic for `idleMs`. */
  evictIdle(idleMs: number): void {
    this.tracer.evictIdle(idleMs);
    this.dns?.edges.evictIdle(idleMs);
  }

  programStats(): ProgramRunStats[] {
    return this.tracer.programStats();
  }

  capabilities(): FlowCapabilities {
    return {
      ...this.tracer.capabilities(),
      dns: this.dns ? { source: 'TC classifier copies UDP/TCP port 53 payloads (512 bytes) to a 1 MiB ring buffer; what does not fit is counted in flowscope_agent_flow_lost_total{source="dns_ring"}' } : null,
      records: { ndjson: this.ndjson !== undefined, ipfix: this.ipfix ? this.ipfix.target : null },
    };
  }

  async stop(): Promise<void> {
    this.tracer.flushRecords();
    this.tracer.close();
    await this.ipfix?.close();
  }
}
