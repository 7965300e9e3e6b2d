// Benchmark-only variants of the flow classifier (seed 003's table): the same parsing as
// bpf/flows.bpf.c, a different data structure each. Never loaded by the agent.
//   v_ringbuf        one record per packet to a ring buffer (adaptive wake-ups)
//   v_hash           one shared hash, updated in place with atomic adds
//   v_hash_lock      one shared hash, updated in place under a bpf_spin_lock (NetObserv's choice)
//   v_percpu_hash    per-CPU hash, updated in place (the agent's structure, without spill and DNS)
//   v_empty          returns at once: the cost of the hook itself (and of the run-time statistics)
//   v_parse          parses the headers into a flow key and stores nothing: the floor of any classifier
//   v_percpu_array   per-CPU array of per-packet records, written round-robin (never flushed:
//                    the seed's upper bound, not a usable agent)
//   v_gate           not a variant: attached in front of the agent's classifier, it switches the
//                    programs behind it off (TCX_PASS ends the chain) while `gate` holds 1, so that
//                    the bench can alternate with and without the agent every few hundred ms
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "compat.bpf.h"
#include "ringbuf.bpf.h"
#include "btf_export.bpf.h"
#include "flows.h"
#include "flow_parse.bpf.h"

#define EEXIST 17
#define POSTCARDS 4096

struct postcard {
	struct flow_key key;
	__u32 len;
	__u64 ts;
};

struct locked_counts {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct flow_key);
	__type(value, struct flow_counts);
} shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, struct flow_key);
	__type(value, struct locked_counts);
} shared_lock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct flow_key);
	__type(value, struct flow_counts);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, POSTCARDS);
	__type(key, __u32);
	__type(value, struct postcard);
} cards SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} card_idx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gate SEC(".maps");

/* flows.h is shared with the agent: every struct in it must be in this object's BTF for `make gen`. */
FLOWSCOPE_EXPORT_TYPE(struct flow_spill, flow_spill);
FLOWSCOPE_EXPORT_TYPE(struct drop_key, drop_key);
FLOWSCOPE_EXPORT_TYPE(struct drop_counts, drop_counts);
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
FLOWSCOPE_EXPORT_TYPE(enum drop_proto_class, drop_proto_class);
FLOWSCOPE_EXPORT_TYPE(enum drop_overflow_layout, drop_overflow_layout);

static __always_inline int key_of(struct __sk_buff *skb, struct flow_key *key)
{
	__u16 flags = 0;
	if (parse(skb, sizeof(struct ethhdr), (__u16)skb->protocol, key, &flags, 1) < 0)
		return -1;
	key->ifindex = skb->ifindex;
	return 0;
}

SEC("tc")
int v_ringbuf(struct __sk_buff *skb)
{
	struct flow_key key = {};
	if (key_of(skb, &key))
		return FLOWSCOPE_TC_CONTINUE;
	struct postcard *p = bpf_ringbuf_reserve(&rb, sizeof(*p), 0);
	if (!p)
		return FLOWSCOPE_TC_CONTINUE;
	p->key = key;
	p->len = skb->len;
	p->ts = bpf_ktime_get_ns();
	bpf_ringbuf_submit(p, flowscope_rb_flags(&rb));
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_hash(struct __sk_buff *skb)
{
	struct flow_key key = {};
	if (key_of(skb, &key))
		return FLOWSCOPE_TC_CONTINUE;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct flow_counts *s = bpf_map_lookup_elem(&shared, &key);
	if (!s) {
		struct flow_counts init = { .packets = 1, .bytes = skb->len, .first_ns = now, .last_ns = now };
		if (bpf_map_update_elem(&shared, &key, &init, BPF_NOEXIST) != -EEXIST)
			return FLOWSCOPE_TC_CONTINUE;
		s = bpf_map_lookup_elem(&shared, &key);
		if (!s)
			return FLOWSCOPE_TC_CONTINUE;
	}
	__sync_fetch_and_add(&s->packets, 1);
	__sync_fetch_and_add(&s->bytes, skb->len);
	s->last_ns = now;
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_hash_lock(struct __sk_buff *skb)
{
	struct flow_key key = {};
	if (key_of(skb, &key))
		return FLOWSCOPE_TC_CONTINUE;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct locked_counts *s = bpf_map_lookup_elem(&shared_lock, &key);
	if (!s) {
		struct locked_counts init = { .packets = 1, .bytes = skb->len, .last_ns = now };
		if (bpf_map_update_elem(&shared_lock, &key, &init, BPF_NOEXIST) != -EEXIST)
			return FLOWSCOPE_TC_CONTINUE;
		s = bpf_map_lookup_elem(&shared_lock, &key);
		if (!s)
			return FLOWSCOPE_TC_CONTINUE;
	}
	bpf_spin_lock(&s->lock);
	s->packets += 1;
	s->bytes += skb->len;
	s->last_ns = now;
	bpf_spin_unlock(&s->lock);
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_percpu_hash(struct __sk_buff *skb)
{
	struct flow_key key = {};
	if (key_of(skb, &key))
		return FLOWSCOPE_TC_CONTINUE;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct flow_counts *s = bpf_map_lookup_elem(&percpu, &key);
	if (!s) {
		struct flow_counts init = { .packets = 1, .bytes = skb->len, .first_ns = now, .last_ns = now };
		bpf_map_update_elem(&percpu, &key, &init, BPF_NOEXIST);
		return FLOWSCOPE_TC_CONTINUE;
	}
	s->packets += 1;
	s->bytes += skb->len;
	s->last_ns = now;
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_empty(struct __sk_buff *skb)
{
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_parse(struct __sk_buff *skb)
{
	struct flow_key key = {};
	if (key_of(skb, &key))
		return FLOWSCOPE_TC_CONTINUE;
	/* The key stays on the stack as in the real classifier (without this barrier the 6.18 verifier
	 * fails this program with an internal "verifier bug: stack slot" error after bpf_skb_pull_data).
	 * A verdict that depends on the key keeps the parse from being optimised away (no such packet
	 * in the benchmark, so it never changes a packet's fate there). */
	asm volatile("" : : "r"(&key) : "memory");
	return key.sport == 0xffff && key.dport == 0xffff && key.saddr[0] == 0xff ? TC_ACT_OK : FLOWSCOPE_TC_CONTINUE;
}

/* What the classifier's pull of the headers alone does to the packet rate (see window_fill). */
SEC("tc")
int v_pull(struct __sk_buff *skb)
{
	struct hdr_window w;
	window_fill(skb, sizeof(struct ethhdr), &w, 1);
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_percpu_array(struct __sk_buff *skb)
{
	struct flow_key key = {};
	if (key_of(skb, &key))
		return FLOWSCOPE_TC_CONTINUE;
	__u32 zero = 0;
	__u32 *idx = bpf_map_lookup_elem(&card_idx, &zero);
	if (!idx)
		return FLOWSCOPE_TC_CONTINUE;
	__u32 slot = *idx % POSTCARDS;
	*idx += 1;
	struct postcard *p = bpf_map_lookup_elem(&cards, &slot);
	if (!p)
		return FLOWSCOPE_TC_CONTINUE;
	p->key = key;
	p->len = skb->len;
	p->ts = bpf_ktime_get_coarse_ns();
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("tc")
int v_gate(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *closed = bpf_map_lookup_elem(&gate, &zero);
	return closed && *closed ? TC_ACT_OK : FLOWSCOPE_TC_CONTINUE;
}

char LICENSE[] SEC("license") = "GPL";
