// The hub's own metrics (/metrics): ingest per agent, lag, what was refused or dropped, the join,
// the store's size and the queries' durations. Few series (per agent at most): prom-client.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type RejectReason = 'malformed' | 'too_large' | 'unauthorized' | 'unknown_run' | 'bad_encoding' | 'store_error';

export class HubMetrics {
  readonly registry = new Registry();

  readonly batches = new Counter({
    name: 'flowscope_hub_ingest_batches_total',
    help: 'Agent batches received, by agent and result (applied, duplicate: a resend already applied)',
    labelNames: ['agent', 'result'] as const,
    registers: [this.registry],
  });
  readonly records = new Counter({
    name: 'flowscope_hub_ingest_records_total',
    help: 'Edge records applied, by kind (tcp, flows, drops, dns)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'flowscope_hub_ingest_rejected_total',
    help: 'Ingest requests refused, by reason; a refused request changes nothing',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly ingestBytes = new Counter({
    name: 'flowscope_hub_ingest_received_bytes_total',
    help: 'Ingest request bodies received, as sent (compressed)',
    registers: [this.registry],
  });
  readonly lag = new Gauge({
    name: 'flowscope_hub_ingest_lag_seconds',
    help: "Time from the end of an agent's latest applied interval to its arrival at the hub",
    labelNames: ['agent'] as const,
    registers: [this.registry],
  });
  readonly lastBatch = new Gauge({
    name: 'flowscope_hub_agent_last_batch_timestamp_seconds',
    help: "End of an agent's latest applied interval (Unix time)",
    labelNames: ['agent', 'node'] as const,
    registers: [this.registry],
  });
  readonly agentDropped = new Gauge({
    name: 'flowscope_hub_agent_dropped_batches',
    help: 'Intervals an agent dropped because its send buffer was full while the hub was away (as the agent reports it, per run)',
    labelNames: ['agent'] as const,
    registers: [this.registry],
  });
  readonly agentsReporting = new Gauge({
    name: 'flowscope_hub_agents_reporting',
    help: 'Agents whose latest batch arrived within the last three intervals',
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'flowscope_hub_dropped_records_total',
    help: 'Records the hub accepted but could not keep, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly joins = new Counter({
    name: 'flowscope_hub_join_resolutions_total',
    help: "How side records' peers were named: joined (the other side's agent held the address then), recent (its last holder), agent_view (the reporting agent's view), external",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: 'flowscope_hub_join_pending_batches',
    help: 'Batches accepted and waiting for the other agents to report the same interval',
    registers: [this.registry],
  });
  readonly storeBytes = new Gauge({
    name: 'flowscope_hub_store_bytes',
    help: 'Bytes on disk of the embedded store (database, write-ahead log, Parquet files)',
    registers: [this.registry],
  });
  readonly storeRows = new Gauge({
    name: 'flowscope_hub_store_rows',
    help: 'Rows in the embedded store, by table',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly graphSize = new Gauge({
    name: 'flowscope_hub_graph_entries',
    help: 'Fine edges and endpoints the hub knows',
    labelNames: ['what'] as const,
    registers: [this.registry],
  });
  readonly queryDuration = new Histogram({
    name: 'flowscope_hub_query_duration_seconds',
    help: 'API request durations, by endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly streamClients = new Gauge({
    name: 'flowscope_hub_stream_clients',
    help: 'Clients connected to /api/v1/stream',
    registers: [this.registry],
  });

  constructor() {
    // prom-client's default set names gauges *_total (promtool refuses them): the few that matter.
    const started = Date.now() / 1000 - process.uptime();
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time spent, in seconds',
      registers: [this.registry],
      collect() {
        const u = process.cpuUsage();
        this.reset();
        this.inc((u.user + u.system) / 1e6);
      },
    });
    new Gauge({
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size in bytes',
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    new Gauge({
      name: 'nodejs_heap_used_bytes',
      help: 'V8 heap in use, in bytes',
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage().heapUsed);
      },
    });
    new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, in seconds', registers: [this.registry] }).set(started);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
