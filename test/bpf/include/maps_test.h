/* Keys and values of the map tests. */
#ifndef __FLOWSCOPE_MAPS_TEST_H
#define __FLOWSCOPE_MAPS_TEST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct pair_value {
	__u64 first;
	__u64 second;
};

#endif
