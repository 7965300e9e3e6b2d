// Emits `per_call` sequenced records per getppid() of the target process, counting what it could
// not reserve. The sequence lets the test prove order, completeness and exact loss accounting.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ringbuf.bpf.h"
#include "btf_export.bpf.h"
#include "ringbuf_test.h"

const volatile __u32 targ_tgid = 0;
const volatile __u32 per_call = 1000;
/* 0: adaptive (wake the reader only when the ring fills up), 1: wake on every record */
const volatile __u32 wakeup_mode = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

FLOWSCOPE_RB_LOST_MAP(events_lost);

__u64 next_seq = 0;

FLOWSCOPE_EXPORT_TYPE(struct rb_record, rb_record);

static long emit(__u32 i, void *ctx)
{
	__u64 seq = next_seq++;
	struct rb_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		flowscope_count_lost(&events_lost);
		return 0;
	}
	r->seq = seq;
	r->cpu = bpf_get_smp_processor_id();
	r->tag = 0xf10f5c09;
	bpf_ringbuf_submit(r, wakeup_mode == 1 ? BPF_RB_FORCE_WAKEUP : flowscope_rb_flags(&events));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int produce(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	bpf_loop(per_call, emit, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
