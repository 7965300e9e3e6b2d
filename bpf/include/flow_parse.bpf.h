/* Header parsing shared by the flow classifier and its benchmark variants (bench/bpf/). */
#ifndef __FLOWSCOPE_FLOW_PARSE_BPF_H
#define __FLOWSCOPE_FLOW_PARSE_BPF_H

#define IP_OFFSET_MASK 0x1fff
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60

/* The header bytes after the MAC header, copied in one bpf_skb_load_bytes when they are not in the
 * linear area (packets built from page fragments, as AF_PACKET senders and some drivers make, carry
 * only the MAC header there): an IPv6 header and a TCP header without options fit. One copy instead
 * of one per header saves 7-11 ns a packet (node dist/bench/flows-ab.js, bench/RESULTS.md). */
#define PARSE_WINDOW 64

struct hdr_window {
	__u8 b[PARSE_WINDOW];
	__u32 base; /* packet offset of b[0] */
	__u32 len;  /* bytes valid in b (0: nothing copied) */
};

/* Makes the header bytes readable: already in the linear area, pulled there (`pull`), or copied
 * into the window. Pulling is for ingress: the stack pulls the IP and transport headers into the
 * linear area right after TC (ip_rcv, udp_rcv, tcp_v4_rcv), so pulling them first moves that work
 * rather than adding to it, where a copy is paid on top (a copy: 3-4% fewer packets through than a
 * pull, node dist/bench/flows-ab.js, bench/RESULTS.md). Egress keeps the copy: the driver needs no
 * linear headers, and pulling a cloned skb would copy its head. */
static __always_inline void window_fill(struct __sk_buff *skb, __u32 l3, struct hdr_window *w, int pull)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 n = skb->len > l3 ? skb->len - l3 : 0;
	w->base = l3;
	w->len = 0;
	if (n > PARSE_WINDOW)
		n = PARSE_WINDOW;
	if (n == 0 || (l3 < 512 && data + l3 + n <= end))
		return; /* nothing to copy, or all of it in the linear area */
	if (pull && bpf_skb_pull_data(skb, l3 + n) == 0)
		return;
	if (bpf_skb_load_bytes(skb, l3, w->b, n) == 0)
		w->len = n;
}

/* Copies `len` header bytes at `off`: in place when they are in the linear area, from the window
 * when it holds them, else with bpf_skb_load_bytes. */
static __always_inline int load_hdr(struct __sk_buff *skb, const struct hdr_window *w, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (off < 512 && data + off + len <= end) {
		__builtin_memcpy(to, data + off, len);
		return 0;
	}
	__u32 rel = off - w->base;
	if (off >= w->base && rel <= PARSE_WINDOW - len && rel + len <= w->len) {
		__builtin_memcpy(to, &w->b[rel & (PARSE_WINDOW - 1)], len);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

/* Parses the IP and transport headers at offset `l3` into `key` (`pull`: may pull them into the
 * linear area, see window_fill). Returns the L4 payload offset (for ICMP, what follows its 8-byte
 * header: an error's offending packet), 0 when there is none, -1 for non-IP. */
static __always_inline int parse(struct __sk_buff *skb, __u32 l3, __u16 ethertype, struct flow_key *key, __u16 *flags, int pull)
{
	struct hdr_window win = {};
	struct hdr_window *w = &win;
	__u32 l4;

	window_fill(skb, l3, w, pull);
	if (ethertype == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (load_hdr(skb, w, l3, &ip, sizeof(ip)))
			return -1;
		key->family = AF_INET;
		key->proto = ip.protocol;
		__builtin_memcpy(key->saddr, &ip.saddr, 4);
		__builtin_memcpy(key->daddr, &ip.daddr, 4);
		if (ip.frag_off & bpf_htons(IP_OFFSET_MASK))
			return 0; /* not the first fragment: no transport header */
		l4 = l3 + ip.ihl * 4;
	} else if (ethertype == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (load_hdr(skb, w, l3, &ip6, sizeof(ip6)))
			return -1;
		key->family = AF_INET6;
		key->proto = ip6.nexthdr;
		__builtin_memcpy(key->saddr, &ip6.saddr, 16);
		__builtin_memcpy(key->daddr, &ip6.daddr, 16);
		l4 = l3 + sizeof(ip6);
		/* Extension headers (hop-by-hop carries MLD; routing, destination options, fragment). */
#pragma unroll
		for (int i = 0; i < 3; i++) {
			__u8 nh = key->proto;
			if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING && nh != NEXTHDR_DEST && nh != NEXTHDR_FRAGMENT)
				break;
			__u8 opt[4];
			if (load_hdr(skb, w, l4, opt, sizeof(opt)))
				return 0;
			key->proto = opt[0];
			if (nh == NEXTHDR_FRAGMENT) {
				if ((opt[2] << 8 | opt[3]) & 0xfff8)
					return 0; /* not the first fragment */
				l4 += 8;
			} else {
				l4 += (opt[1] + 1) * 8;
			}
		}
	} else {
		return -1;
	}

	switch (key->proto) {
	case IPPROTO_TCP: {
		__u8 th[14];
		if (load_hdr(skb, w, l4, th, sizeof(th)))
			return 0;
		key->sport = th[0] << 8 | th[1];
		key->dport = th[2] << 8 | th[3];
		*flags = th[13];
		return l4 + (th[12] >> 4) * 4;
	}
	case IPPROTO_UDP: {
		__u8 uh[4];
		if (load_hdr(skb, w, l4, uh, sizeof(uh)))
			return 0;
		key->sport = uh[0] << 8 | uh[1];
		key->dport = uh[2] << 8 | uh[3];
		return l4 + 8;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 t[2];
		if (load_hdr(skb, w, l4, t, sizeof(t)))
			return 0;
		key->dport = (__u16)t[0] << 8 | t[1];
		return l4 + 8;
	}
	}
	return 0;
}

#endif
