// The agent's metrics, declared in one place: names, types and help texts. The exposition writer
// renders them (per-edge series are the hot part: prom-client costs ~0.6 µs per labelled inc() and
// ~190 ms per scrape at 10,000 edges x 8 metrics, see bench/RESULTS.md).
import type { MetricDef } from '../lib/exposition.js';

/** Per-edge TCP metrics. */
export const TCP_METRICS = {
  opened: { name: 'flowscope_tcp_connections_opened_total', type: 'counter', help: 'TCP connections opened (clients: established; servers: accepted).' },
  closed: { name: 'flowscope_tcp_connections_closed_total', type: 'counter', help: 'TCP connections closed.' },
  active: { name: 'flowscope_tcp_active_connections', type: 'gauge', help: 'TCP connections open now.' },
  failures: { name: 'flowscope_tcp_connect_failures_total', type: 'counter', help: 'Outgoing TCP connection attempts that failed, by reason (refused, timeout, unreachable, reset, other).' },
  connectDuration: { name: 'flowscope_tcp_connect_duration_seconds', type: 'histogram', help: 'Time from SYN sent to connection established (client role).' },
  sent: { name: 'flowscope_tcp_sent_bytes_total', type: 'counter', help: 'Payload bytes sent (retransmissions excluded).' },
  received: { name: 'flowscope_tcp_received_bytes_total', type: 'counter', help: 'Payload bytes received.' },
  retransmits: { name: 'flowscope_tcp_retransmits_total', type: 'counter', help: 'Segments retransmitted (SYN, SYN-ACK and data).' },
  resets: { name: 'flowscope_tcp_resets_total', type: 'counter', help: 'TCP resets, by direction (sent, received).' },
  rtt: { name: 'flowscope_tcp_rtt_seconds', type: 'histogram', help: 'Smoothed round-trip time, sampled once per interval for each connection that had traffic.' },
  duration: { name: 'flowscope_tcp_connection_duration_seconds', type: 'histogram', help: 'Lifetime of closed connections.' },
} as const satisfies Record<string, MetricDef>;

/** Per-edge packet metrics (TC classifier), drops and DNS. */
export const PACKET_METRICS = {
  packets: { name: 'flowscope_flow_packets_total', type: 'counter', help: 'Packets seen by the TC classifier, per edge (direction, protocol, interface, peer address, service port).' },
  bytes: { name: 'flowscope_flow_bytes_total', type: 'counter', help: 'Bytes seen by the TC classifier (frame length without FCS, as the interface counters count), per edge.' },
  drops: { name: 'flowscope_packet_drops_total', type: 'counter', help: 'Packets the kernel dropped (skb:kfree_skb), by the kernel\'s drop reason and edge.' },
  dnsRequests: { name: 'flowscope_dns_requests_total', type: 'counter', help: 'DNS requests answered (rcode TIMEOUT: unanswered), by response code, query type, server, and the asking namespace, pod and workload where the client\'s address names one.' },
  dnsDuration: { name: 'flowscope_dns_request_duration_seconds', type: 'histogram', help: 'Time from a DNS query to its response, as seen on the wire, by query type, server and the asking namespace, pod and workload.' },
} as const satisfies Record<string, MetricDef>;

/** The agent's metrics about itself. */
export const SELF_METRICS = {
  eventsLost: { name: 'flowscope_agent_events_lost_total', type: 'counter', help: 'Records the agent could not take in, by source (ringbuf: lifecycle events dropped because the ring buffer was full; recursion: hook runs the kernel skipped because the program was already running on that CPU; conn_map_full: connections the kernel map had no room for, counted at close instead; handler: event batches whose handling failed, logged; ndjson: records the NDJSON reader could not keep up with).' },
  mapEntries: { name: 'flowscope_agent_map_entries', type: 'gauge', help: 'Entries in the agent\'s BPF maps at the last read.' },
  mapCapacity: { name: 'flowscope_agent_map_capacity_entries', type: 'gauge', help: 'Maximum entries of the agent\'s BPF maps.' },
  rolledUp: { name: 'flowscope_agent_series_rolled_up_total', type: 'counter', help: 'Connections counted under peer_addr="other" because their own series would exceed the series cap.' },
  inferred: { name: 'flowscope_agent_events_inferred_total', type: 'counter', help: 'Lifecycle events the agent inferred because the event itself was lost (event: open, close).' },
  edges: { name: 'flowscope_agent_edges', type: 'gauge', help: 'Edges (series per TCP metric) the agent holds.' },
  tracked: { name: 'flowscope_agent_tracked_connections', type: 'gauge', help: 'Connections the agent is following.' },
  interval: { name: 'flowscope_agent_interval_duration_seconds', type: 'histogram', help: 'Time to read the kernel maps and update the edges, per interval.' },
  errors: { name: 'flowscope_agent_errors_total', type: 'counter', help: 'Errors the agent recovered from, by stage.' },
  enrichErrors: { name: 'flowscope_agent_enrich_errors_total', type: 'counter', help: 'Errors talking to identity sources (container runtimes, the Kubernetes API server, conntrack), by source; labels from that source are missing or stale meanwhile.' },
  // Packet part.
  flowSpilled: { name: 'flowscope_agent_flow_spilled_packets_total', type: 'counter', help: 'Packets whose flow found the kernel flow map full: handed to the agent through the spill ring buffer instead (counted, not lost).' },
  flowLost: { name: 'flowscope_agent_flow_lost_total', type: 'counter', help: 'Records the flow tracer could not take in, by source (spill_ring: packets lost because the map and the spill ring were full; dns_ring: DNS packets not parsed because the DNS ring was full; *_reader: records the agent\'s reader thread discarded because JavaScript fell behind; *_handler: batches whose handling failed, logged as errors).' },
  dropsWithoutAddresses: { name: 'flowscope_agent_drops_without_addresses_total', type: 'counter', help: 'Drops that found the kernel drop map full (a flood of drops with distinct addresses within one interval): counted in flowscope_packet_drops_total by reason, direction and protocol only, under peer_addr="other".' },
  nonIp: { name: 'flowscope_agent_flow_non_ip_packets_total', type: 'counter', help: 'Packets neither IPv4 nor IPv6 (ARP, LLDP...): seen but not counted as flows.' },
  flows: { name: 'flowscope_agent_flows', type: 'gauge', help: 'Flows the agent is following (kernel map plus spilled).' },
  pressure: { name: 'flowscope_agent_flow_map_pressure_intervals_total', type: 'counter', help: 'Intervals in which the flow map was at least half full, so that idle flows left after 2 s (at least three quarters full: 0.5 s) instead of the idle timeout. Raise --max-flows if it keeps growing.' },
  edgeEntries: { name: 'flowscope_agent_flow_edge_entries', type: 'gauge', help: 'Entries of the kernel edge map (edge mode: counting per edge when no flow records are asked for).' },
  evicted: { name: 'flowscope_agent_flows_evicted_total', type: 'counter', help: 'Flows (edge mode: edge entries) removed from the kernel map after being idle for the idle timeout.' },
  cacheRetries: { name: 'flowscope_agent_edge_cache_flush_retries_total', type: 'counter', help: 'Tries of an edge cache flush that interrupted the classifier on that CPU and were made again.' },
  cacheDeferred: { name: 'flowscope_agent_edge_cache_flushes_deferred_total', type: 'counter', help: 'Flushes of a CPU\'s edge cache put off to the next interval because each try interrupted the classifier on that CPU (the counts wait in the cache, none are lost).' },
  cachePending: { name: 'flowscope_agent_edge_cache_pending_total', type: 'counter', help: 'Flushes of a CPU\'s edge cache in which some edges found the kernel edge map full: their counts wait in the cache until there is room (raise --max-flows if it keeps growing).' },
  cacheFlushErrors: { name: 'flowscope_agent_edge_cache_flush_errors_total', type: 'counter', help: 'Flushes of a CPU\'s edge cache that failed (logged); the counts wait in the cache.' },
  interfaces: { name: 'flowscope_agent_flow_interfaces', type: 'gauge', help: 'Interfaces with the flow classifier attached (both directions).' },
  linkOverruns: { name: 'flowscope_agent_link_event_overruns_total', type: 'counter', help: 'Times the kernel dropped netlink link events because the agent\'s socket buffer was full; each is repaired by a full link dump.' },
  flowRolledUp: { name: 'flowscope_agent_flow_series_rolled_up_total', type: 'counter', help: 'Flows counted under peer_addr="other" because their own series would exceed the series cap.' },
  flowRecordsDropped: { name: 'flowscope_agent_flow_records_dropped_total', type: 'counter', help: 'Flow records not written because the NDJSON reader could not keep up.' },
  ipfixRecords: { name: 'flowscope_agent_ipfix_records_total', type: 'counter', help: 'Flow records sent to the IPFIX collector.' },
  ipfixMessages: { name: 'flowscope_agent_ipfix_messages_total', type: 'counter', help: 'IPFIX messages sent.' },
  ipfixErrors: { name: 'flowscope_agent_ipfix_errors_total', type: 'counter', help: 'IPFIX messages the socket failed to send.' },
  dnsParseErrors: { name: 'flowscope_agent_dns_parse_errors_total', type: 'counter', help: 'DNS packets on port 53 that were not valid DNS messages (or were cut short at the capture limit).' },
  dnsNames: { name: 'flowscope_agent_dns_names', type: 'gauge', help: 'Addresses with a known DNS name (for peer_dns).' },
} as const satisfies Record<string, MetricDef>;

export const INTERVAL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
