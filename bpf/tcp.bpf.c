// Every TCP connection on the node, both roles, through its whole life, without kprobes or fentry,
// counted per edge in the kernel (bpf/include/tcp.h says what is counted where).
//
// Hooks (the agent loads one candidate per group, best first, and reports what it took and why):
//   lifecycle  sock:inet_sock_set_state    tp_btf > raw_tp > tracepoint
//   snapshots  live connections' counters into their edges between open and close, at most every
//              credit_period_ns per connection, from its received segments:
//              tcp:tcp_probe tp_btf > raw_tp > tracepoint > sockops (RTT callbacks)
//   accept     syscalls:sys_exit_accept[4]: the process that accepts on a listener names the server
//              connections it gets from then on (else the process that listened; optional)
//   resets     tcp:tcp_send_reset, tcp:tcp_receive_reset (tp_btf, else tracepoint)
//   adoption   connections open before the agent (run once at start): every socket file of every
//              process (iter/task_file: owners, listeners, network namespaces), then each network
//              namespace's TCP table (iter/tcp, made inside that namespace: it locks each socket
//              and hands a typed pointer, which socket storage needs)
//
// Per-connection state lives in `conns`, a preallocated table keyed by the socket's address
// (--max-connections entries: the fastest place, an insert and a delete per connection), and beyond
// it in socket storage (`sk_states`), which has no limit, where the hooks can reach it: tp_btf,
// iter/tcp and sockops get a typed socket pointer (use_sk_storage, a load-time setting). raw_tp and
// tracepoint programs only see the socket's address: with them a connection the table has no room
// for is counted untracked. Every hook that changes a connection's state runs under the socket's
// lock, so the state needs no lock.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "compat.bpf.h"
#include "ringbuf.bpf.h"
#include "btf_export.bpf.h"
#include "once.bpf.h"
#include "tcp.h"

#define EEXIST 17
#define E2BIG 7
#define ECONNRESET 104
#define ENETUNREACH 101
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTUNREACH 113

/* ---- settings ---- */

/* 1: connections the `conns` table has no room for keep their state in socket storage (tp_btf
 * lifecycle); 0: they are counted untracked. */
const volatile __u8 use_sk_storage = 1;
/* Bucket bounds of the edge distributions, from the model (set by the agent before load). */
const volatile __u64 connect_bounds_ns[CONNECT_BOUNDS] = {};
const volatile __u64 rtt_bounds_us[RTT_BOUNDS] = {};
const volatile __u64 duration_bounds_ns[DURATION_BOUNDS] = {};
/* Nonzero: only the sockets of the network namespace with this inode are followed (--netns). */
const volatile __u32 only_netns = 0;

/* Writable settings, set by the agent after load. */
/* Per-connection records (open, close, failure, adoption) in the ring: NDJSON and live tools. */
volatile __u32 connection_events = 0;
/* Snapshot hooks credit a connection's counters to its edge at most this often... */
volatile __u64 credit_period_ns = 200000000ULL;
/* ...and sample its RTT at most this often (the interval: a sample per interval with traffic). */
volatile __u64 rtt_period_ns = 1000000000ULL;
/* Adoption pass: 1 notes owners and listeners (task files), 2 adopts (each namespace's TCP table). */
volatile __u32 adopt_pass = 0;
/* No adoption ran: a snapshot hook adopts a connection it has no state for. */
volatile __u32 adopt_lazily = 0;

/* ---- maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} sk_states SEC(".maps");

/* State by socket address, preallocated (--max-connections). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_state);
} conns SEC(".maps");

/* All zeros: the initial value of a new state (too big for the stack beside the rest). Never written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_state);
} zero_state SEC(".maps");

/* Per-edge counts; entries made on demand (no preallocation: an entry is ~1 KiB on 2 CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct tcp_edge_key);
	__type(value, struct tcp_edge_counts);
} edges SEC(".maps");

/* Connections whose edge found `edges` full, by role (0: client, 1: server). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tcp_edge_counts);
} edge_overflow SEC(".maps");

/* All zeros: the initial value of a new edge entry (too big for the stack). Never written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_edge_counts);
} zero_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct listener_owner);
} listeners SEC(".maps");

/* Adoption, pass 1: the process holding each TCP socket file (by socket address), for pass 2. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct listener_owner);
} file_owners SEC(".maps");

/* Adoption, pass 1: network namespaces with TCP sockets, each with a process that holds one there
 * (the agent enters the namespace through /proc/<pid>/ns/net for pass 2). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u32);
} adopt_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct orphan_reset_key);
	__type(value, __u64);
} orphan_resets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} events SEC(".maps");

FLOWSCOPE_RB_LOST_MAP(events_lost);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tcp_counters SEC(".maps");

FLOWSCOPE_EXPORT_TYPE(struct conn_event, conn_event);
FLOWSCOPE_EXPORT_TYPE(struct conn_value, conn_value);
FLOWSCOPE_EXPORT_TYPE(enum conn_role, conn_role);
FLOWSCOPE_EXPORT_TYPE(enum conn_event_type, conn_event_type);
FLOWSCOPE_EXPORT_TYPE(enum connect_fail_reason, connect_fail_reason);
FLOWSCOPE_EXPORT_TYPE(enum conn_flags, conn_flags);
FLOWSCOPE_EXPORT_TYPE(enum sock_phase, sock_phase);
FLOWSCOPE_EXPORT_TYPE(enum sock_where, sock_where);
FLOWSCOPE_EXPORT_TYPE(enum tcp_counter, tcp_counter);
FLOWSCOPE_EXPORT_TYPE(enum tcp_hist_layout, tcp_hist_layout);

static __always_inline void bump(__u32 counter)
{
	__u64 *n = bpf_map_lookup_elem(&tcp_counters, &counter);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* ---- reading the socket: direct loads through typed pointers (tp_btf, iterators), else probe reads ---- */

#define SK_READ(direct, p, field) ((direct) ? (p)->field : BPF_CORE_READ(p, field))

static __always_inline void read_addrs(struct sock *sk, struct conn_id *id, const bool direct)
{
	id->family = SK_READ(direct, sk, __sk_common.skc_family);
	id->sport = SK_READ(direct, sk, __sk_common.skc_num);
	id->dport = bpf_ntohs(SK_READ(direct, sk, __sk_common.skc_dport));
	if (id->family == AF_INET) {
		__u32 s = SK_READ(direct, sk, __sk_common.skc_rcv_saddr);
		__u32 d = SK_READ(direct, sk, __sk_common.skc_daddr);
		__builtin_memcpy(id->saddr, &s, 4);
		__builtin_memcpy(id->daddr, &d, 4);
	} else if (direct) {
		__builtin_memcpy(id->saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(id->daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	} else {
		BPF_CORE_READ_INTO(&id->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&id->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	id->netns = direct ? sk->__sk_common.skc_net.net->ns.inum : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* cgroup v2 id of the socket's owner. Sockets keep the cgroup of the process that created them;
 * accepted sockets inherit the listener's. */
static __always_inline __u64 sock_cgroup_id(struct sock *sk, const bool direct)
{
	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		struct cgroup *cg = SK_READ(direct, sk, sk_cgrp_data.cgroup);
		if (cg)
			return direct ? cg->kn->id : BPF_CORE_READ(cg, kn, id);
	}
	return 0;
}

static __always_inline __u64 sock_inode(struct sock *sk, const bool direct)
{
	if (direct) {
		struct socket *so = sk->sk_socket;
		if (!so || !so->file)
			return 0;
		return so->file->f_inode->i_ino;
	}
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

/* The current process (thread group leader's name), for hooks that run in process context. */
static __always_inline void owner_from_current(struct conn_id *id, const bool direct)
{
	id->pid = bpf_get_current_pid_tgid() >> 32;
	if (direct) {
		struct task_struct *task = bpf_get_current_task_btf();
		__builtin_memcpy(id->comm, task->group_leader->comm, sizeof(id->comm));
	} else {
		struct task_struct *task = (void *)bpf_get_current_task();
		BPF_CORE_READ_STR_INTO(&id->comm, task, group_leader, comm);
	}
}

/* The socket's counters now. Payload bytes only: bytes_received also counts the FIN's sequence
 * number once a FIN arrived (SOCK_DONE), and bytes_sent counts retransmitted bytes again. */
static __always_inline void read_counters(struct sock *sk, struct conn_stats *st, __u64 now, const bool direct)
{
	__u64 sent, received;
	unsigned long flags;
	if (direct) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
		if (!tp)
			return;
		if (bpf_core_field_exists(tp->bytes_sent))
			sent = tp->bytes_sent - tp->bytes_retrans;
		else
			sent = tp->bytes_acked;
		received = tp->bytes_received;
		flags = tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags;
		st->segs_out = tp->segs_out;
		st->segs_in = tp->segs_in;
		st->retrans = tp->total_retrans;
		st->srtt_us = tp->srtt_us >> 3;
	} else {
		struct tcp_sock *tp = (void *)sk;
		if (bpf_core_field_exists(tp->bytes_sent))
			sent = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
		else
			sent = BPF_CORE_READ(tp, bytes_acked);
		received = BPF_CORE_READ(tp, bytes_received);
		flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
		st->segs_out = BPF_CORE_READ(tp, segs_out);
		st->segs_in = BPF_CORE_READ(tp, segs_in);
		st->retrans = BPF_CORE_READ(tp, total_retrans);
		st->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	}
	if (received && (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		received -= 1;
	st->bytes_sent = sent;
	st->bytes_received = received;
	st->last_ns = now;
}

static __always_inline __u8 fail_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return FAIL_REFUSED;
	case ETIMEDOUT:
		return FAIL_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
		return FAIL_UNREACHABLE;
	case ECONNRESET:
		return FAIL_RESET;
	default:
		return FAIL_OTHER;
	}
}

/* ---- per-connection state ---- */

/* The state of `sk`, made (zeroed) when `create`: in the table, else (full) in socket storage. */
static __always_inline struct sock_state *state_get(struct sock *sk, bool create, const bool direct)
{
	__u64 key = (__u64)sk;
	struct sock_state *s = bpf_map_lookup_elem(&conns, &key);
	if (s)
		return s;
	if (direct && use_sk_storage) {
		s = bpf_sk_storage_get(&sk_states, sk, 0, 0);
		if (s)
			return s;
	}
	if (!create)
		return NULL;
	__u32 zero = 0;
	struct sock_state *init = bpf_map_lookup_elem(&zero_state, &zero);
	if (!init)
		return NULL;
	long err = bpf_map_update_elem(&conns, &key, init, BPF_NOEXIST);
	if (err == 0 || err == -EEXIST)
		return bpf_map_lookup_elem(&conns, &key);
	/* The table is full: socket storage has no limit (without it, the caller counts it untracked). */
	if (direct && use_sk_storage) {
		s = bpf_sk_storage_get(&sk_states, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (s)
			s->stored = 1;
		return s;
	}
	return NULL;
}

/* The table forgets a connection once it closed; socket storage goes with the socket. */
static __always_inline void state_forget(struct sock *sk, struct sock_state *s)
{
	if (s->stored)
		return;
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&conns, &key);
}

/* Sets a state up for a connection starting now, its socket's counters so far as its baseline. */
static __always_inline void state_init(struct sock_state *s, const struct conn_id *id, const struct conn_stats *base, __u32 phase)
{
	__builtin_memcpy(&s->id, id, sizeof(*id));
	s->sent = base->bytes_sent;
	s->received = base->bytes_received;
	s->retrans = base->retrans;
	s->rtt_at_ns = 0;
	s->rtt_segs_in = base->segs_in;
	s->connect_ns = 0;
	s->credit_ns = id->start_ns; /* its first segments are its handshake's: credited from the next period */
	s->resets_sent = 0;
	s->resets_received = 0;
	s->where = WHERE_EDGE;
	s->phase = phase;
}

/* ---- edges ---- */

static __always_inline void edge_key_of(const struct conn_id *id, struct tcp_edge_key *k)
{
	__builtin_memcpy(k->peer, id->daddr, 16);
	__builtin_memcpy(k->local, id->saddr, 16);
	k->cgroup_id = id->cgroup_id;
	__builtin_memcpy(k->comm, id->comm, 16);
	k->pid = id->pid;
	k->port = id->role == ROLE_SERVER ? id->sport : id->dport;
	k->family = id->family;
	k->role = id->role;
}

static __always_inline void emit(const struct sock_state *s, const struct conn_stats *st, __u8 type, __u8 reason, __s32 err, __u64 now)
{
	struct conn_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		flowscope_count_lost(&events_lost);
		return;
	}
	e->type = type;
	e->reason = reason;
	e->pad = 0;
	e->error = err;
	e->ts_ns = now;
	__builtin_memcpy(&e->id, &s->id, sizeof(e->id));
	if (st)
		__builtin_memcpy(&e->stats, st, sizeof(e->stats));
	else
		__builtin_memset(&e->stats, 0, sizeof(e->stats));
	e->stats.connect_ns = s->connect_ns;
	e->stats.resets_sent = s->resets_sent;
	e->stats.resets_received = s->resets_received;
	bpf_ringbuf_submit(e, flowscope_rb_flags(&events));
}

/* Where a connection's counts go: its edge's entry (made if new, and then the agent hears of this
 * owner, peer, port and role through the ring), or, when `edges` was full as it opened, its role's
 * overflow slot (for the rest of its life, so that its close meets its open). */
static __always_inline struct tcp_edge_counts *counts_of(struct sock_state *s, __u64 now)
{
	__u32 slot = s->id.role == ROLE_SERVER ? 1 : 0;
	if (s->where == WHERE_OVERFLOW)
		return bpf_map_lookup_elem(&edge_overflow, &slot);
	struct tcp_edge_key k = {};
	edge_key_of(&s->id, &k);
	struct tcp_edge_counts *c = bpf_map_lookup_elem(&edges, &k);
	if (c)
		return c;
	__u32 zero = 0;
	struct tcp_edge_counts *init = bpf_map_lookup_elem(&zero_counts, &zero);
	if (!init)
		return NULL;
	if (bpf_map_update_elem(&edges, &k, init, BPF_NOEXIST) == 0)
		emit(s, NULL, EV_EDGE, 0, 0, now);
	c = bpf_map_lookup_elem(&edges, &k);
	if (c)
		return c;
	/* Full (or out of memory). */
	s->where = WHERE_OVERFLOW;
	bump(TC_EDGE_MAP_FULL);
	return bpf_map_lookup_elem(&edge_overflow, &slot);
}

static __always_inline __u32 bucket_of(const volatile __u64 *bounds, const __u32 n, __u64 v)
{
	__u32 i;
#pragma unroll
	for (i = 0; i < n; i++)
		if (v <= bounds[i])
			break;
	return i;
}

/* Edge counters are per CPU but added atomically: a state change nested in a softirq on this CPU
 * (the companion below) may count on the same edge in the middle of an update. */
static __always_inline void observe_connect(struct tcp_edge_counts *c, __u64 ns)
{
	__u32 i = bucket_of(connect_bounds_ns, CONNECT_BOUNDS, ns);
	if (i <= CONNECT_BOUNDS)
		__sync_fetch_and_add(&c->connect_buckets[i], 1);
	__sync_fetch_and_add(&c->connect_sum_ns, ns);
}

static __always_inline void observe_rtt(struct tcp_edge_counts *c, __u64 us)
{
	__u32 i = bucket_of(rtt_bounds_us, RTT_BOUNDS, us);
	if (i <= RTT_BOUNDS)
		__sync_fetch_and_add(&c->rtt_buckets[i], 1);
	__sync_fetch_and_add(&c->rtt_sum_us, us);
}

static __always_inline void observe_duration(struct tcp_edge_counts *c, __u64 ns)
{
	__u32 i = bucket_of(duration_bounds_ns, DURATION_BOUNDS, ns);
	if (i <= DURATION_BOUNDS)
		__sync_fetch_and_add(&c->duration_buckets[i], 1);
	__sync_fetch_and_add(&c->duration_sum_ns, ns);
}

/* Adds what the connection did since last credited to its edge (under the socket's lock). */
static __always_inline void credit(struct sock_state *s, struct tcp_edge_counts *c, const struct conn_stats *st, __u64 now)
{
	if (st->bytes_sent > s->sent) {
		__sync_fetch_and_add(&c->bytes_sent, st->bytes_sent - s->sent);
		s->sent = st->bytes_sent;
	}
	if (st->bytes_received > s->received) {
		__sync_fetch_and_add(&c->bytes_received, st->bytes_received - s->received);
		s->received = st->bytes_received;
	}
	if (st->retrans > s->retrans) {
		__sync_fetch_and_add(&c->retrans, st->retrans - s->retrans);
		s->retrans = st->retrans;
	}
	s->credit_ns = now;
}

/* An RTT sample per connection per period with traffic (segments received since the last one). */
static __always_inline void sample_rtt(struct sock_state *s, struct tcp_edge_counts *c, const struct conn_stats *st, __u64 now)
{
	if (!st->srtt_us || st->segs_in == s->rtt_segs_in)
		return;
	if (s->rtt_at_ns && now - s->rtt_at_ns < rtt_period_ns)
		return;
	s->rtt_at_ns = now;
	s->rtt_segs_in = st->segs_in;
	observe_rtt(c, st->srtt_us);
}

/* A state in the table still open when its socket address starts another connection: the kernel
 * skipped that connection's close (a hook run it did not re-enter, and the companion missed too).
 * Its close is counted now, so that its edge is not left with it active. */
static __always_inline void retire_stale(struct sock_state *s, __u64 now)
{
	if (s->phase != PHASE_OPEN)
		return;
	struct tcp_edge_counts *c = counts_of(s, now);
	if (c) {
		__sync_fetch_and_add(&c->closed, 1);
		WRITE_ONCE(c->last_ns, now);
	}
	s->phase = PHASE_CLOSED;
	bump(TC_CLOSE_INFERRED);
}

/* Counts a connection open on its edge: opened, or adopted (open before tracking began); untracked
 * when no state could be kept for it. */
static __always_inline void count_open(struct sock_state *s, __u64 now, bool adopted, bool untracked)
{
	struct tcp_edge_counts *c = counts_of(s, now);
	if (!c)
		return;
	__sync_fetch_and_add(adopted ? &c->adopted : &c->opened, 1);
	if (untracked)
		__sync_fetch_and_add(&c->untracked, 1);
	if (!adopted && s->connect_ns)
		observe_connect(c, s->connect_ns);
	WRITE_ONCE(c->last_ns, now);
}

/* ---- owners ---- */

static __always_inline bool owner_from(struct conn_id *id, const struct listener_owner *o)
{
	if (!o)
		return false;
	id->pid = o->pid;
	__builtin_memcpy(id->comm, o->comm, sizeof(id->comm));
	if (o->cgroup_id)
		id->cgroup_id = o->cgroup_id;
	return true;
}

/* A server connection's owner: the process that last accepted on its listener (or, before any
 * accept() was seen, the one that listened). */
static __always_inline void owner_from_listener(struct conn_id *id)
{
	struct listener_key lk = {.netns = id->netns, .port = id->sport};
	struct listener_owner *o = bpf_map_lookup_elem(&listeners, &lk);
	if (owner_from(id, o))
		id->flags |= o->pad ? CONN_F_ACCEPTED : CONN_F_OWNER_LISTENER;
	else
		id->flags |= CONN_F_OWNER_UNKNOWN;
}

/* ---- lifecycle ---- */

/* A connection found without state, described from the socket: its listener's owner for servers,
 * unknown for clients (the hook may run in softirq context: the current task is anyone). */
static __always_inline void describe(struct sock *sk, struct conn_id *id, __u8 role, __u64 now, const bool direct)
{
	id->sk = (__u64)sk;
	id->start_ns = now;
	read_addrs(sk, id, direct);
	id->cgroup_id = sock_cgroup_id(sk, direct);
	id->sock_ino = sock_inode(sk, direct);
	id->role = role;
	if (role == ROLE_SERVER)
		owner_from_listener(id);
	else
		id->flags |= CONN_F_OWNER_UNKNOWN;
}

/* Counts the open of a connection no state could be kept for: its bytes and close are not followed. */
static __always_inline void count_untracked(struct sock *sk, __u8 role, __u64 now, const bool direct)
{
	struct sock_state tmp = {};
	describe(sk, &tmp.id, role, now, direct);
	tmp.id.state = TCP_ESTABLISHED;
	tmp.phase = PHASE_OPEN;
	bump(TC_STATE_UNAVAILABLE);
	count_open(&tmp, now, false, true);
	if (connection_events)
		emit(&tmp, NULL, EV_OPEN, 0, 0, now);
}

static __always_inline void on_connect(struct sock *sk, __u64 now, const bool direct)
{
	struct sock_state *s = state_get(sk, true, direct);
	if (!s)
		return; /* counted untracked when (if) it opens */
	retire_stale(s, now);
	struct conn_stats base = {};
	read_counters(sk, &base, now, direct); /* a socket may connect again after a failure */
	struct conn_id id = {};
	id.sk = (__u64)sk;
	id.start_ns = now;
	id.role = ROLE_CLIENT;
	id.state = TCP_SYN_SENT;
	read_addrs(sk, &id, direct);
	owner_from_current(&id, direct); /* the owner is known: no socket inode needed to find it */
	id.cgroup_id = sock_cgroup_id(sk, direct) ?: bpf_get_current_cgroup_id();
	state_init(s, &id, &base, PHASE_CONNECTING);
}

static __always_inline void on_connected(struct sock *sk, __u64 now, const bool direct)
{
	struct sock_state *s = state_get(sk, false, direct);
	if (s && s->phase == PHASE_CONNECTING) {
		s->connect_ns = s->id.start_ns ? now - s->id.start_ns : 0;
	} else {
		/* Its SYN was not seen (sent before tracking began, or no state could be kept then): it
		 * opened now, its connect latency unknown. */
		s = state_get(sk, true, direct);
		if (!s) {
			count_untracked(sk, ROLE_CLIENT, now, direct);
			return;
		}
		retire_stale(s, now);
		struct conn_id id = {};
		struct conn_stats base = {};
		describe(sk, &id, ROLE_CLIENT, now, direct);
		state_init(s, &id, &base, PHASE_CONNECTING);
	}
	/* The local port and address are chosen after SYN_SENT. */
	read_addrs(sk, &s->id, direct);
	s->id.state = TCP_ESTABLISHED;
	s->id.flags |= CONN_F_OPEN_EMITTED;
	s->phase = PHASE_OPEN;
	count_open(s, now, false, false);
	if (connection_events)
		emit(s, NULL, EV_OPEN, 0, 0, now);
}

static __always_inline void on_connect_failed(struct sock *sk, __u64 now, const bool direct)
{
	struct sock_state tmp = {};
	struct sock_state *s = state_get(sk, false, direct);
	if (!s || s->phase != PHASE_CONNECTING) {
		describe(sk, &tmp.id, ROLE_CLIENT, now, direct);
		s = &tmp;
	}
	int err = SK_READ(direct, sk, sk_err);
	__u8 reason = fail_reason(err);
	struct conn_stats st = {};
	read_counters(sk, &st, now, direct);
	struct tcp_edge_counts *c = counts_of(s, now);
	if (c) {
		if (reason < FAIL_MAX)
			__sync_fetch_and_add(&c->failures[reason], 1);
		/* SYN retransmissions count (they are in the kernel's counters). */
		credit(s, c, &st, now);
		WRITE_ONCE(c->last_ns, now);
	}
	s->id.state = TCP_CLOSE;
	s->phase = PHASE_CLOSED;
	if (connection_events)
		emit(s, &st, EV_CONNECT_FAIL, reason, err, now);
	if (s != &tmp)
		state_forget(sk, s);
}

static __always_inline void on_accepted_established(struct sock *sk, __u64 now, const bool direct)
{
	struct sock_state *s = state_get(sk, true, direct);
	if (!s) {
		count_untracked(sk, ROLE_SERVER, now, direct);
		return;
	}
	retire_stale(s, now);
	struct conn_id id = {};
	struct conn_stats base = {}; /* new: every byte is its own */
	id.sk = (__u64)sk;
	id.start_ns = now;
	id.role = ROLE_SERVER;
	id.state = TCP_ESTABLISHED;
	read_addrs(sk, &id, direct);
	id.cgroup_id = sock_cgroup_id(sk, direct);
	/* softirq context: the current task is whoever ran; the listener says who takes these. */
	owner_from_listener(&id);
	id.flags |= CONN_F_OPEN_EMITTED;
	state_init(s, &id, &base, PHASE_OPEN);
	count_open(s, now, false, false);
	if (connection_events)
		emit(s, NULL, EV_OPEN, 0, 0, now);
}

static __always_inline void on_listen(struct sock *sk, const bool direct)
{
	struct listener_key lk = {};
	struct listener_owner o = {};
	struct conn_id id = {};
	lk.netns = direct ? sk->__sk_common.skc_net.net->ns.inum : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	lk.port = SK_READ(direct, sk, __sk_common.skc_num);
	owner_from_current(&id, direct);
	o.pid = id.pid;
	__builtin_memcpy(o.comm, id.comm, sizeof(o.comm));
	o.cgroup_id = sock_cgroup_id(sk, direct) ?: bpf_get_current_cgroup_id();
	if (bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY))
		bump(TC_LISTENER_MAP_FULL);
}

static __always_inline void on_unlisten(struct sock *sk, const bool direct)
{
	struct listener_key lk = {};
	lk.netns = direct ? sk->__sk_common.skc_net.net->ns.inum : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	lk.port = SK_READ(direct, sk, __sk_common.skc_num);
	bpf_map_delete_elem(&listeners, &lk);
}

static __always_inline void on_closed(struct sock *sk, __u64 now, const bool direct)
{
	struct sock_state *s = state_get(sk, false, direct);
	if (!s || s->phase != PHASE_OPEN) {
		bump(TC_CLOSE_UNSEEN);
		return;
	}
	s->phase = PHASE_CLOSED;
	s->id.state = TCP_CLOSE;
	struct conn_stats st = {};
	read_counters(sk, &st, now, direct);
	struct tcp_edge_counts *c = counts_of(s, now);
	if (c) {
		credit(s, c, &st, now);
		__sync_fetch_and_add(&c->closed, 1);
		if (!(s->id.flags & CONN_F_PREEXISTING))
			observe_duration(c, now - s->id.start_ns);
		/* Connections shorter than an RTT sample period still give one sample. */
		if (!s->rtt_at_ns && st.srtt_us)
			observe_rtt(c, st.srtt_us);
		WRITE_ONCE(c->last_ns, now);
	}
	if (connection_events)
		emit(s, &st, EV_CLOSE, 0, 0, now);
	state_forget(sk, s);
}

/* Whether a socket is one this agent follows (its network namespace, with --netns). */
static __always_inline bool in_scope(struct sock *sk, const bool direct)
{
	if (!only_netns)
		return true;
	__u32 netns = direct ? sk->__sk_common.skc_net.net->ns.inum : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return netns == only_netns;
}

static __always_inline int handle_state(struct sock *sk, int oldstate, int newstate, const bool direct)
{
	if (SK_READ(direct, sk, sk_protocol) != IPPROTO_TCP || !in_scope(sk, direct))
		return 0;
	if (newstate == TCP_LISTEN) {
		on_listen(sk, direct);
	} else if (oldstate == TCP_LISTEN) {
		if (newstate == TCP_CLOSE)
			on_unlisten(sk, direct);
		/* LISTEN -> SYN_RECV: a child being cloned from the listener; tracked once established */
	} else if (newstate == TCP_SYN_SENT) {
		on_connect(sk, bpf_ktime_get_ns(), direct);
	} else if (oldstate == TCP_SYN_SENT) {
		if (newstate == TCP_ESTABLISHED)
			on_connected(sk, bpf_ktime_get_ns(), direct);
		else if (newstate == TCP_CLOSE)
			on_connect_failed(sk, bpf_ktime_get_ns(), direct);
	} else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		on_accepted_established(sk, bpf_ktime_get_ns(), direct);
	} else if (newstate == TCP_CLOSE && oldstate != TCP_SYN_RECV) {
		on_closed(sk, bpf_ktime_get_ns(), direct);
	}
	/* Other changes (FIN_WAIT1, CLOSE_WAIT...) cost nothing more. */
	return 0;
}

/* Claims: the kernel does not re-enter a tracing program on the CPU it runs on. A state change in a
 * softirq that interrupts the lifecycle program (a packet arriving on loopback, say) is skipped and
 * counted in the program's recursion_misses, and the kernel counts the program running from before
 * its first instruction to after its last. So the lifecycle program claims each change it takes,
 * first thing; its companion, attached to the same tracepoint after it (the kernel calls a
 * tracepoint's probes in attach order), runs for every change, takes back the claim of a change the
 * lifecycle program took and handles any change not claimed: the ones the kernel skipped the
 * lifecycle program for, whenever in its run they came (TC_NESTED_HANDLED: equal to its
 * recursion_misses).
 *
 * A claim is keyed by the run's context address: the tracepoint calls both programs from the same
 * place, and the kernel's bpf_trace_run* puts the arguments it hands them (ctx) in its own frame, so
 * ctx is the same address for both runs of one change, and elsewhere for any change that interrupts
 * them (on the interrupt stack, or deeper on the same one). Not the programs' own frame pointer:
 * a JIT may give each program a private stack. Runs at one
 * address never overlap (probes run with preemption disabled; an interruption is elsewhere), so a
 * claim still there when another run starts at its address is stale: a lifecycle run nested in a
 * companion run left it (the kernel skipped the companion for it). Stale claims are replaced by the
 * next claim at their address and cleared by the next claim on their socket (a socket's changes
 * never nest: they run under its lock), so one could hide a skipped change only if that change were
 * on the same socket, with the same states, and every change between on that socket had been
 * skipped too. CLAIM_SLOTS holds the live claims (one per interrupted context) and the stale ones;
 * a claim pushed out for room is counted (TC_CLAIM_EVICTED). */
#define CLAIM_SLOTS 8

struct state_claim {
	__u64 frame;
	__u64 sk;
	__u32 change; /* oldstate << 8 | newstate | 1 << 16; 0: free */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct state_claim[CLAIM_SLOTS]);
} state_claims SEC(".maps");

static __always_inline __u32 change_of(int oldstate, int newstate)
{
	return ((__u32)oldstate & 0xff) << 8 | ((__u32)newstate & 0xff) | 0x10000;
}


static __always_inline int handle_state_claimed(__u64 frame, struct sock *sk, int oldstate, int newstate, const bool direct)
{
	__u32 zero = 0;
	struct state_claim *c = bpf_map_lookup_elem(&state_claims, &zero);
	if (c) {
		/* One pass: the slot at this frame (a stale claim), else a free one; any other claim
		 * on this socket is stale too (a socket's changes do not nest: they run under its lock). */
		__u32 at = CLAIM_SLOTS, free = CLAIM_SLOTS;
		for (__u32 i = 0; i < CLAIM_SLOTS; i++) {
			if (!c[i].change) {
				if (free == CLAIM_SLOTS)
					free = i;
			} else if (c[i].frame == frame) {
				at = i;
			} else if (c[i].sk == (__u64)sk) {
				c[i].change = 0;
				if (free == CLAIM_SLOTS)
					free = i;
			}
		}
		if (at == CLAIM_SLOTS)
			at = free;
		if (at == CLAIM_SLOTS) {
			at = bpf_get_prandom_u32();
			bump(TC_CLAIM_EVICTED);
		}
		at &= CLAIM_SLOTS - 1;
		c[at].frame = frame;
		c[at].sk = (__u64)sk;
		c[at].change = change_of(oldstate, newstate);
	}
	return handle_state(sk, oldstate, newstate, direct);
}

static __always_inline int handle_state_unclaimed(__u64 frame, struct sock *sk, int oldstate, int newstate, const bool direct)
{
	__u32 zero = 0;
	struct state_claim *c = bpf_map_lookup_elem(&state_claims, &zero);
	if (!c)
		return 0;
	for (__u32 i = 0; i < CLAIM_SLOTS; i++) {
		if (!c[i].change || c[i].frame != frame)
			continue;
		bool claimed = c[i].change == change_of(oldstate, newstate) && c[i].sk == (__u64)sk;
		c[i].change = 0;
		if (claimed)
			return 0;
		break;
	}
	bump(TC_NESTED_HANDLED);
	return handle_state(sk, oldstate, newstate, direct);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_btf, struct sock *sk, int oldstate, int newstate)
{
	return handle_state_claimed((__u64)ctx, sk, oldstate, newstate, true);
}

/* The companion: runs after the lifecycle program for every state change and handles the ones it
 * did not claim, which the kernel skipped it for (each tracing program has its own recursion guard). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_nested_btf, struct sock *sk, int oldstate, int newstate)
{
	return handle_state_unclaimed((__u64)ctx, sk, oldstate, newstate, true);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_raw, struct sock *sk, int oldstate, int newstate)
{
	return handle_state_claimed((__u64)ctx, sk, oldstate, newstate, false);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_nested, struct sock *sk, int oldstate, int newstate)
{
	return handle_state_unclaimed((__u64)ctx, sk, oldstate, newstate, false);
}

/* Classic tracepoint programs share one per-CPU guard (bpf_prog_active) with every kprobe and
 * tracepoint program: a change arriving while any of them runs on the CPU is skipped for all of
 * them, so no companion can take it. Those skips are losses, counted in recursion_misses. */
SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return handle_state((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, false);
}

/* ---- adoption: connections open before tracking began ---- */

static __always_inline bool open_state(int state)
{
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT || state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 ||
	       state == TCP_CLOSING || state == TCP_LAST_ACK;
}

/* Adopts an open connection found without state: counted active on its edge from now on, its
 * counters so far its baseline (what it did before is not ours to count), its start unknown (no
 * lifetime is observed for it). `owner`: the process holding its file, if known. */
static __always_inline void adopt_connection(struct sock *sk, const struct listener_owner *owner, const bool direct)
{
	int tcp_state = SK_READ(direct, sk, __sk_common.skc_state);
	bool connecting = tcp_state == TCP_SYN_SENT;
	if (!open_state(tcp_state) && !connecting)
		return;
	if (!in_scope(sk, direct))
		return;
	if (state_get(sk, false, direct))
		return; /* followed already */
	struct sock_state *s = state_get(sk, true, direct);
	if (!s) {
		bump(TC_STATE_UNAVAILABLE);
		return;
	}
	__u64 now = bpf_ktime_get_ns();
	struct conn_stats st = {};
	read_counters(sk, &st, now, direct);
	struct conn_id id = {};
	id.sk = (__u64)sk;
	read_addrs(sk, &id, direct);
	id.cgroup_id = sock_cgroup_id(sk, direct);
	id.sock_ino = sock_inode(sk, direct);
	id.state = tcp_state;
	struct listener_key lk = {.netns = id.netns, .port = id.sport};
	struct listener_owner *l = bpf_map_lookup_elem(&listeners, &lk);
	id.role = l ? ROLE_SERVER : ROLE_CLIENT;
	if (owner_from(&id, owner)) {
		/* the holder of its file */
	} else if (owner_from(&id, l)) {
		id.flags |= CONN_F_OWNER_LISTENER;
	} else {
		id.flags |= CONN_F_OWNER_UNKNOWN;
	}
	id.flags |= CONN_F_PREEXISTING | (connecting ? 0 : CONN_F_OPEN_EMITTED);
	/* Connecting: counted open when established, its latency unknown (its SYN went before us). */
	id.start_ns = connecting ? 0 : now;
	state_init(s, &id, &st, connecting ? PHASE_CONNECTING : PHASE_OPEN);
	if (connecting)
		return;
	bump(TC_ADOPTED);
	count_open(s, now, true, false);
	if (connection_events)
		emit(s, &st, EV_ADOPT, 0, 0, now);
}

/* Pass 1, over every socket file of every process (every network namespace): who holds each TCP
 * socket, who owns each listener (the first holder, except over pid 1: a socket the init system
 * made and handed to a service is the service's), and which namespaces have TCP sockets. The
 * socket pointer here cannot reach socket storage: pass 2 adopts. */
SEC("iter/task_file")
int adopt_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	if (!task || !file || adopt_pass != 1)
		return 0;
	struct socket *sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP || sk->sk_type != 1 /* SOCK_STREAM */)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct listener_owner o = {};
	o.pid = task->tgid;
	__builtin_memcpy(o.comm, task->group_leader->comm, sizeof(o.comm));
	o.cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	__u32 netns = sk->__sk_common.skc_net.net->ns.inum;
	if (only_netns && netns != only_netns)
		return 0;
	if (sk->__sk_common.skc_state == TCP_LISTEN) {
		struct listener_key lk = {.netns = netns, .port = sk->__sk_common.skc_num};
		struct listener_owner *old = bpf_map_lookup_elem(&listeners, &lk);
		if (!old || (old->pid == 1 && o.pid != 1)) {
			if (bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY))
				bump(TC_LISTENER_MAP_FULL);
		}
		return 0;
	}
	if (!open_state(sk->__sk_common.skc_state) && sk->__sk_common.skc_state != TCP_SYN_SENT)
		return 0;
	__u64 key = (__u64)sk;
	if (bpf_map_update_elem(&file_owners, &key, &o, BPF_NOEXIST) == -E2BIG)
		bump(TC_OWNER_MAP_FULL);
	/* The namespace: the holder's own, as a path the agent can enter (/proc/<pid>/ns/net), when
	 * the socket lives there (the usual case). */
	if (task->nsproxy && task->nsproxy->net_ns && task->nsproxy->net_ns->ns.inum == netns)
		bpf_map_update_elem(&adopt_netns, &netns, &o.pid, BPF_NOEXIST);
	return 0;
}

/* Pass 2, over the TCP table of the network namespace the iterator was made in; each socket under
 * its lock, through a typed pointer (either state store).  */
SEC("iter/tcp")
int adopt_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc || adopt_pass != 2)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* time-wait or request sockets */
	struct sock *sk = (struct sock *)tp;
	__u64 key = (__u64)sk;
	adopt_connection(sk, bpf_map_lookup_elem(&file_owners, &key), true);
	return 0;
}

/* Every TCP socket file of every process with its counters now, as conn_value records (flowscope
 * top). Probe reads: the socket pointer a file gives is not one the helpers take. */
SEC("iter/task_file")
int dump_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	if (!task || !file)
		return 0;
	struct socket *sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP || sk->sk_type != 1)
		return 0;
	int tcp_state = sk->__sk_common.skc_state;
	if (!open_state(tcp_state))
		return 0;
	struct conn_value out = {};
	out.id.sk = (__u64)sk;
	read_addrs(sk, &out.id, false);
	out.id.pid = task->tgid;
	__builtin_memcpy(out.id.comm, task->group_leader->comm, sizeof(out.id.comm));
	out.id.state = tcp_state;
	read_counters(sk, &out.stats, bpf_ktime_get_ns(), false);
	bpf_seq_write(ctx->meta->seq, &out, sizeof(out));
	return 0;
}

/* ---- snapshots: live connections' counters into their edges ---- */

/* A segment received on an established socket (under its lock). Credits the connection's counters
 * to its edge at most every credit_period_ns: they trail by at most that while segments come, and
 * are exact at the close. Where no adoption ran, a connection first seen here is adopted. */
static __always_inline int snapshot(struct sock *sk, const bool direct)
{
	struct sock_state *s = state_get(sk, false, direct);
	if (!s) {
		if (adopt_lazily)
			adopt_connection(sk, NULL, direct);
		return 0;
	}
	if (s->phase != PHASE_OPEN)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (now - s->credit_ns < credit_period_ns)
		return 0;
	struct conn_stats st = {};
	read_counters(sk, &st, now, direct);
	struct tcp_edge_counts *c = counts_of(s, now);
	if (!c)
		return 0;
	credit(s, c, &st, now);
	sample_rtt(s, c, &st, now);
	WRITE_ONCE(c->last_ns, now);
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe_btf, struct sock *sk, struct sk_buff *skb)
{
	return snapshot(sk, true);
}

SEC("raw_tp/tcp_probe")
int BPF_PROG(tcp_probe_raw, struct sock *sk, struct sk_buff *skb)
{
	return snapshot(sk, false);
}

SEC("tracepoint/tcp/tcp_probe")
int tcp_probe_tp(struct trace_event_raw_tcp_probe *ctx)
{
	if (!bpf_core_field_exists(ctx->skaddr))
		return 0; /* kernels whose tcp_probe lacks the socket: the agent uses sockops */
	return snapshot((struct sock *)BPF_CORE_READ(ctx, skaddr), false);
}

/* Stable-UAPI fallback: sockops on the cgroup v2 root, RTT and retransmit callbacks. */
SEC("sockops")
int tcp_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_RETRANS_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_RTT_CB:
	case BPF_SOCK_OPS_RETRANS_CB:
		break;
	default:
		return 1;
	}
	struct bpf_sock *bsk = skops->sk;
	if (!bsk)
		return 1;
	__u64 key = (__u64)bsk;
	struct sock_state *s = bpf_map_lookup_elem(&conns, &key);
	if (!s && use_sk_storage)
		s = bpf_sk_storage_get(&sk_states, bsk, 0, 0);
	if (!s || s->phase != PHASE_OPEN)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	if (now - s->credit_ns < credit_period_ns)
		return 1;
	/* The socket's own counters, as the close reads them (bytes_acked would count the SYN and FIN). */
	struct conn_stats st = {};
	read_counters((struct sock *)bsk, &st, now, true);
	struct tcp_edge_counts *c = counts_of(s, now);
	if (!c)
		return 1;
	credit(s, c, &st, now);
	sample_rtt(s, c, &st, now);
	WRITE_ONCE(c->last_ns, now);
	return 1;
}

/* ---- the processes that accept ---- */

/* Layout of syscalls:sys_exit_* tracepoints (stable ABI). */
struct syscall_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* accept() returned a socket to this process: the server connections its listener gets from now
 * on are this process's (the listener's entry, written only when the process changes). The
 * connection itself was counted when it was established, under the listener's entry then. */
/* Per CPU: the process whose accept() was last looked at, and when. */
struct accept_seen {
	__u64 at_ns;
	__u32 pid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct accept_seen);
} accept_seen SEC(".maps");

/* A process that accepts in a loop names its listener once: after the first look, its accept()s are
 * looked at again at most every ACCEPT_RECHECK_NS on each CPU (the walk through its file table to the
 * socket costs more than the rest of a connection's accounting). */
#define ACCEPT_RECHECK_NS 100000000ULL

static __always_inline int on_accept(__s64 fd)
{
	if (fd < 0)
		return 0;
	__u32 zero = 0;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct accept_seen *seen = bpf_map_lookup_elem(&accept_seen, &zero);
	if (seen) {
		if (seen->pid == pid && now - seen->at_ns < ACCEPT_RECHECK_NS)
			return 0;
		seen->pid = pid;
		seen->at_ns = now;
	}
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	struct listener_key lk = {};
	lk.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	struct listener_owner *l = bpf_map_lookup_elem(&listeners, &lk);
	if (l && l->pid == pid)
		return 0;
	struct listener_owner o = {};
	struct conn_id id = {};
	owner_from_current(&id, false);
	o.pid = pid;
	o.pad = 1; /* named by accept() */
	__builtin_memcpy(o.comm, id.comm, sizeof(o.comm));
	o.cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY))
		bump(TC_LISTENER_MAP_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct syscall_exit_ctx *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct syscall_exit_ctx *ctx)
{
	return on_accept(ctx->ret);
}

/* ---- resets ---- */

static __always_inline void count_orphan_reset(struct orphan_reset_key *k)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(&orphan_resets, k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&orphan_resets, k, &one, BPF_NOEXIST))
		bump(TC_RESET_MAP_FULL);
}

/* A reset on a followed connection (under its lock): on its edge once its owner is known. */
static __always_inline void count_reset(struct sock_state *s, bool sent)
{
	if (sent)
		s->resets_sent++;
	else
		s->resets_received++;
	if (s->phase != PHASE_OPEN && s->phase != PHASE_CONNECTING)
		return;
	struct tcp_edge_counts *c = counts_of(s, bpf_ktime_get_ns());
	if (c)
		__sync_fetch_and_add(sent ? &c->resets_sent : &c->resets_received, 1);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(rst_received_btf, struct sock *sk)
{
	struct sock_state *s = state_get(sk, false, true);
	if (s)
		count_reset(s, false);
	return 0;
}

/* A reset sent: on a followed connection, its edge; else (no socket: a closed port; or a time-wait
 * or request socket) by local port and peer, from the packet it answers. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(rst_sent_btf, struct sock *sk, struct sk_buff *skb)
{
	if (sk && sk->__sk_common.skc_state != TCP_TIME_WAIT && sk->__sk_common.skc_state != TCP_NEW_SYN_RECV) {
		struct sock_state *s = state_get(sk, false, true);
		if (s) {
			count_reset(s, true);
			return 0;
		}
	}
	if (!skb)
		return 0;
	struct orphan_reset_key k = {};
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header, th = skb->transport_header;
	__u8 ver = 0;
	bpf_probe_read_kernel(&ver, 1, head + nh);
	if ((ver >> 4) == 4) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return 0;
		k.family = AF_INET;
		__builtin_memcpy(k.raddr, &ip.saddr, 4);
	} else if ((ver >> 4) == 6) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return 0;
		k.family = AF_INET6;
		__builtin_memcpy(k.raddr, &ip6.saddr, 16);
	} else {
		return 0;
	}
	struct tcphdr tcp;
	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		return 0;
	k.lport = bpf_ntohs(tcp.dest);
	struct net_device *dev = skb->dev;
	if (dev)
		k.netns = dev->nd_net.net->ns.inum;
	count_orphan_reset(&k);
	return 0;
}

/* The classic tracepoints: the hash fallback's socket resets (the socket's address is its key), and
 * resets without a socket. */
SEC("tracepoint/tcp/tcp_receive_reset")
int rst_received(struct trace_event_raw_tcp_event_sk *ctx)
{
	__u64 key = (__u64)BPF_CORE_READ(ctx, skaddr);
	struct sock_state *s = bpf_map_lookup_elem(&conns, &key);
	if (s)
		count_reset(s, false);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int rst_sent(struct trace_event_raw_tcp_send_reset *ctx)
{
	__u64 key = (__u64)BPF_CORE_READ(ctx, skaddr);
	if (key) {
		struct sock_state *s = bpf_map_lookup_elem(&conns, &key);
		if (s) {
			count_reset(s, true);
			return 0;
		}
	}
	/* Since Linux 6.10 saddr/daddr are sockaddrs, local first; older kernels lack them here. */
	if (bpf_core_field_size(ctx->saddr) < sizeof(struct sockaddr_in6))
		return 0;
	struct orphan_reset_key k = {};
	struct sockaddr_in6 local = {}, remote = {};
	bpf_probe_read_kernel(&local, sizeof(local), ctx->saddr);
	bpf_probe_read_kernel(&remote, sizeof(remote), ctx->daddr);
	k.family = local.sin6_family;
	k.lport = bpf_ntohs(local.sin6_port);
	if (k.family == AF_INET) {
		struct sockaddr_in *r4 = (void *)&remote;
		__builtin_memcpy(k.raddr, &r4->sin_addr.s_addr, 4);
	} else {
		__builtin_memcpy(k.raddr, &remote.sin6_addr, 16);
	}
	struct sk_buff *skb = (void *)BPF_CORE_READ(ctx, skbaddr);
	if (skb)
		k.netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	count_orphan_reset(&k);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
