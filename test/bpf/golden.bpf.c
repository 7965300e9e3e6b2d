// Fills a golden_record with known values from BPF code, so the test can check the generated
// TypeScript decoder against bytes laid out by the BPF compiler itself.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "btf_export.bpf.h"
#include "golden.h"

FLOWSCOPE_EXPORT_TYPE(enum golden_kind, golden_kind);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct golden_record);
} golden SEC(".maps");

SEC("syscall")
int fill(void *ctx)
{
	__u32 zero = 0;
	struct golden_record *r = bpf_map_lookup_elem(&golden, &zero);
	if (!r)
		return 1;
	r->big = 4503599627382841ULL; /* 2^52 + 12345: exact as a JavaScript number */
	r->negative = -1234567890123LL;
	r->u32v = 0xdeadbeef;
	r->s32v = -42;
	r->u16v = 0xbeef;
	r->u8v = 0xab;
	r->flag = 1;
	__builtin_memcpy(r->comm, "flowscope\0\0\0\0\0\0\0", 16);
	__u8 addr[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
	__builtin_memcpy(r->addr, addr, 16);
	r->counts[0] = 1;
	r->counts[1] = 2;
	r->counts[2] = 3;
	r->counts[3] = 0xffffffff;
	r->inner.port = 8080;
	r->inner.proto = 6;
	r->inner.pad = 0;
	r->inner.ifindex = 7;
	r->kind = GOLDEN_LARGE;
	r->pad = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
