// Packets per IP protocol (seed 001, slide 21) seen by a TC classifier on an interface. A per-CPU
// array indexed by the protocol number: no locks, no hash lookups, summed per CPU when scraped.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TC_ACT_UNSPEC (-1) /* continue with the next program / filter (also TCX_NEXT) */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);   /* IP protocol (IPv6: next header) */
	__type(value, __u64); /* packets */
} packets SEC(".maps");

SEC("tc")
int count_packets(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 proto;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return TC_ACT_UNSPEC;
		proto = ip->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return TC_ACT_UNSPEC;
		proto = ip6->nexthdr;
	} else {
		return TC_ACT_UNSPEC;
	}
	__u64 *n = bpf_map_lookup_elem(&packets, &proto);
	if (n)
		*n += 1; /* per-CPU slot: no atomics needed */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
