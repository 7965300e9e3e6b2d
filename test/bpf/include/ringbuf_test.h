/* Record pushed through the ring buffer by the ring buffer test and benchmark. */
#ifndef __FLOWSCOPE_RINGBUF_TEST_H
#define __FLOWSCOPE_RINGBUF_TEST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct rb_record {
	__u64 seq;
	__u32 cpu;
	__u32 tag;
};

#endif
