// Packets per IP protocol seen by a socket filter (seed 001, slide 21, as kube-bpf did it): the
// program runs on a packet socket of its own, bound to an interface, for packets in both
// directions. It returns 0, so the socket queues nothing: it only counts.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);   /* IP protocol (IPv6: next header) */
	__type(value, __u64); /* packets */
} packets SEC(".maps");

SEC("socket")
int count_packets_socket(struct __sk_buff *skb)
{
	__u16 h_proto;
	__u8 p;

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &h_proto, sizeof(h_proto)) < 0)
		return 0;
	if (h_proto == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, protocol), &p, 1) < 0)
			return 0;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + offsetof(struct ipv6hdr, nexthdr), &p, 1) < 0)
			return 0;
	} else {
		return 0;
	}
	__u32 proto = p;
	__u64 *n = bpf_map_lookup_elem(&packets, &proto);
	if (n)
		*n += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
