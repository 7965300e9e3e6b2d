// write(2) calls per cgroup: with the cgroup decoder, per container and Kubernetes pod.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   /* cgroup v2 id (the cgroup directory's inode) */
	__type(value, __u64); /* write(2) calls */
} writes_by_cgroup SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int count_cgroup_writes(void *ctx)
{
	__u64 cg = bpf_get_current_cgroup_id();
	__u64 one = 1, *n = bpf_map_lookup_elem(&writes_by_cgroup, &cg);

	if (n)
		*n += 1; /* per-CPU value */
	else
		bpf_map_update_elem(&writes_by_cgroup, &cg, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
