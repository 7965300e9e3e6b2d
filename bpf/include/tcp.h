/* Structs shared by bpf/tcp.bpf.c and the agent (decoders generated into src/bpf/gen/tcp.gen.ts).
 * Fixed-width types, explicit padding, sizes asserted. */
#ifndef __FLOWSCOPE_TCP_H
#define __FLOWSCOPE_TCP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum conn_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT = 1, /* this host dialled out (connect) */
	ROLE_SERVER = 2, /* this host accepted (listen/accept) */
};

enum conn_event_type {
	EV_OPEN = 1,	     /* established; for servers, once accepted (or at establishment without accept hooks) */
	EV_CLOSE = 2,	     /* closed, with final totals */
	EV_CONNECT_FAIL = 3, /* the handshake failed (reason) */
};

enum connect_fail_reason {
	FAIL_OTHER = 0,
	FAIL_REFUSED = 1,
	FAIL_TIMEOUT = 2,
	FAIL_UNREACHABLE = 3,
	FAIL_RESET = 4,
};

enum conn_flags {
	CONN_F_PREEXISTING = 1,	    /* first seen established: opened before tracking began */
	CONN_F_OWNER_LISTENER = 2,  /* process taken from the listening socket's owner */
	CONN_F_ACCEPTED = 4,	    /* process taken from accept() in the accepting process */
	CONN_F_OPEN_EMITTED = 8,    /* the open event was sent */
	CONN_F_OWNER_UNKNOWN = 16,  /* no process known (pre-existing client socket) */
};

enum drop_reason {
	DROP_CONN_MAP_FULL = 0,	    /* a connection could not be tracked: its totals still arrive at close */
	DROP_LISTENER_MAP_FULL = 1, /* a listener's owner could not be recorded */
	DROP_RESET_MAP_FULL = 2,    /* a reset without socket could not be counted */
	/* not a drop: state changes the nested-run companion handled because the kernel skipped the
	 * lifecycle program, already running on that CPU (subtract from its recursion_misses) */
	COUNT_NESTED_HANDLED = 3,
	DROP_MAX = 4,
};

/* Who owns a connection and what it is. */
struct conn_id {
	__u64 sk;	 /* kernel address of the socket: the key while it lives */
	__u64 start_ns;	 /* SYN sent (client), established (server) or first seen (pre-existing) */
	__u64 cgroup_id; /* cgroup v2 id of the socket's owner */
	__u64 sock_ino;	 /* inode of the socket file (0 when unknown): finds the owner of pre-existing sockets */
	__u32 pid;	 /* host tgid; 0 when unknown */
	__u32 netns;	 /* network namespace inode */
	char comm[16];	 /* process name (the thread group leader's) */
	__u8 saddr[16];	 /* local address: IPv4 in the first 4 bytes */
	__u8 daddr[16];	 /* remote address */
	__u16 sport;	 /* local port */
	__u16 dport;	 /* remote port */
	__u8 family;	 /* AF_INET or AF_INET6 */
	__u8 role;	 /* enum conn_role */
	__u8 flags;	 /* enum conn_flags */
	__u8 state;	 /* last TCP state seen */
};

/* Cumulative counters of the socket at the last snapshot, plus counts of events. */
struct conn_stats {
	__u64 bytes_sent;     /* payload bytes transmitted, retransmissions excluded */
	__u64 bytes_received; /* payload bytes received (the FIN's sequence number excluded) */
	__u64 segs_out;
	__u64 segs_in;
	__u64 connect_ns; /* SYN sent to established (clients), 0 otherwise */
	__u64 last_ns;	  /* time of the snapshot */
	__u32 retrans;	  /* retransmitted segments (SYN, SYN-ACK and data) */
	__u32 srtt_us;	  /* smoothed RTT, microseconds */
	__u32 resets_sent;
	__u32 resets_received;
};

struct conn_value {
	struct conn_id id;
	struct conn_stats stats;
};

struct conn_event {
	__u8 type;   /* enum conn_event_type */
	__u8 reason; /* enum connect_fail_reason */
	__u16 pad;
	__s32 error; /* sk_err for failures */
	__u64 ts_ns;
	struct conn_id id;
	struct conn_stats stats;
};

struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
};

struct listener_owner {
	__u64 cgroup_id;
	__u32 pid;
	__u32 pad;
	char comm[16];
};

/* A reset sent for a packet no socket owned (a connection attempt to a closed port). */
struct orphan_reset_key {
	__u32 netns;
	__u16 lport;
	__u8 family;
	__u8 pad;
	__u8 raddr[16];
};

_Static_assert(sizeof(struct conn_id) == 96, "conn_id layout");
_Static_assert(sizeof(struct conn_stats) == 64, "conn_stats layout");
_Static_assert(sizeof(struct conn_event) == 176, "conn_event layout");
_Static_assert(sizeof(struct listener_owner) == 32, "listener_owner layout");
_Static_assert(sizeof(struct orphan_reset_key) == 24, "orphan_reset_key layout");

#endif
