// Maps of several types for the MapReader tests, and a program that writes a per-CPU counter.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps_test.h"

const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 200000);
	__type(key, __u32);
	__type(value, struct pair_value);
} big_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

/* Stack trace maps have no batch operations: readers must fall back to iteration. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__uint(value_size, 32 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_per_cpu(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid != targ_tgid)
		return 0;
	bpf_get_stackid(ctx, &stacks, 0);
	__u64 one = 1, *v = bpf_map_lookup_elem(&per_cpu, &tgid);
	if (v)
		*v += 1; /* per-CPU: no atomics needed */
	else
		bpf_map_update_elem(&per_cpu, &tgid, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
