// Packet-level flows on TC/TCX, packet drops with the kernel's reason, and DNS packets.
//
//   flow_tc / flow_tc_l3   TC classifier (tcx where the kernel has it, else clsact), ingress and egress,
//                          on Ethernet-like devices (flow_tc) or raw IP devices (flow_tc_l3, e.g. tun).
//                          Counts per flow (5-tuple, interface, direction) in a per-CPU hash updated
//                          in place when flow records are wanted (track_flows), else per edge
//                          (peer, service port, protocol, interface, direction): what the metrics
//                          need, and far fewer entries), through a per-CPU edge cache in front of
//                          the edge map (flows.h). A packet that finds its map full goes to the
//                          spill ring, counted.
//                          On ingress, headers outside the skb's linear area are pulled into it
//                          (the stack pulls them right after; see window_fill in flow_parse.bpf.h).
//                          Always returns TC_ACT_UNSPEC (== TCX_NEXT): never decides a packet's fate.
//   edge_cache_flush       run by the agent on every CPU each interval (test run on that CPU): moves
//                          the edge cache's counts into the edge map.
//   drop_btf / drop_raw    skb:kfree_skb (tp_btf, else raw_tp): drops by reason and addresses.
//
// The agent reads `flows` with batch lookups every interval (non-destructively) and deletes flows
// idle for longer than its timeout.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "compat.bpf.h"
#include "ringbuf.bpf.h"
#include "btf_export.bpf.h"
#include "flows.h"
#include "flow_parse.bpf.h"
#include "once.bpf.h"

#define EEXIST 17
#define SOCK_BINDPORT_LOCK 8

/* Linux 6.2 ("bpf: Add bpf_rdonly_cast() kfunc"): reads a socket the lookup helpers return as a
 * struct sock (its bind() lock), read-only. */
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym;

const volatile __u8 enable_dns = 1;
/* 1: count per flow (5-tuple) for flow records; 0: count per edge only (what the metrics need). */
const volatile __u8 track_flows = 1;
/* The ephemeral port range (ip_local_port_range): such ports never become an edge's port. */
const volatile __u16 eph_low = 32768;
const volatile __u16 eph_high = 60999;
/* 1: when a flow's ports are both ephemeral, ask whether a local socket holds one by bind() (a service
 * on a port in the ephemeral range); 0: such flows have no service port. */
const volatile __u8 bound_ports = 1;
/* 1: edges are counted through the per-CPU edge cache (flows.h), which the agent flushes with
 * edge_cache_flush every interval; 0: straight into `edges` (kernels without BPF_F_TEST_RUN_ON_CPU). */
const volatile __u8 edge_cache = 1;
/* The edge table's slot count minus one (a power of two minus one; flows.h, struct edge_entry); 0: no
 * edge table, edges are counted in `edges` only (the agent's choice where edge_table_retire cannot load). */
const volatile __u32 edge_table_mask = 0;

/* Benchmarks only (bench/flows-pps.ts, FLOWSCOPE_BENCH_GATE): the classifier and the drop hook do
 * nothing while `bench_gate` holds 1, so that a benchmark can switch the whole agent on and off
 * every few ms. 0 otherwise: the verifier drops the check. */
const volatile __u8 bench_gated = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_gate SEC(".maps");

static __always_inline int bench_off(void)
{
	if (!bench_gated)
		return 0;
	__u32 zero = 0;
	__u32 *shut = bpf_map_lookup_elem(&bench_gate, &zero);
	return shut && *shut;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_counts);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct edge_key);
	__type(value, struct edge_counts);
} edges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* read by the agent through a mapping, not a system call per slot */
	__uint(max_entries, 1); /* sized by the agent: edge_table_mask + 1 */
	__type(key, __u32);
	__type(value, struct edge_entry);
} edge_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct edge_retire_args);
} edge_retire SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDGE_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct edge_slot);
} edge_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct edge_cache_state);
} edge_cpu_state SEC(".maps");

/* Rings are mapped into the agent (resident, twice over for wrap-around): sized for what they carry.
 * Spills come only past a full map, and then in bursts (88 bytes each): 256 KiB (~2,700) lost 350-900
 * of a 16,000-packet trafgen burst on a loaded machine even with its reader woken at half the ring;
 * 1 MiB (~10,900) keeps up (1.5 MB more resident). DNS packets 568 bytes (~450 per 10 ms poll).
 * What does not fit is counted (FC_SPILL_LOST, FC_DNS_LOST). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} flow_spills SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} dns_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} flow_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct drop_key);
	__type(value, struct drop_counts);
} drops SEC(".maps");

/* Drops whose key found the drop map full, by reason, protocol class and direction (cumulative). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_OVERFLOW_SLOTS);
	__type(key, __u32);
	__type(value, struct drop_counts);
} drop_overflow SEC(".maps");

/* The agent's read generation: it adds one after each read of `drops` (which takes idle entries out). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drop_drains SEC(".maps");

/* Per CPU: 1 + the read generation in which an insert into `drops` failed. A full map stays full
 * until the agent's next read (which takes idle entries out), so new keys skip the (costly) failing
 * insert until then. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drop_full_at SEC(".maps");

FLOWSCOPE_EXPORT_TYPE(struct flow_spill, flow_spill);
FLOWSCOPE_EXPORT_TYPE(enum drop_proto_class, drop_proto_class);
FLOWSCOPE_EXPORT_TYPE(enum drop_overflow_layout, drop_overflow_layout);
FLOWSCOPE_EXPORT_TYPE(struct edge_key, edge_key);
FLOWSCOPE_EXPORT_TYPE(struct edge_counts, edge_counts);
FLOWSCOPE_EXPORT_TYPE(struct edge_slot, edge_slot);
FLOWSCOPE_EXPORT_TYPE(struct edge_cache_state, edge_cache_state);
FLOWSCOPE_EXPORT_TYPE(struct edge_entry, edge_entry);
FLOWSCOPE_EXPORT_TYPE(struct edge_retire_args, edge_retire_args);
FLOWSCOPE_EXPORT_TYPE(enum edge_entry_state, edge_entry_state);
FLOWSCOPE_EXPORT_TYPE(enum edge_table_layout, edge_table_layout);
FLOWSCOPE_EXPORT_TYPE(enum edge_cache_layout, edge_cache_layout);
FLOWSCOPE_EXPORT_TYPE(enum edge_cache_flush_result, edge_cache_flush_result);
FLOWSCOPE_EXPORT_TYPE(struct dns_packet, dns_packet);
FLOWSCOPE_EXPORT_TYPE(enum flow_direction, flow_direction);
FLOWSCOPE_EXPORT_TYPE(enum flow_counter, flow_counter);

static __always_inline void bump(__u32 counter)
{
	__u64 *n = bpf_map_lookup_elem(&flow_counters, &counter);
	if (n)
		*n += 1;
}

/* DNS: a copy of the payload for the agent (bounded by the ring; what does not fit is counted). */
static __always_inline void dns_copy(struct __sk_buff *skb, struct flow_key *key, __u32 payload)
{
	if (key->sport != 53 && key->dport != 53)
		return;
	if (key->proto != IPPROTO_UDP && key->proto != IPPROTO_TCP)
		return;
	if (payload >= skb->len)
		return; /* no payload (TCP handshake, ACKs) */
	__u32 len = skb->len - payload;
	struct dns_packet *p = bpf_ringbuf_reserve(&dns_packets, sizeof(*p), 0);
	if (!p) {
		bump(FC_DNS_LOST);
		return;
	}
	p->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(&p->key, key, sizeof(*key));
	p->orig_len = len > 0xffff ? 0xffff : len;
	if (len > DNS_CAPTURE_BYTES)
		len = DNS_CAPTURE_BYTES;
	p->len = len;
	if (len < 1 || bpf_skb_load_bytes(skb, payload, p->data, len)) {
		bpf_ringbuf_discard(p, BPF_RB_NO_WAKEUP);
		return;
	}
	bump(FC_DNS_SENT);
	bpf_ringbuf_submit(p, 0);
}

static __always_inline int ephemeral(__u16 port)
{
	return port >= eph_low && port <= eph_high;
}

/* Same rule as servicePort() in src/agent/flows/ports.ts. */
static __always_inline __u16 service_port(__u16 local, __u16 remote)
{
	int le = ephemeral(local), re = ephemeral(remote);
	if (le && re)
		return 0;
	if (le)
		return remote;
	if (re)
		return local;
	return local < remote ? local : remote;
}

/* A socket holds `port` by an explicit bind() (a service), not as a client's ephemeral port. */
static __always_inline int held_by_bind(struct bpf_sock *sk, __u16 port)
{
	if (sk->src_port != port)
		return 0;
	struct sock *s = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock));
	return (s->sk_userlocks & SOCK_BINDPORT_LOCK) != 0;
}

/* The packet's local port is held by bind(): going out, its own socket says; coming in, the socket
 * the stack would deliver it to (looked up in the namespace of the interface). */
static __always_inline int local_port_bound(struct __sk_buff *skb, const struct flow_key *key, int ingress)
{
	if (!ingress) {
		struct bpf_sock *sk = skb->sk;
		if (!sk)
			return 0;
		sk = bpf_sk_fullsock(sk);
		return sk && held_by_bind(sk, key->sport);
	}
	struct bpf_sock_tuple t = {};
	__u32 len;
	if (key->family == AF_INET) {
		__builtin_memcpy(&t.ipv4.saddr, key->saddr, 4);
		__builtin_memcpy(&t.ipv4.daddr, key->daddr, 4);
		t.ipv4.sport = bpf_htons(key->sport);
		t.ipv4.dport = bpf_htons(key->dport);
		len = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, key->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, key->daddr, 16);
		t.ipv6.sport = bpf_htons(key->sport);
		t.ipv6.dport = bpf_htons(key->dport);
		len = sizeof(t.ipv6);
	}
	struct bpf_sock *sk = key->proto == IPPROTO_UDP ? bpf_sk_lookup_udp(skb, &t, len, BPF_F_CURRENT_NETNS, 0)
							: bpf_sk_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	int bound = held_by_bind(sk, key->dport);
	bpf_sk_release(sk);
	return bound;
}

static __always_inline int icmp_error(__u8 proto, __u16 type_code)
{
	__u8 type = type_code >> 8;
	if (proto == IPPROTO_ICMP)
		return type == 3 || type == 11 || type == 12; /* unreachable, time exceeded, parameter problem */
	return type >= 1 && type <= 4; /* ICMPv6: unreachable, too big, time exceeded, parameter problem */
}

/* An ICMP error's port: the service port of the datagram it answers (the offending packet after the
 * ICMP header, its ports in the first 8 bytes of its transport header), else the port that datagram
 * was sent to. Going out, we answer a datagram sent to us; coming in, one we sent. */
static __always_inline __u16 icmp_error_port(struct __sk_buff *skb, const struct flow_key *key, int ingress, int payload)
{
	if (payload <= 0 || !icmp_error(key->proto, key->dport))
		return 0;
	__u8 inner[44];
	__u32 l4;
	__u8 proto;
	if (key->proto == IPPROTO_ICMP) {
		if (bpf_skb_load_bytes(skb, payload, inner, 24))
			return 0;
		__u8 ihl = inner[0] & 0xf;
		if ((inner[0] >> 4) != 4 || ihl < 5)
			return 0;
		proto = inner[9];
		l4 = ihl * 4;
	} else {
		if (bpf_skb_load_bytes(skb, payload, inner, 44))
			return 0;
		proto = inner[6];
		l4 = 40;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	__u8 ports[4];
	if (bpf_skb_load_bytes(skb, payload + l4, ports, 4))
		return 0;
	__u16 sport = ports[0] << 8 | ports[1], dport = ports[2] << 8 | ports[3];
	/* The offending datagram went from its sender's sport to dport: going out, its sender is the peer. */
	__u16 p = ingress ? service_port(sport, dport) : service_port(dport, sport);
	return p ?: dport;
}

/* The edge's service port (flows.h, struct edge_key). */
static __always_inline __u16 edge_port(struct __sk_buff *skb, const struct flow_key *key, int ingress, int payload)
{
	if (key->proto == IPPROTO_TCP || key->proto == IPPROTO_UDP || key->proto == IPPROTO_SCTP) {
		__u16 local = ingress ? key->dport : key->sport;
		__u16 p = ingress ? service_port(key->dport, key->sport) : service_port(key->sport, key->dport);
		if (p || !bound_ports || key->proto == IPPROTO_SCTP)
			return p;
		return local_port_bound(skb, key, ingress) ? local : 0;
	}
	if (key->proto == IPPROTO_ICMP || key->proto == IPPROTO_ICMPV6)
		return icmp_error_port(skb, key, ingress, payload);
	return 0;
}

/* Full map: the packet goes to the agent as a one-packet flow through the spill ring, counted. */
static __always_inline void spill(struct flow_key *key, struct flow_counts *init)
{
	struct flow_spill *sp = bpf_ringbuf_reserve(&flow_spills, sizeof(*sp), 0);
	if (!sp) {
		bump(FC_SPILL_LOST);
		return;
	}
	__builtin_memcpy(&sp->key, key, sizeof(*key));
	sp->pad = 0;
	sp->stats = *init;
	bpf_ringbuf_submit(sp, flowscope_rb_flags(&flow_spills));
	bump(FC_SPILLED);
}

/* The edge's entry in `edges`, made if new; a full map sends the packet to the spill ring. */
static __always_inline void edge_hash_count(struct flow_key *key, const struct edge_key *ek, __u32 len, __u64 now, __u16 flags)
{
	struct edge_counts *e = bpf_map_lookup_elem(&edges, ek);
	if (!e) {
		struct edge_counts init = { .packets = 1, .bytes = len, .last_ns = now };
		long err = bpf_map_update_elem(&edges, ek, &init, BPF_NOEXIST);
		if (err == 0)
			return;
		if (err == -EEXIST)
			e = bpf_map_lookup_elem(&edges, ek);
		if (!e) {
			struct flow_counts one = { .packets = 1, .bytes = len, .first_ns = now, .last_ns = now, .tcp_flags = flags, .port = ek->port };
			spill(key, &one);
			return;
		}
	}
	e->packets += 1;
	e->bytes += len;
	e->last_ns = now;
}

static __always_inline int edge_key_equal(const struct edge_key *a, const struct edge_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && ((const __u32 *)a)[6] == ((const __u32 *)b)[6];
}

static __always_inline __u32 edge_hash(const struct edge_key *ek)
{
	const __u64 *w = (const __u64 *)ek;
	__u64 tail = ((const __u32 *)ek)[6];
	__u64 h = (w[0] * 0x9E3779B97F4A7C15ULL) ^ (w[1] * 0xC2B2AE3D27D4EB4FULL) ^ (w[2] * 0x165667B19E3779F9ULL) ^ (tail * 0x27D4EB2F165667C5ULL);
	return (__u32)(h >> 32) ^ (__u32)h;
}

/* The first slot of an edge's probe window in the edge table, its state read as soon as the key is
 * known: with many peers that slot is a cache miss (~60 % of the classifier's time at 65,536 peers,
 * perf on the sender's CPU), which the CPU then overlaps with the edge cache's check instead of
 * starting it after. first is NULL when the table is off. */
struct table_probe {
	struct edge_entry *first;
	__u32 h;
	__u32 state;
	__u32 cpu;
};

/* The hash of an edge's slot on `cpu` (flows.h: a slot per edge and CPU). */
static __always_inline __u32 edge_table_hash(const struct edge_key *ek, __u32 cpu)
{
	return edge_hash(ek) + cpu * 0x9E3779B9U;
}

static __always_inline void edge_table_start(const struct edge_key *ek, struct table_probe *p)
{
	p->first = NULL;
	p->state = 0;
	if (!edge_table_mask)
		return;
	p->cpu = bpf_get_smp_processor_id();
	p->h = edge_table_hash(ek, p->cpu);
	__u32 idx = p->h & edge_table_mask;
	p->first = bpf_map_lookup_elem(&edge_table, &idx);
	if (p->first)
		p->state = READ_ONCE(p->first->state);
}

/* Counts the packet in its edge's slot of the edge table (flows.h), claiming a free slot for a new
 * edge; 0 when the table is off or the edge's probe window has no room (then `edges` counts it). */
static __always_inline int edge_table_count(const struct edge_key *ek, __u32 len, __u64 now, const struct table_probe *p)
{
	if (!p->first)
		return 0;
	__u32 h = p->h;
	struct edge_entry *e;
	__u32 idx;
#pragma unroll
	for (int i = 0; i < EDGE_PROBE; i++) {
		__u32 st;
		if (i == 0) {
			e = p->first;
			st = p->state;
		} else {
			idx = (h + i) & edge_table_mask;
			e = bpf_map_lookup_elem(&edge_table, &idx);
			if (!e)
				return 0;
			st = READ_ONCE(e->state);
		}
		if (st == EES_EMPTY)
			break;
		if (st == EES_LIVE && e->cpu == p->cpu && edge_key_equal(&e->key, ek)) {
			/* Only this CPU adds to its slot, never re-entered (TC runs with bottom halves off):
			 * plain adds, stored whole (the agent reads the counters in place). */
			WRITE_ONCE(e->packets, e->packets + 1);
			WRITE_ONCE(e->bytes, e->bytes + len);
			if (READ_ONCE(e->last_ns) != now)
				WRITE_ONCE(e->last_ns, now);
			return 1;
		}
	}
#pragma unroll
	for (int i = 0; i < EDGE_PROBE; i++) {
		idx = (h + i) & edge_table_mask;
		e = bpf_map_lookup_elem(&edge_table, &idx);
		if (!e)
			return 0;
		__u32 st = READ_ONCE(e->state);
		if (st != EES_EMPTY && st != EES_FREE)
			continue;
		if (__sync_val_compare_and_swap(&e->state, st, EES_CLAIMING) != st)
			continue;
		__builtin_memcpy(&e->key, ek, sizeof(*ek));
		e->cpu = p->cpu;
		e->packets = 1;
		e->bytes = len;
		e->last_ns = now;
		e->drain_gen = 0;
		/* A full barrier: the key and counts are there before anyone sees the slot LIVE. */
		__sync_val_compare_and_swap(&e->state, EES_CLAIMING, EES_LIVE);
		return 1;
	}
	return 0;
}

_Static_assert(EDGE_CACHE_SLOTS == 256, "edge_slot_of takes 8 bits of the hash");

static __always_inline __u32 edge_slot_of(const struct edge_key *ek)
{
	const __u64 *w = (const __u64 *)ek;
	__u64 tail = ((const __u32 *)ek)[6];
	return ((w[0] ^ w[1] ^ w[2]) * 0x9E3779B97F4A7C15ULL ^ tail * 0xC2B2AE3D27D4EB4FULL) >> 56;
}

/* Counts the packet in its edge's slot of this CPU's cache when the edge holds the slot or the slot
 * is free; 0 when another edge holds it. One cache line and no hashing of the key in the map's
 * sense: in front of the per-CPU hash (bucket, element and value) this saves ~45 ns a packet
 * (node dist/bench/flows-ab.js, bench/RESULTS.md). */
static __always_inline int edge_slot_count(const struct edge_key *ek, __u32 len, __u64 now)
{
	__u32 idx = edge_slot_of(ek);
	struct edge_slot *sl = bpf_map_lookup_elem(&edge_slots, &idx);
	if (!sl)
		return 0;
	if (edge_key_equal(&sl->key, ek)) {
		sl->packets += 1;
		sl->bytes += len;
		sl->last_ns = now;
		return 1;
	}
	if (sl->key.family)
		return 0;
	/* Free (a freed slot keeps its old key with family 0, which matches no packet). */
	sl->packets = 1;
	sl->bytes = len;
	sl->last_ns = now;
	__builtin_memcpy(&sl->key, ek, sizeof(*ek));
	return 1;
}

static __always_inline void account_edge(struct flow_key *key, __u32 len, __u64 now, __u16 flags, __u16 port)
{
	struct edge_key ek __attribute__((aligned(8))) = {};
	int ingress = key->direction == DIR_INGRESS;
	__builtin_memcpy(ek.peer, ingress ? key->saddr : key->daddr, 16);
	ek.ifindex = key->ifindex;
	ek.family = key->family;
	ek.proto = key->proto;
	ek.direction = key->direction;
	ek.port = port;
	struct table_probe tp;
	edge_table_start(&ek, &tp);
	if (edge_cache) {
		__u32 zero = 0;
		struct edge_cache_state *st = bpf_map_lookup_elem(&edge_cpu_state, &zero);
		/* flushing: this run interrupted a flush on this CPU, which owns the slots until it ends;
		 * `edges` is safe (the flush adds to it atomically). */
		if (st && !READ_ONCE(st->flushing)) {
			/* busy covers `edges` too: a flush interrupting us must not add to an entry we are updating. */
			WRITE_ONCE(st->busy, 1);
			compiler_barrier();
			if (!edge_slot_count(&ek, len, now) && !edge_table_count(&ek, len, now, &tp))
				edge_hash_count(key, &ek, len, now, flags);
			compiler_barrier();
			WRITE_ONCE(st->busy, 0);
			return;
		}
	}
	if (!edge_table_count(&ek, len, now, &tp))
		edge_hash_count(key, &ek, len, now, flags);
}

static __always_inline int account(struct __sk_buff *skb, __u32 l3, __u16 ethertype, __u8 direction)
{
	if (bench_off())
		return FLOWSCOPE_TC_CONTINUE;
	struct flow_key key = {};
	__u16 flags = 0;
	int payload = parse(skb, l3, ethertype, &key, &flags, direction == DIR_INGRESS);
	if (payload < 0) {
		bump(FC_NON_IP);
		return FLOWSCOPE_TC_CONTINUE;
	}
	key.ifindex = skb->ifindex;
	key.direction = direction;
	__u64 now = bpf_ktime_get_coarse_ns();
	__u32 len = skb->len;

	if (!track_flows) {
		account_edge(&key, len, now, flags, edge_port(skb, &key, direction == DIR_INGRESS, payload));
		goto dns;
	}
	struct flow_counts *s = bpf_map_lookup_elem(&flows, &key);
	if (!s) {
		struct flow_counts init = { .packets = 1, .bytes = len, .first_ns = now, .last_ns = now, .tcp_flags = flags,
					    .port = edge_port(skb, &key, direction == DIR_INGRESS, payload) };
		long err = bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST);
		if (err == 0)
			goto dns;
		if (err == -EEXIST)
			s = bpf_map_lookup_elem(&flows, &key); /* another CPU inserted it: our slot is zero */
		if (!s) {
			/* The map is full: hand the packet to the agent, never lose it silently. */
			spill(&key, &init);
			goto dns;
		}
	}
	/* In place: per-CPU values, no atomics needed. */
	s->packets += 1;
	s->bytes += len;
	s->last_ns = now;
	s->tcp_flags |= flags;
	if (!s->first_ns)
		s->first_ns = now;
dns:
	if (enable_dns && payload > 0)
		dns_copy(skb, &key, payload);
	return FLOWSCOPE_TC_CONTINUE;
}

/* Ethernet-like devices (Ethernet, veth, bridge, loopback): the packet starts at the MAC header. */
SEC("tc")
int flow_in(struct __sk_buff *skb)
{
	return account(skb, sizeof(struct ethhdr), (__u16)skb->protocol, DIR_INGRESS);
}

SEC("tc")
int flow_out(struct __sk_buff *skb)
{
	return account(skb, sizeof(struct ethhdr), (__u16)skb->protocol, DIR_EGRESS);
}

/* Raw IP devices (tun, wireguard, ip tunnels): the packet starts at the network header. */
SEC("tc")
int flow_l3_in(struct __sk_buff *skb)
{
	return account(skb, 0, (__u16)skb->protocol, DIR_INGRESS);
}

SEC("tc")
int flow_l3_out(struct __sk_buff *skb)
{
	return account(skb, 0, (__u16)skb->protocol, DIR_EGRESS);
}

/* ---- the edge cache's flush ---- */

/* Moves each slot's counts of this CPU into `edges` and frees the slots that counted nothing since
 * the last flush. The agent runs it on every CPU (BPF_PROG_TEST_RUN with BPF_F_TEST_RUN_ON_CPU)
 * right before it reads `edges`. On another CPU it runs in an interrupt: if that interrupted the
 * classifier (busy), it does nothing and says so, and the agent runs it again. On the agent's own
 * CPU it runs in process context, where the classifier may interrupt it: flushing tells the
 * classifier to count in `edges` meanwhile, to which the flush adds atomically. */
SEC("raw_tp")
int edge_cache_flush(void *ctx)
{
	__u32 zero = 0;
	struct edge_cache_state *st = bpf_map_lookup_elem(&edge_cpu_state, &zero);
	if (!st)
		return ECF_DONE;
	if (READ_ONCE(st->busy))
		return ECF_BUSY;
	WRITE_ONCE(st->flushing, 1);
	compiler_barrier();
	int result = ECF_DONE;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < EDGE_CACHE_SLOTS; i++) {
		__u32 idx = i;
		struct edge_slot *sl = bpf_map_lookup_elem(&edge_slots, &idx);
		if (!sl || !sl->key.family)
			continue;
		if (!sl->packets) {
			sl->key.family = 0; /* idle for a whole interval: free */
			continue;
		}
		struct edge_counts *e = bpf_map_lookup_elem(&edges, &sl->key);
		if (!e) {
			struct edge_counts init = { .packets = sl->packets, .bytes = sl->bytes, .last_ns = sl->last_ns };
			long err = bpf_map_update_elem(&edges, &sl->key, &init, BPF_NOEXIST);
			if (err == 0) {
				sl->packets = 0;
				sl->bytes = 0;
				continue;
			}
			if (err == -EEXIST)
				e = bpf_map_lookup_elem(&edges, &sl->key);
			if (!e) {
				result |= ECF_PENDING; /* `edges` is full: the counts wait in the slot */
				continue;
			}
		}
		__sync_fetch_and_add(&e->packets, sl->packets);
		__sync_fetch_and_add(&e->bytes, sl->bytes);
		if (sl->last_ns > e->last_ns)
			e->last_ns = sl->last_ns;
		sl->packets = 0;
		sl->bytes = 0;
	}
	compiler_barrier();
	WRITE_ONCE(st->flushing, 0);
	return result;
}

/* ---- the edge table's eviction ---- */

struct retire_ctx {
	struct edge_retire_args *a;
	__u64 now;
};

static long retire_slot(__u64 i, struct retire_ctx *c)
{
	__u32 idx = i;
	struct edge_entry *e = bpf_map_lookup_elem(&edge_table, &idx);
	if (!e)
		return 1;
	__u32 st = READ_ONCE(e->state);
	if (st == EES_DRAINING) {
		/* Made DRAINING by an earlier run, and the agent has read it since: its counts are final. */
		if (e->drain_gen < c->a->gen) {
			WRITE_ONCE(e->state, EES_FREE);
			c->a->freed++;
		}
		return 0;
	}
	if (st != EES_LIVE)
		return 0;
	__u64 last = READ_ONCE(e->last_ns);
	if (last + c->a->idle_ns < c->now) {
		e->drain_gen = c->a->gen;
		if (__sync_val_compare_and_swap(&e->state, EES_LIVE, EES_DRAINING) == EES_LIVE) {
			c->a->drained++;
			return 0;
		}
	}
	c->a->live++;
	return 0;
}

/* Run by the agent (BPF_PROG_TEST_RUN) each interval right after it read the edge table: frees the
 * slots made DRAINING by an earlier run (the agent read their last counts: no program can still be
 * adding to them, an interval later), and makes LIVE slots idle for longer than idle_ns DRAINING. */
SEC("raw_tp")
int edge_table_retire(void *ctx)
{
	__u32 zero = 0;
	struct edge_retire_args *a = bpf_map_lookup_elem(&edge_retire, &zero);
	if (!a)
		return 1;
	struct retire_ctx c = { .a = a, .now = bpf_ktime_get_ns() }; /* the classifier's coarse clock is behind by at most a tick */
	a->live = 0;
	a->drained = 0;
	a->freed = 0;
	bpf_loop(edge_table_mask + 1, retire_slot, &c, 0);
	return 0;
}

/* ---- drops ---- */

/* Nonzero: only drops in the network namespace with this inode are counted (--netns; the
 * tracepoint sees every namespace's). A drop's namespace is its device's, else its socket's. */
const volatile __u32 only_netns = 0;

/* What a drop needs of the sk_buff, read by the hook: fields straight off the BTF pointer where the
 * kernel has tp_btf (plain loads), with probe reads on raw_tp. */
struct drop_src {
	unsigned char *head;
	__u32 len;
	__u32 ifindex;
	__u16 protocol;
	__u16 network_header;
	__u16 transport_header;
	__u8 received;
};

static __always_inline __u32 proto_class(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return DPC_TCP;
	case IPPROTO_UDP:
		return DPC_UDP;
	case IPPROTO_ICMP:
		return DPC_ICMP;
	case IPPROTO_ICMPV6:
		return DPC_ICMPV6;
	}
	return DPC_OTHER;
}

/* Counts a drop in its entry of `drops` (made if new), or, from the moment this CPU found that map
 * full until the agent's next read, in its reason's slot of drop_overflow: counted without
 * addresses, never lost. While the map is full the hook does not look it up at all: with many
 * distinct peers dropping (a scan, a flood to a closed port), every lookup is a walk of a cold hash
 * bucket for a key that is mostly not there: ~190 ns a drop at 65,536 distinct peers, against ~110
 * without the lookup (node dist/bench/flows-ab.js, bench/RESULTS.md). A drop whose entry is already
 * in the map also goes to drop_overflow until the agent's next read (at most one interval). The agent
 * reads `drops` in place and takes out only entries that stopped growing, a bounded number per read
 * (src/agent/drops/reader.ts): a steady source of drops keeps its entry instead of a new insert each
 * interval. */
/* A drop in its reason's slot of drop_overflow (by protocol class and direction, no addresses). */
static __always_inline void count_overflow(__u32 reason, __u8 proto, __u8 received, __u32 len)
{
	__u32 slot = (reason < DROP_REASON_SLOTS - 1 ? reason : DROP_REASON_SLOTS - 1) << DROP_SLOT_REASON_SHIFT |
		     proto_class(proto) << DROP_SLOT_CLASS_SHIFT | received;
	bump(FC_DROP_MAP_FULL);
	struct drop_counts *s = bpf_map_lookup_elem(&drop_overflow, &slot);
	if (!s)
		return;
	s->packets += 1;
	s->bytes += len;
}

/* Counts a drop in its entry of `drops` (made if new); 0 when the insert found the map full (then
 * this CPU skips the map until the agent's next read, `full_at`). */
static __always_inline int count_in_map(struct drop_key *key, __u32 len, __u64 *full_at, __u64 generation)
{
	struct drop_counts *s = bpf_map_lookup_elem(&drops, key);
	if (!s) {
		/* New: inserted with its counts (per-CPU: the other CPUs' slots start at zero). */
		struct drop_counts first = { .packets = 1, .bytes = len };
		long err = bpf_map_update_elem(&drops, key, &first, BPF_NOEXIST);
		if (err == 0)
			return 1;
		if (err != -EEXIST) {
			*full_at = generation + 1;
			return 0;
		}
		s = bpf_map_lookup_elem(&drops, key); /* another CPU inserted it: our slot is zero */
		if (!s)
			return 0;
	}
	s->packets += 1;
	s->bytes += len;
	return 1;
}

/* The kernel memory at `p` as a `type` of the kernel's BTF, read-only: its fields are plain loads
 * that the verifier guards (a faulting one reads 0), not a helper call each (Linux 6.2+). */
#define kernel_view(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

/* The IPv4 header and, without options, the ports that follow it (zeros where unreadable). */
struct ip4_ports {
	struct iphdr ip;
	__be16 ports[2];
};

static __always_inline int read_ip4(const unsigned char *at, struct ip4_ports *h, int btf)
{
	if (!btf)
		return bpf_probe_read_kernel(h, sizeof(*h), at);
	const struct iphdr *ip = kernel_view(struct iphdr, at);
	h->ip.version = ip->version;
	h->ip.ihl = ip->ihl;
	h->ip.protocol = ip->protocol;
	h->ip.frag_off = ip->frag_off;
	h->ip.saddr = ip->saddr;
	h->ip.daddr = ip->daddr;
	const struct udphdr *uh = kernel_view(struct udphdr, at + sizeof(struct iphdr));
	h->ports[0] = uh->source;
	h->ports[1] = uh->dest;
	return 0;
}

static __always_inline int read_ip6(const unsigned char *at, struct ipv6hdr *h, int btf)
{
	if (!btf)
		return bpf_probe_read_kernel(h, sizeof(*h), at);
	const struct ipv6hdr *ip = kernel_view(struct ipv6hdr, at);
	h->version = ip->version;
	h->nexthdr = ip->nexthdr;
	__builtin_memcpy(&h->saddr, &ip->saddr, sizeof(h->saddr));
	__builtin_memcpy(&h->daddr, &ip->daddr, sizeof(h->daddr));
	return 0;
}

static __always_inline int read_ports(const unsigned char *at, __be16 ports[2], int btf)
{
	if (!btf)
		return bpf_probe_read_kernel(ports, 2 * sizeof(__be16), at);
	const struct udphdr *uh = kernel_view(struct udphdr, at);
	ports[0] = uh->source;
	ports[1] = uh->dest;
	return 0;
}

/* The IP protocol of a drop's packet (0 when it is not IP): all a drop needs while the drop map is full. */
static __always_inline __u8 drop_proto(const struct drop_src *d, int btf)
{
	const unsigned char *at = d->head + d->network_header;
	if (d->protocol == bpf_htons(ETH_P_IP)) {
		if (!btf) {
			struct ip4_ports h;
			return read_ip4(at, &h, 0) == 0 && h.ip.version == 4 ? h.ip.protocol : 0;
		}
		const struct iphdr *ip = kernel_view(struct iphdr, at);
		return ip->version == 4 ? ip->protocol : 0;
	}
	if (d->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (!btf)
			return read_ip6(at, &ip6, 0) == 0 && ip6.version == 6 ? ip6.nexthdr : 0;
		const struct ipv6hdr *ip = kernel_view(struct ipv6hdr, at);
		return ip->version == 6 ? ip->nexthdr : 0;
	}
	return 0;
}

/* Counts one drop: in `drops` by reason, addresses and port, or, from the moment this CPU found that
 * map full until the agent's next read, in its reason's slot of drop_overflow: counted without
 * addresses, never lost. While the map is full the hook neither looks it up nor builds the key: with
 * many distinct peers dropping (a scan, a flood to a closed port), every lookup is a walk of a cold
 * hash bucket for a key that is mostly not there: ~190 ns a drop at 65,536 distinct peers, against
 * ~110 without the lookup (node dist/bench/flows-ab.js, bench/RESULTS.md). A drop whose entry is
 * already in the map also goes to drop_overflow until the agent's next read (at most one interval).
 * The agent reads `drops` in place and takes out only entries that stopped growing, a bounded number
 * per read (src/agent/drops/reader.ts): a steady source of drops keeps its entry instead of a new
 * insert each interval. btf: headers read with plain loads (tp_btf), else with probe reads. */
static __always_inline void record_drop(const struct drop_src *d, __u32 reason, int btf)
{
	__u32 zero = 0;
	__u64 *drained = bpf_map_lookup_elem(&drop_drains, &zero);
	__u64 *full_at = bpf_map_lookup_elem(&drop_full_at, &zero);
	if (!drained || !full_at)
		return;
	__u64 generation = *drained;
	if (*full_at == generation + 1) {
		count_overflow(reason, drop_proto(d, btf), d->received, d->len);
		return;
	}
	struct drop_key key = {};
	key.reason = reason;
	key.received = d->received;
	key.ifindex = d->ifindex;
	__u16 nh = d->network_header, th = d->transport_header;
	__u16 sport = 0, dport = 0;
	__u32 l4 = 0;
	if (d->protocol == bpf_htons(ETH_P_IP)) {
		/* The IP header and, without options, the ports after it. */
		struct ip4_ports h;
		if (read_ip4(d->head + nh, &h, btf) == 0 && h.ip.version == 4) {
			key.family = AF_INET;
			key.proto = h.ip.protocol;
			__builtin_memcpy(key.saddr, &h.ip.saddr, 4);
			__builtin_memcpy(key.daddr, &h.ip.daddr, 4);
			if (!(h.ip.frag_off & bpf_htons(IP_OFFSET_MASK))) {
				l4 = nh + h.ip.ihl * 4;
				if (h.ip.ihl == 5 && (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP)) {
					sport = bpf_ntohs(h.ports[0]);
					dport = bpf_ntohs(h.ports[1]);
					l4 = 0; /* ports read */
				}
			}
		}
	} else if (d->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (read_ip6(d->head + nh, &ip6, btf) == 0 && ip6.version == 6) {
			key.family = AF_INET6;
			key.proto = ip6.nexthdr;
			__builtin_memcpy(key.saddr, &ip6.saddr, 16);
			__builtin_memcpy(key.daddr, &ip6.daddr, 16);
			/* Past extension headers the transport header offset is the kernel's, when set. */
			l4 = th != (__u16)~0U && th > nh ? th : nh + sizeof(ip6);
		}
	}
	if (l4 && (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP)) {
		__be16 ports[2];
		if (read_ports(d->head + l4, ports, btf) == 0) {
			sport = bpf_ntohs(ports[0]);
			dport = bpf_ntohs(ports[1]);
		}
	}
	if (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP) {
		if (reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET))
			key.port = dport;
		else
			key.port = d->received ? service_port(dport, sport) : service_port(sport, dport);
	}
	if (!count_in_map(&key, d->len, full_at, generation))
		count_overflow(reason, key.proto, key.received, d->len);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(drop_btf, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	if (reason <= SKB_CONSUMED || bench_off())
		return 0; /* not a drop */
	struct net_device *dev = skb->dev;
	if (only_netns) {
		struct sock *sk = skb->sk;
		__u32 netns = dev ? dev->nd_net.net->ns.inum : sk ? sk->__sk_common.skc_net.net->ns.inum : 0;
		if (netns != only_netns)
			return 0;
	}
	struct drop_src d = {
		.head = skb->head,
		.len = skb->len,
		.ifindex = dev ? dev->ifindex : 0,
		.protocol = skb->protocol,
		.network_header = skb->network_header,
		.transport_header = skb->transport_header,
		.received = skb->skb_iif != 0,
	};
	record_drop(&d, reason, 1);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(drop_raw, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	if (reason <= SKB_CONSUMED || bench_off())
		return 0;
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	if (only_netns) {
		struct sock *sk = BPF_CORE_READ(skb, sk);
		__u32 netns = dev ? BPF_CORE_READ(dev, nd_net.net, ns.inum) : sk ? BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) : 0;
		if (netns != only_netns)
			return 0;
	}
	struct drop_src d = {
		.head = BPF_CORE_READ(skb, head),
		.len = BPF_CORE_READ(skb, len),
		.ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0,
		.protocol = BPF_CORE_READ(skb, protocol),
		.network_header = BPF_CORE_READ(skb, network_header),
		.transport_header = BPF_CORE_READ(skb, transport_header),
		.received = BPF_CORE_READ(skb, skb_iif) != 0,
	};
	record_drop(&d, reason, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
