// The agent's metrics, declared in one place (metrics.json: names, types and help texts). The exposition writer
// renders them (per-edge series are the hot part: prom-client costs ~0.6 µs per labelled inc() and
// ~190 ms per scrape at 10,000 edges x 8 metrics, see bench/RESULTS.md).
import { catalogue } from '../lib/exposition.js';
import json from './metrics.json' with { type: 'json' };

const AGENT_METRICS = catalogue(json);

/** Per-edge TCP metrics. */
export const TCP_METRICS = AGENT_METRICS.tcp;
/** Per-edge packet metrics (TC classifier), drops and DNS. */
export const PACKET_METRICS = AGENT_METRICS.packets;
/** Per-edge request metrics (HTTP, gRPC). */
export const REQUEST_METRICS = AGENT_METRICS.requests;
/** The agent's metrics about itself. */
export const SELF_METRICS = AGENT_METRICS.self;

export const INTERVAL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
