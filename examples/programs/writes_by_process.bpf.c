// sys_enter_write calls per process (seed 001, slide 22, as kube-bpf showed it), counted in the kernel
// in an LRU hash keyed by process id: processes that are gone age out when the map is full.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tgid: the process id */
	__type(value, __u64); /* write(2) calls */
} write_calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int count_writes(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *n = bpf_map_lookup_elem(&write_calls, &tgid);

	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	/* Another CPU may have inserted the key since the lookup: then add to its entry. */
	if (bpf_map_update_elem(&write_calls, &tgid, &one, BPF_NOEXIST) != 0) {
		n = bpf_map_lookup_elem(&write_calls, &tgid);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
