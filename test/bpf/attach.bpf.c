// Small programs, one per attach type, each counting events a test triggers.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "btf_export.bpf.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "compat.bpf.h"
#include "attach_test.h"

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_syscall_nr = 0;
const volatile __u16 targ_port = 0;

FLOWSCOPE_EXPORT_TYPE(enum attach_counter, attach_counter);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} per_tgid SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_tracepoint(void *ctx)
{
	if (!is_target())
		return 0;
	bump(COUNT_TRACEPOINT);
	__u32 tgid = targ_tgid;
	__u64 one = 1, *v = bpf_map_lookup_elem(&per_tgid, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&per_tgid, &tgid, &one, BPF_NOEXIST);
	return 0;
}

SEC("raw_tp/sys_enter")
int count_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_target() && ctx->args[1] == targ_syscall_nr)
		bump(COUNT_RAW_TP);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(count_tp_btf, struct pt_regs *regs, long id)
{
	if (is_target() && id == targ_syscall_nr)
		bump(COUNT_TP_BTF);
	return 0;
}

SEC("sockops")
int count_sockops(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && bpf_ntohl(skops->remote_port) == targ_port)
		bump(COUNT_SOCKOPS);
	return 1;
}

/* cgroup_skb sees the packet from the network header on. */
SEC("cgroup_skb/egress")
int count_cgroup_skb(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP)
		return 1;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof(udp)))
		return 1;
	if (udp.dest == bpf_htons(targ_port))
		bump(COUNT_CGROUP_SKB);
	return 1;
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP)
		return FLOWSCOPE_TC_CONTINUE;
	struct udphdr *udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > end)
		return FLOWSCOPE_TC_CONTINUE;
	if (udp->dest == bpf_htons(targ_port))
		bump(COUNT_TC);
	return FLOWSCOPE_TC_CONTINUE;
}

SEC("uprobe")
int count_uprobe(struct pt_regs *ctx)
{
	bump(COUNT_UPROBE);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
