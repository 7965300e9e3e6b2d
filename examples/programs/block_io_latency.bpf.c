// Block I/O latency (issue → completion) as a log2 histogram in microseconds, and request sizes as a
// linear histogram in 4 KiB steps, per device and operation. tp_btf block tracepoints: no kprobes.
// Histogram maps are keyed by (labels..., bucket); the key with bucket = bucket_max + 1 holds the sum.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define LAT_BUCKET_MAX 26  /* 2^26 us = 67 s */
#define SIZE_BUCKET_MAX 64 /* 64 x 4 KiB = 256 KiB */
#define REQ_OP_MASK 0xff
#define MINORBITS 20

struct hist_key {
	__u32 dev; /* kernel dev_t: major << 20 | minor */
	__u32 op;  /* REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard */
	__u64 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct hist_key);
	__type(value, __u64);
} io_latency SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct hist_key);
	__type(value, __u64);
} io_size SEC(".maps");

static __always_inline void add(void *map, struct hist_key *key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, key);
	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	if (bpf_map_update_elem(map, key, &n, BPF_NOEXIST) != 0) {
		v = bpf_map_lookup_elem(map, key);
		if (v)
			__sync_fetch_and_add(v, n);
	}
}

static __always_inline __u64 log2_u64(__u64 v)
{
	__u64 r = 0;
	for (int i = 0; i < 64 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(on_issue, struct request *rq)
{
	__u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(on_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 *tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	__u64 us = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &rq);

	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
	struct hist_key key = {};
	if (disk)
		key.dev = ((__u32)BPF_CORE_READ(disk, major) << MINORBITS) | (__u32)BPF_CORE_READ(disk, first_minor);
	key.op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;

	__u64 b = log2_u64(us);
	key.bucket = b > LAT_BUCKET_MAX ? LAT_BUCKET_MAX : b;
	add(&io_latency, &key, 1);
	key.bucket = LAT_BUCKET_MAX + 1;
	add(&io_latency, &key, us);

	b = (nr_bytes + 4095) / 4096;
	key.bucket = b > SIZE_BUCKET_MAX ? SIZE_BUCKET_MAX : b;
	add(&io_size, &key, 1);
	key.bucket = SIZE_BUCKET_MAX + 1;
	add(&io_size, &key, nr_bytes);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
