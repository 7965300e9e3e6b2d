/* Ring buffer helpers: reserve with loss accounting and adaptive wake-ups.
 * A wake-up costs about 1.2 us per event (TESTBED.md); the consumer polls on a short timer, so
 * producers wake it only when the ring is filling up. */
#ifndef __FLOWSCOPE_RINGBUF_BPF_H
#define __FLOWSCOPE_RINGBUF_BPF_H

#ifndef FLOWSCOPE_RB_WAKEUP_BYTES
#define FLOWSCOPE_RB_WAKEUP_BYTES (512 * 1024)
#endif

/* Flags for bpf_ringbuf_submit(): wake the reader only when at least FLOWSCOPE_RB_WAKEUP_BYTES wait,
 * or half the ring where it is smaller than twice that (a ring that never holds the threshold would
 * never wake its reader: bursts between two polls would overflow it). */
static __always_inline __u64 flowscope_rb_flags(void *rb)
{
	__u64 half = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE) >> 1;
	__u64 wake = half < FLOWSCOPE_RB_WAKEUP_BYTES ? half : FLOWSCOPE_RB_WAKEUP_BYTES;
	return bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wake ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Declares a per-CPU counter of records that could not be reserved in ring buffer `rb`. The
 * agent reads it as flowscope_agent_events_lost_total{source=...}. */
#define FLOWSCOPE_RB_LOST_MAP(name)                                                                \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, 1);                                                            \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

static __always_inline void flowscope_count_lost(void *lost_map)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(lost_map, &zero);
	if (n)
		*n += 1;
}

#endif
