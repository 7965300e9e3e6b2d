/* Structs shared by bpf/tcp.bpf.c and the agent (decoders generated into src/bpf/gen/tcp.gen.ts).
 * Fixed-width types, explicit padding, sizes asserted.
 *
 * The kernel side counts per edge: opens, closes, failures by reason, bytes, retransmits, resets and
 * the connect, RTT and lifetime distributions of every connection land in `edges`, keyed by the
 * connection's owner, peer, service port and role. Each connection's own state (who owns it, what
 * was already credited to its edge) lives beside the socket: in socket-local storage
 * (BPF_MAP_TYPE_SK_STORAGE) where the hooks can reach it, which lives and dies with the socket and
 * has no size limit, beyond a preallocated table (the fastest place; --max-connections entries); without
 * socket storage, a connection the table has no room for is counted untracked. The ring buffer carries a record when an edge entry is made (the first sight
 * of an owner and peer: to name the process and look up NAT) and, only when asked for, one per
 * connection event (NDJSON, live tools). */
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
	EV_OPEN = 1,	     /* established (both roles) */
	EV_CLOSE = 2,	     /* closed, with final totals */
	EV_CONNECT_FAIL = 3, /* the handshake failed (reason) */
	EV_ADOPT = 4,	     /* found open when tracking began (agent start): counted from now on; totals so far */
	EV_EDGE = 5,	     /* the connection that made a new edge entry (always sent: names its owner) */
};

enum connect_fail_reason {
	FAIL_OTHER = 0,
	FAIL_REFUSED = 1,
	FAIL_TIMEOUT = 2,
	FAIL_UNREACHABLE = 3,
	FAIL_RESET = 4,
	FAIL_MAX = 5,
};

enum conn_flags {
	CONN_F_PREEXISTING = 1,	    /* open before tracking began (adopted): only what it does from then on counts */
	CONN_F_OWNER_LISTENER = 2,  /* process taken from the listening socket's owner */
	CONN_F_ACCEPTED = 4,	    /* process taken from the listener's last accept() */
	CONN_F_OPEN_EMITTED = 8,    /* counted open (or adopted) on its edge */
	CONN_F_OWNER_UNKNOWN = 16,  /* no process known */
};

/* Where a connection's state is in its life (sock_state.phase). Every change happens under the
 * socket's lock (state changes, segments, resets, and adoption through iter/tcp all hold it), so
 * a connection's state needs no lock of its own. */
enum sock_phase {
	PHASE_NONE = 0,
	PHASE_CONNECTING = 1, /* SYN sent */
	PHASE_OPEN = 2,	      /* counted open or adopted on its edge */
	PHASE_CLOSED = 3,
};

/* Where a connection's counts go (sock_state.where). */
enum sock_where {
	WHERE_EDGE = 0,	    /* its entry in `edges` */
	WHERE_OVERFLOW = 1, /* `edges` was full when it opened: the overflow slot of its role */
};

/* Counters of the TCP programs (per CPU, index into tcp_counters). */
enum tcp_counter {
	TC_LISTENER_MAP_FULL = 0,  /* a listener's owner could not be recorded */
	TC_RESET_MAP_FULL = 1,	   /* a reset without socket could not be counted */
	/* not a loss: state changes the companion handled because the kernel skipped the lifecycle
	 * program, already running on that CPU (equal to its recursion_misses: subtract them) */
	TC_NESTED_HANDLED = 2,
	TC_STATE_UNAVAILABLE = 3,  /* no state could be kept for a connection (hash fallback full, or no memory):
				      its open counts, its bytes and close do not (counted per edge as untracked) */
	TC_EDGE_MAP_FULL = 4,	   /* connections counted in the overflow slot because `edges` was full */
	TC_CLOSE_UNSEEN = 5,	   /* closes of connections never seen open (nothing to count them against) */
	TC_ADOPTED = 6,		   /* connections adopted (found open when tracking began) */
	TC_OWNER_MAP_FULL = 7,	   /* socket files whose owner adoption could not note (named by the listener or not at all) */
	/* closes inferred: a new connection on a socket address whose previous connection's close the
	 * kernel skipped (see TC_NESTED_HANDLED) counts that close */
	TC_CLOSE_INFERRED = 8,
	/* claims of state changes pushed out of a full claim table (tcp.bpf.c: state_claims); were
	 * one live, its change counted twice */
	TC_CLAIM_EVICTED = 9,
	TC_MAX = 10,
};

/* Bucket layouts of the in-kernel distributions: the bounds themselves are the model's
 * (src/model/distribution.ts), handed to the kernel as settings before load; here only their counts.
 * A bucket index i counts observations in (bound[i-1], bound[i]]; the last slot, above every bound. */
enum tcp_hist_layout {
	CONNECT_BOUNDS = 16,
	RTT_BOUNDS = 15,
	DURATION_BOUNDS = 13,
};

/* Who owns a connection and what it is. */
struct conn_id {
	__u64 sk;	 /* kernel address of the socket: its key while it lives */
	__u64 start_ns;	 /* SYN sent (client), established (server) or adopted */
	__u64 cgroup_id; /* cgroup v2 id of the socket's owner */
	__u64 sock_ino;	 /* inode of the socket file (0 when unknown) */
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

/* Cumulative counters of the socket, as read at one moment. */
struct conn_stats {
	__u64 bytes_sent;     /* payload bytes transmitted, retransmissions excluded */
	__u64 bytes_received; /* payload bytes received (the FIN's sequence number excluded) */
	__u64 segs_out;
	__u64 segs_in;
	__u64 connect_ns; /* SYN sent to established (clients), 0 otherwise */
	__u64 last_ns;	  /* when these were read */
	__u32 retrans;	  /* retransmitted segments (SYN, SYN-ACK and data) */
	__u32 srtt_us;	  /* smoothed RTT, microseconds */
	__u32 resets_sent;
	__u32 resets_received;
};

/* One connection as listed for tools (flowscope top): its identity and counters now. */
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

/* A connection's own state, beside its socket (socket storage, or the fallback hash). */
struct sock_state {
	struct conn_id id;
	__u64 sent;	       /* the socket's counters as last credited to its edge */
	__u64 received;
	__u64 rtt_at_ns;       /* when its RTT was last sampled into its edge (0: never) */
	__u64 rtt_segs_in;     /* segs_in at that sample: a sample per interval with traffic */
	__u64 connect_ns;      /* SYN sent to established (clients) */
	__u64 credit_ns;       /* when its counters were last credited to its edge */
	__u32 retrans;
	__u32 resets_sent;     /* resets on this connection (for its records) */
	__u32 resets_received;
	__u32 phase;	       /* enum sock_phase */
	__u32 where;	       /* enum sock_where */
	__u32 stored;	       /* 1: in socket storage (the table was full), 0: in the table */
};

/* An edge as the kernel counts it: one owner (process and cgroup), one peer, one service port
 * (the remote port for a client, the local one for a server), one role; and one local address (the
 * agent's edges have a set of them: what the hub joins a client's edge to its server's on). */
struct tcp_edge_key {
	__u8 peer[16];
	__u8 local[16];
	__u64 cgroup_id;
	char comm[16];
	__u32 pid;
	__u16 port;
	__u8 family;
	__u8 role;
};

/* Counts of an edge since its entry was made (per CPU; the agent sums them and credits growth). */
struct tcp_edge_counts {
	__u64 opened;	 /* opened: clients and servers once established */
	__u64 adopted;	 /* open when tracking began: active from then on */
	__u64 closed;
	__u64 untracked; /* opened or adopted without state (see TC_STATE_UNAVAILABLE): not active, close not counted */
	__u64 failures[FAIL_MAX];
	__u64 bytes_sent;
	__u64 bytes_received;
	__u64 retrans;
	__u64 resets_sent;
	__u64 resets_received;
	__u64 last_ns; /* last change, CLOCK_MONOTONIC */
	__u64 connect_sum_ns;
	__u64 connect_buckets[CONNECT_BOUNDS + 1];
	__u64 rtt_sum_us;
	__u64 rtt_buckets[RTT_BOUNDS + 1];
	__u64 duration_sum_ns;
	__u64 duration_buckets[DURATION_BOUNDS + 1];
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
_Static_assert(sizeof(struct conn_value) == 160, "conn_value layout");
_Static_assert(sizeof(struct conn_event) == 176, "conn_event layout");
_Static_assert(sizeof(struct sock_state) == 168, "sock_state layout");
_Static_assert(sizeof(struct tcp_edge_key) == 64, "tcp_edge_key layout");
_Static_assert(sizeof(struct tcp_edge_counts) == 8 * (4 + FAIL_MAX + 6 + 1 + CONNECT_BOUNDS + 1 + 1 + RTT_BOUNDS + 1 + 1 + DURATION_BOUNDS + 1),
	       "tcp_edge_counts layout");
_Static_assert(sizeof(struct listener_owner) == 32, "listener_owner layout");
_Static_assert(sizeof(struct orphan_reset_key) == 24, "orphan_reset_key layout");

#endif
