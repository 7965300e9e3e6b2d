// Feature probes for `flowscope doctor` and the agent's capability report: one tiny program per
// attach type. Each is loaded on its own, so one that this kernel rejects does not hide the others.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "compat.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} probe_batch SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int probe_tracepoint(void *ctx) { return 0; }

SEC("raw_tp/inet_sock_set_state")
int probe_raw_tp(void *ctx) { return 0; }

SEC("tp_btf/inet_sock_set_state")
int probe_tp_btf(__u64 *ctx) { return 0; }

SEC("fentry/tcp_v4_connect")
int probe_fentry(__u64 *ctx) { return 0; }

SEC("kprobe/tcp_v4_connect")
int probe_kprobe(void *ctx) { return 0; }

SEC("sockops")
int probe_sockops(struct bpf_sock_ops *skops) { return 1; }

SEC("cgroup_skb/ingress")
int probe_cgroup_skb(struct __sk_buff *skb) { return 1; }

SEC("tc")
int probe_tc(struct __sk_buff *skb) { return FLOWSCOPE_TC_CONTINUE; }

/* Run by BPF_PROG_TEST_RUN on a given CPU (BPF_F_TEST_RUN_ON_CPU): says which CPU it ran on. */
SEC("raw_tp")
int probe_run_on_cpu(void *ctx) { return 1000 + bpf_get_smp_processor_id(); }

SEC("uprobe")
int probe_uprobe(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
