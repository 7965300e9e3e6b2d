/* A struct exercising every field kind the decoder generator supports, for the golden-bytes test. */
#ifndef __FLOWSCOPE_GOLDEN_H
#define __FLOWSCOPE_GOLDEN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum golden_kind {
	GOLDEN_FIRST = 1,
	GOLDEN_LARGE = 0x7fffffff,
};

struct golden_inner {
	__u16 port;
	__u8 proto;
	__u8 pad;
	__u32 ifindex;
};

struct golden_record {
	__u64 big;
	__s64 negative;
	__u32 u32v;
	__s32 s32v;
	__u16 u16v;
	__u8 u8v;
	__u8 flag;
	char comm[16];
	__u8 addr[16];
	__u32 counts[4];
	struct golden_inner inner;
	__u32 kind;
	__u32 pad;
};

#endif
