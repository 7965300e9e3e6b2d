// The flow part of the agent, started and stopped by it as one object: the flow tracer, its
// exporters (NDJSON flow records, IPFIX) and, when on, DNS. Renders into the agent's /metrics and
// reports into /capabilities.
import type { Logger } from 'pino';
import { FlowTracer, type FlowRecord } from './tracer.js';
import { NdjsonWriter } from '../export/ndjson.js';
import { header, sample } from '../metrics/exposition.js';
import { DnsTracker } from '../dns/tracker.js';
import type { WorkloadOf } from './workload.js';
import { IpfixExporter } from '../export/ipfix.js';
import { FLOW_METRICS } from './metrics.js';

export interface FlowAgentOptions {
  /** Interfaces to watch (default: all of this network namespace). */
  interfaces?: RegExp;
  tcMode: 'auto' | 'tcx' | 'legacy';
  maxFlows: number;
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

export class FlowAgent {
  private readonly ndjson: NdjsonWriter | undefined;
  private readonly sinks: Array<(r: FlowRecord) => void> = [];
  private runStats: Array<{ program: string; runTimeNs: number; runCount: number }> = [];
  private constructor(
    readonly tracer: FlowTracer,
    ndjson: NdjsonWriter | undefined,
    private readonly dns: DnsTracker | undefined,
    private readonly ipfix: IpfixExporter | undefined,
  ) {
    this.ndjson = ndjson;
  }

  static async start(options: FlowAgentOptions, maxSeries: number, log: Logger): Promise<FlowAgent> {
    const ndjson = options.ndjson ? new NdjsonWriter(options.ndjson) : undefined;
    const sinks: Array<(r: FlowRecord) => void> = [];
    if (ndjson) sinks.push((r) => ndjson.write({ type: 'flow', ...r }));
    const ipfix = options.ipfix ? new IpfixExporter(options.ipfix) : undefined;
    if (ipfix) sinks.push((r) => ipfix.add(r));
    const dns = options.dns ? new DnsTracker({ maxSeries, workloadOf: options.workloadOf }) : undefined;
    const tracer = FlowTracer.open({
      interfaces: options.interfaces,
      tcMode: options.tcMode,
      maxFlows: options.maxFlows,
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
      onFlowEnd: sinks.length ? (r) => { for (const s of sinks) s(r); } : undefined,
      log,
    });
    const agent = new FlowAgent(tracer, ndjson, dns, ipfix);
    tracer.interfaces.onWarning = (message) => log.warn(message);
    const linkEvents = tracer.interfaces.linkEvents();
    if (linkEvents?.fallback) log.warn(`flows: ${linkEvents.fallback}`);
    agent.sinks.push(...sinks);
    log.info({ interfaces: tracer.interfaces.count, drops: tracer.dropHook.program ?? 'off' }, 'flows: started');
    return agent;
  }

  async tick(bpfStats: boolean): Promise<void> {
    await this.tracer.dnsRing?.flush();
    this.dns?.tick();
    await this.tracer.tick();
    this.ipfix?.flush();
    if (bpfStats) this.runStats = this.tracer.programStats();
  }

  render(out: string[]): void {
    this.tracer.render(out);
    this.dns?.render(out);
    header(out, FLOW_METRICS.linkOverruns);
    sample(out, FLOW_METRICS.linkOverruns.name, '', this.tracer.interfaces.linkEvents()?.overruns ?? 0);
    if (this.ndjson) {
      header(out, { name: 'flowscope_agent_flow_records_dropped_total', type: 'counter', help: 'Flow records not written because the NDJSON reader could not keep up.' });
      sample(out, 'flowscope_agent_flow_records_dropped_total', 'sink="ndjson"', this.ndjson.dropped);
    }
    if (this.ipfix) {
      header(out, { name: 'flowscope_agent_ipfix_records_total', type: 'counter', help: 'Flow records sent to the IPFIX collector.' });
      sample(out, 'flowscope_agent_ipfix_records_total', '', this.ipfix.sentRecords);
      header(out, { name: 'flowscope_agent_ipfix_messages_total', type: 'counter', help: 'IPFIX messages sent.' });
      sample(out, 'flowscope_agent_ipfix_messages_total', '', this.ipfix.sentMessages);
      header(out, { name: 'flowscope_agent_ipfix_errors_total', type: 'counter', help: 'IPFIX messages the socket failed to send.' });
      sample(out, 'flowscope_agent_ipfix_errors_total', '', this.ipfix.errors);
    }
    if (this.runStats.length) {
      header(out, { name: 'flowscope_agent_flow_bpf_run_seconds_total', type: 'counter', help: 'Time the kernel spent in each flow program (while kernel BPF statistics are on).' });
      for (const p of this.runStats) sample(out, 'flowscope_agent_flow_bpf_run_seconds_total', `program="${p.program}"`, p.runTimeNs / 1e9);
      header(out, { name: 'flowscope_agent_flow_bpf_runs_total', type: 'counter', help: 'Runs of each flow program (while kernel BPF statistics are on).' });
      for (const p of this.runStats) sample(out, 'flowscope_agent_flow_bpf_runs_total', `program="${p.program}"`, p.runCount);
    }
  }

  capabilities(): unknown {
    return { ...this.tracer.capabilities(), linkEvents: this.tracer.interfaces.linkEvents() ?? null, dns: this.dns ? { source: 'TC classifier copies UDP/TCP port 53 payloads (512 bytes) to a 1 MiB ring buffer; what does not fit is counted in flowscope_agent_flow_lost_total{source="dns_ring"}' } : null, records: { ndjson: this.ndjson !== undefined, ipfix: this.ipfix ? this.ipfix.target : null } };
  }

  async stop(): Promise<void> {
    this.tracer.flushRecords();
    this.tracer.close();
    await this.ipfix?.close();
  }
}
