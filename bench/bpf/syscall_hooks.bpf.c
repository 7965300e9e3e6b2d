// Empty programs on the syscall hooks L7 capture can use, to measure the hook mechanism's fixed cost
// (bench/syscall-hooks.ts, with bench/fixtures/syscall-loop.c). Each early exit is what a real
// program needs: the syscall number against the nine data syscalls.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

static __always_inline int wanted(long nr)
{
	/* read write readv writev sendfile recvfrom sendto recvmsg sendmsg (x86-64) */
	return nr == 0 || nr == 1 || nr == 19 || nr == 20 || nr == 40 || nr == 44 || nr == 45 || nr == 46 || nr == 47;
}

volatile __u64 hits;

#define TP(name)                                                                                                      \
	SEC("tracepoint/syscalls/sys_enter_" #name) int e_##name(void *ctx) { return 0; }                              \
	SEC("tracepoint/syscalls/sys_exit_" #name) int x_##name(void *ctx) { return 0; }
TP(read) TP(write) TP(readv) TP(writev) TP(sendfile64) TP(recvfrom) TP(sendto) TP(recvmsg) TP(sendmsg)

SEC("raw_tp/sys_enter")
int BPF_PROG(e_raw, struct pt_regs *regs, long id)
{
	if (wanted(id))
		hits++;
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(x_raw, struct pt_regs *regs, long ret)
{
	long nr;
	bpf_probe_read_kernel(&nr, sizeof(nr), &regs->orig_ax);
	if (wanted(nr))
		hits++;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(e_btf, struct pt_regs *regs, long id)
{
	if (wanted(id))
		hits++;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(x_btf, struct pt_regs *regs, long ret)
{
	if (wanted(regs->orig_ax))
		hits++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
