/* Ordering within one CPU, for state shared by a program and another one that may interrupt it on the
 * same CPU (no cross-CPU ordering: BPF has no fences): the compiler keeps these accesses whole and in
 * program order, and the JIT does not reorder. */
#ifndef __FLOWSCOPE_ONCE_BPF_H
#define __FLOWSCOPE_ONCE_BPF_H

#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define compiler_barrier() asm volatile("" ::: "memory")

#endif
