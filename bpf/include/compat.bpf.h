/* Compatibility shims for kernel and header differences. Each cites the kernel change. */
#ifndef __FLOWSCOPE_COMPAT_BPF_H
#define __FLOWSCOPE_COMPAT_BPF_H

/* TC verdicts: vmlinux.h carries them as enum values only on kernels that have them. */
#ifndef TC_ACT_UNSPEC
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#endif
/* tcx (Linux 6.6, "bpf: Add fd-based tcx multi-prog infra with link support"): TCX_NEXT == TC_ACT_UNSPEC,
 * so one program serves both the tcx link and the legacy cls_bpf filter and lets later programs run. */
#define FLOWSCOPE_TC_CONTINUE TC_ACT_UNSPEC

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58

#endif
