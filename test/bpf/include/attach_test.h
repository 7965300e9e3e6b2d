/* Counters shared by the attach-type test programs and the tests. */
#ifndef __FLOWSCOPE_ATTACH_TEST_H
#define __FLOWSCOPE_ATTACH_TEST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum attach_counter {
	COUNT_TRACEPOINT = 0,
	COUNT_RAW_TP = 1,
	COUNT_TP_BTF = 2,
	COUNT_SOCKOPS = 3,
	COUNT_CGROUP_SKB = 4,
	COUNT_TC = 5,
	COUNT_UPROBE = 6,
	COUNT_MAX = 8,
};

#endif
