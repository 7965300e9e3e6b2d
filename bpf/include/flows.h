/* Structs shared by bpf/flows.bpf.c and the agent (decoders generated into src/bpf/gen/flows.gen.ts).
 * Fixed-width types, explicit padding, sizes asserted. */
#ifndef __FLOWSCOPE_FLOWS_H
#define __FLOWSCOPE_FLOWS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum flow_direction {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

/* Per-CPU counters of the flow programs (index into flow_counters). */
enum flow_counter {
	FC_SPILLED = 0,	     /* packets whose flow had no room in the map: sent to the spill ring */
	FC_SPILL_LOST = 1,   /* ... and the spill ring was full too: lost */
	FC_DNS_SENT = 2,     /* DNS packets copied to the DNS ring */
	FC_DNS_LOST = 3,     /* DNS packets the DNS ring had no room for */
	FC_DROP_MAP_FULL = 4, /* drops the drop map had no room for: counted in drop_overflow, without addresses */
	FC_NON_IP = 5,	     /* packets neither IPv4 nor IPv6 (not counted as flows) */
	FC_MAX = 8,
};

/* One flow: 5-tuple, interface and direction. Addresses and ports as seen in the packet (source,
 * destination), ports in host byte order. IPv4 addresses in the first 4 bytes. ICMP: sport 0,
 * dport = type << 8 | code. */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 ifindex;
	__u8 family;	/* AF_INET or AF_INET6 */
	__u8 proto;	/* IPPROTO_* */
	__u8 direction; /* enum flow_direction */
	__u8 pad;
};

/* Counters of a flow (per CPU in the map; the agent sums them). */
struct flow_counts {
	__u64 packets;
	__u64 bytes;	/* skb->len at the hook: the frame without FCS (what the interface counters count) */
	__u64 first_ns; /* CLOCK_MONOTONIC (coarse) of the first packet */
	__u64 last_ns;	/* ... and of the last */
	__u16 tcp_flags; /* OR of the flags seen (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80) */
	__u16 port;	 /* service port as the classifier decided it when the flow began (see edge_key.port) */
	__u32 pad2;
};

/* A packet whose flow could not be inserted (map full), handed to the agent through a ring buffer. */
struct flow_spill {
	struct flow_key key;
	__u32 pad;
	struct flow_counts stats;
};

/* An edge: what the metrics count when no flow records are asked for. The peer is the remote end
 * (the source of a packet coming in, the destination of one going out); port is the service port:
 * the one that is not ephemeral (servicePort in src/agent/edges/ports.ts); when both are, the local
 * one if a local socket holds it by bind() (a UDP or TCP service on a port in the ephemeral range);
 * for an ICMP error, the service port of the datagram it answers, else the port that datagram was
 * sent to; 0 for other ICMP and when no port can be told. */
struct edge_key {
	__u8 peer[16];
	__u32 ifindex;
	__u16 port;
	__u8 family;
	__u8 proto;
	__u8 direction;
	__u8 pad[3];
};

struct edge_counts {
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
};

/* The edge cache (seed 003's "array for bursts" in front of the hash): per CPU, a direct-mapped table
 * of EDGE_CACHE_SLOTS slots, one edge each, in front of `edges`. A packet whose edge holds its slot
 * (or finds it free) is counted there: an array lookup and a key compare instead of hashing the key
 * and walking a bucket. Another edge in the slot: the packet goes to `edges`. The agent runs
 * edge_cache_flush on every CPU each interval, before it reads `edges`: the slots' counts move into
 * `edges` and slots without packets since the last flush are freed. So `edges` stays the one place
 * the agent reads. */
enum edge_cache_layout {
	EDGE_CACHE_SLOTS = 256,
};

/* What edge_cache_flush returns (bits). */
enum edge_cache_flush_result {
	ECF_DONE = 0,
	ECF_BUSY = 1,	 /* it interrupted the classifier on that CPU: nothing done, run it again */
	ECF_PENDING = 2, /* some slots found `edges` full: their counts stay in the slot until there is room */
};

/* One slot: an edge and what it counted since the last flush. family == 0: free. */
struct edge_slot {
	struct edge_key key;
	__u32 pad;
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
	__u64 pad2;
};

/* Per CPU. The flush runs on a slot's own CPU, either interrupting the classifier (an IPI) or, on
 * the CPU the agent calls from, interrupted by it: busy and flushing tell each about the other. */
struct edge_cache_state {
	__u32 busy;	/* the classifier is counting a packet (slots or `edges`) */
	__u32 flushing; /* a flush is under way: the classifier leaves the slots alone */
};

/* The edge table: the edges' home, one 64-byte slot (one cache line) per edge and CPU in a shared array,
 * open-addressed. At many distinct peers a packet's edge is a cold miss wherever it lives; here it is
 * one line, where the per-CPU hash walks a bucket, an element and a per-CPU value (three).
 * A packet's edge is looked for in EDGE_PROBE slots from its hash; a lookup stops at a slot never
 * used (EES_EMPTY), never at a freed one, so freeing keeps probe chains whole. A new edge claims the
 * first empty or freed slot of its window (compare-and-swap on state); with none free it goes to
 * `edges` (the per-CPU hash), which stays the overflow and the edge cache's flush target.
 * A slot belongs to the CPU that claimed it (`cpu`, also mixed into the hash): an edge seen on
 * several CPUs has a slot on each, which its CPU counts into with plain adds. A shared slot needed
 * atomic adds, and a locked add on a line that is a cache miss holds the CPU until the line arrives
 * (~20 ns a packet at 65,536 peers, node dist/bench/flows-ab.js, bench/RESULTS.md); it would also
 * bounce the line between CPUs counting the same edge. The agent adds an edge's slots together.
 * Eviction (edge_table_retire, run by the agent each interval after it read the table): an idle
 * LIVE slot becomes DRAINING (no packet matches it any more; a program that matched it just before
 * may still add); one interval later, after the agent has read its final counts, it becomes FREE. */
enum edge_table_layout {
	EDGE_PROBE = 8,
};

enum edge_entry_state {
	EES_EMPTY = 0,	  /* never used: a lookup stops here */
	EES_CLAIMING = 1, /* being filled by the CPU that claimed it */
	EES_LIVE = 2,
	EES_DRAINING = 3, /* idle, taken out of lookups; freed by the retire run after the agent's next read */
	EES_FREE = 4,	  /* freed: reusable, lookups go on past it */
};

struct edge_entry {
	struct edge_key key;
	__u32 cpu;	 /* the CPU whose packets it counts (the only one that adds to it) */
	__u64 packets;	 /* since the slot was claimed */
	__u64 bytes;
	__u64 last_ns;	 /* CLOCK_MONOTONIC (coarse) of the last packet */
	__u32 drain_gen; /* the retire run that made it DRAINING */
	__u32 state;	 /* enum edge_entry_state; last: the agent reads the table from the end (MapReader.readMapped),
			  * so a slot's state is read before its key, which a claim writes before it sets LIVE */
};

/* edge_table_retire's arguments (in) and what it found (out), one entry of `edge_retire`. */
struct edge_retire_args {
	__u64 idle_ns;	/* a LIVE slot without packets for this long becomes DRAINING */
	__u32 gen;	/* this run's number (the agent counts its runs from 1) */
	__u32 live;	/* out: LIVE slots left */
	__u32 drained;	/* out: slots made DRAINING by this run */
	__u32 freed;	/* out: DRAINING slots freed by this run */
};

/* Packets the kernel freed as dropped, aggregated per edge: by reason, addresses and port (not by
 * the ephemeral port of each connection: a connection's close frees packets too, and each would
 * otherwise be an entry of its own). port: the service port (flows.h edge_key), 0 where none can be
 * told; for NO_SOCKET drops the port the packet was sent to (the closed port a sender tried). */
struct drop_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 port;
	__u16 pad2;
	__u32 reason;  /* enum skb_drop_reason (names from the kernel's BTF) */
	__u32 ifindex; /* skb->dev, 0 when none */
	__u8 family;   /* AF_INET, AF_INET6, 0 for other protocols */
	__u8 proto;
	__u8 received; /* 1: the packet came in through an interface (skb_iif set); 0: locally generated */
	__u8 pad;
};

struct drop_counts {
	__u64 packets;
	__u64 bytes;
};

/* Drops that find the drop map full (from a CPU's first failed insert until the agent's next drain:
 * bpf/flows.bpf.c count_drop) are counted in a per-CPU array by reason, protocol class and
 * direction only: slot = reason' << DROP_SLOT_REASON_SHIFT | class << DROP_SLOT_CLASS_SHIFT | received,
 * where reason' is the reason, or DROP_REASON_SLOTS - 1 for any reason from there on (subsystem
 * reasons). */
enum drop_overflow_layout {
	DROP_REASON_SLOTS = 256,
	DROP_OVERFLOW_SLOTS = 256 * 16,
	DROP_SLOT_REASON_SHIFT = 4,
	DROP_SLOT_CLASS_SHIFT = 1, /* three bits of enum drop_proto_class */
};

enum drop_proto_class {
	DPC_OTHER = 0,
	DPC_TCP = 1,
	DPC_UDP = 2,
	DPC_ICMP = 3,
	DPC_ICMPV6 = 4,
};

#define DNS_CAPTURE_BYTES 512

/* A DNS packet (UDP or TCP, port 53) copied for the agent to parse. */
struct dns_packet {
	__u64 ts_ns;	 /* CLOCK_MONOTONIC */
	struct flow_key key;
	__u16 len;	 /* payload bytes captured in data (<= DNS_CAPTURE_BYTES) */
	__u16 orig_len;	 /* payload bytes in the packet */
	__u8 data[DNS_CAPTURE_BYTES]; /* the UDP payload, or the TCP payload (with its 2-byte length prefix) */
};

_Static_assert(sizeof(struct flow_key) == 44, "flow_key layout");
_Static_assert(sizeof(struct edge_key) == 28, "edge_key layout");
_Static_assert(sizeof(struct edge_counts) == 24, "edge_counts layout");
_Static_assert(sizeof(struct edge_slot) == 64, "edge_slot layout: one cache line");
_Static_assert(sizeof(struct edge_cache_state) == 8, "edge_cache_state layout");
_Static_assert(sizeof(struct edge_entry) == 64, "edge_entry layout: one cache line");
_Static_assert(sizeof(struct edge_retire_args) == 24, "edge_retire_args layout");
_Static_assert(sizeof(struct flow_counts) == 40, "flow_stats layout");
_Static_assert(sizeof(struct flow_spill) == 88, "flow_spill layout");
_Static_assert(sizeof(struct drop_key) == 48, "drop_key layout");
_Static_assert(sizeof(struct drop_counts) == 16, "drop_counts layout");
_Static_assert(sizeof(struct dns_packet) == 568, "dns_packet layout");

#endif
