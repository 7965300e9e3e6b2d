// TCP retransmitted segments by remote address and port, from the tcp_retransmit_skb tracepoint
// (tp_btf: no kprobes needed). Counts segments as the kernel's RetransSegs counter does.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

struct retrans_key {
	__u8 raddr[16]; /* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
	__u32 rport;    /* host byte order */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct retrans_key);
	__type(value, __u64); /* retransmitted segments */
} retransmits SEC(".maps");

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	struct retrans_key key = {};
	__u16 family = sk->__sk_common.skc_family;
	__u16 segs = 1;

	if (family == AF_INET) {
		__u32 a = sk->__sk_common.skc_daddr;
		key.raddr[10] = 0xff;
		key.raddr[11] = 0xff;
		__builtin_memcpy(&key.raddr[12], &a, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&key.raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return 0;
	}
	key.rport = bpf_ntohs(sk->__sk_common.skc_dport);
	bpf_probe_read_kernel(&segs, sizeof(segs), (void *)skb->cb + __builtin_offsetof(struct tcp_skb_cb, tcp_gso_segs));
	if (segs == 0)
		segs = 1;

	__u64 *n = bpf_map_lookup_elem(&retransmits, &key);
	if (n) {
		__sync_fetch_and_add(n, segs);
	} else {
		__u64 v = segs;
		if (bpf_map_update_elem(&retransmits, &key, &v, BPF_NOEXIST) != 0) {
			n = bpf_map_lookup_elem(&retransmits, &key);
			if (n)
				__sync_fetch_and_add(n, segs);
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
