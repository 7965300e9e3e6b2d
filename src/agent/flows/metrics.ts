// The packet-level flow, drop and DNS metrics, declared in one place.
import type { MetricDef } from '../metrics/exposition.js';

export const FLOW_METRICS = {
  packets: { name: 'flowscope_flow_packets_total', type: 'counter', help: 'Packets seen by the TC classifier, per edge (direction, protocol, interface, peer address, service port).' },
  bytes: { name: 'flowscope_flow_bytes_total', type: 'counter', help: 'Bytes seen by the TC classifier (frame length without FCS, as the interface counters count), per edge.' },
  drops: { name: 'flowscope_packet_drops_total', type: 'counter', help: 'Packets the kernel dropped (skb:kfree_skb), by the kernel\'s drop reason and edge.' },
  dnsRequests: { name: 'flowscope_dns_requests_total', type: 'counter', help: 'DNS requests answered (rcode TIMEOUT: unanswered), by response code, query type, server, and the asking namespace, pod and workload where the client\'s address names one.' },
  dnsDuration: { name: 'flowscope_dns_request_duration_seconds', type: 'histogram', help: 'Time from a DNS query to its response, as seen on the wire, by query type, server and the asking namespace, pod and workload.' },
  // Self-metrics of the flow tracer.
  spilled: { name: 'flowscope_agent_flow_spilled_packets_total', type: 'counter', help: 'Packets whose flow found the kernel flow map full: handed to the agent through the spill ring buffer instead (counted, not lost).' },
  lost: { name: 'flowscope_agent_flow_lost_total', type: 'counter', help: 'Records the flow tracer could not take in, by source (spill_ring: packets lost because the map and the spill ring were full; dns_ring: DNS packets not parsed because the DNS ring was full; *_reader: records the agent\'s reader thread discarded because JavaScript fell behind; *_handler: batches whose handling failed, logged as errors).' },
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
  rolledUp: { name: 'flowscope_agent_flow_series_rolled_up_total', type: 'counter', help: 'Flows counted under peer_addr="other" because their own series would exceed the series cap.' },
} as const satisfies Record<string, MetricDef>;

/** 100 µs to 5 s. */
export const DNS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 47: 'gre', 50: 'esp' };

export function protocolName(proto: number): string {
  return PROTOCOL_NAMES[proto] ?? String(proto);
}
