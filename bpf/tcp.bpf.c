// Every TCP connection on the node, both roles, through its whole life, without kprobes or fentry.
//
// Hooks (the agent loads one candidate per group, best first, and reports what it took and why):
//   lifecycle  sock:inet_sock_set_state    tp_btf > raw_tp > tracepoint
//   snapshots  tcp:tcp_probe (each segment received on an established socket)
//                                          tp_btf > raw_tp > tracepoint > sockops on the cgroup v2 root
//   owners     syscalls:sys_exit_accept[4] (the accepting process of server sockets; optional)
//   resets     tcp:tcp_send_reset, tcp:tcp_receive_reset
//
// Connections live in `conns` (key: socket address) with a snapshot of the socket's cumulative
// counters, updated in place; the agent reads the map every interval. The ring buffer carries only
// lifecycle events (open, close with final totals, connect failure), so a connection that opens and
// closes between two reads is still counted whole.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "compat.bpf.h"
#include "ringbuf.bpf.h"
#include "btf_export.bpf.h"
#include "tcp.h"

#define E2BIG 7
#define ECONNRESET 104
#define ENETUNREACH 101
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTUNREACH 113

/* Server open events wait for accept() once the accept hooks are attached (set by the agent after
 * attaching them: a writable global, not a load-time setting). */
volatile __u32 open_at_accept = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_value);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct listener_owner);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct orphan_reset_key);
	__type(value, __u64);
} orphan_resets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

FLOWSCOPE_RB_LOST_MAP(events_lost);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* The last socket a snapshot could not track (map full), per CPU: count each socket once, not each segment. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_untracked SEC(".maps");

FLOWSCOPE_EXPORT_TYPE(struct conn_event, conn_event);
FLOWSCOPE_EXPORT_TYPE(enum conn_role, conn_role);
FLOWSCOPE_EXPORT_TYPE(enum conn_event_type, conn_event_type);
FLOWSCOPE_EXPORT_TYPE(enum connect_fail_reason, connect_fail_reason);
FLOWSCOPE_EXPORT_TYPE(enum conn_flags, conn_flags);
FLOWSCOPE_EXPORT_TYPE(enum drop_reason, drop_reason);

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);
	if (n)
		*n += 1;
}

/* ---- reading the socket (probe reads: valid in every program type) ---- */

static __always_inline void read_addrs(struct sock *sk, struct conn_id *id)
{
	id->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	id->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	id->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (id->family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(id->saddr, &s, 4);
		__builtin_memcpy(id->daddr, &d, 4);
	} else {
		BPF_CORE_READ_INTO(&id->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&id->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	id->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* cgroup v2 id of the socket's owner. Sockets keep the cgroup of the process that created them;
 * accepted sockets inherit the listener's. */
static __always_inline __u64 sock_cgroup_id(struct sock *sk)
{
	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
		if (cg)
			return BPF_CORE_READ(cg, kn, id);
	}
	return 0;
}

static __always_inline __u64 sock_inode(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

/* The current process (thread group leader's name), for hooks that run in process context. */
static __always_inline void owner_from_current(struct conn_id *id)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	id->pid = bpf_get_current_pid_tgid() >> 32;
	BPF_CORE_READ_STR_INTO(&id->comm, task, group_leader, comm);
}

/* Payload bytes only: bytes_received also counts the FIN's sequence number once a FIN arrived
 * (SOCK_DONE), and bytes_sent counts retransmitted bytes again. */
static __always_inline void snapshot_probe(struct sock *sk, struct conn_stats *st, __u64 now)
{
	struct tcp_sock *tp = (void *)sk;
	__u64 sent, received;
	if (bpf_core_field_exists(tp->bytes_sent))
		sent = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
	else
		sent = BPF_CORE_READ(tp, bytes_acked);
	received = BPF_CORE_READ(tp, bytes_received);
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	if (received && (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		received -= 1;
	st->bytes_sent = sent;
	st->bytes_received = received;
	st->segs_out = BPF_CORE_READ(tp, segs_out);
	st->segs_in = BPF_CORE_READ(tp, segs_in);
	st->retrans = BPF_CORE_READ(tp, total_retrans);
	st->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	st->last_ns = now;
}

static __always_inline void emit(struct conn_value *v, __u8 type, __u8 reason, __s32 err, __u64 now)
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
	__builtin_memcpy(&e->id, &v->id, sizeof(e->id));
	__builtin_memcpy(&e->stats, &v->stats, sizeof(e->stats));
	bpf_ringbuf_submit(e, flowscope_rb_flags(&events));
}

static __always_inline bool owner_from_listener(struct conn_id *id)
{
	struct listener_key lk = {.netns = id->netns, .port = id->sport};
	struct listener_owner *o = bpf_map_lookup_elem(&listeners, &lk);
	if (!o)
		return false;
	id->pid = o->pid;
	__builtin_memcpy(id->comm, o->comm, sizeof(id->comm));
	if (!id->cgroup_id)
		id->cgroup_id = o->cgroup_id;
	return true;
}

/* A connection we did not see open (before tracking began, or the map was full then). */
static __always_inline void describe_untracked(struct sock *sk, struct conn_value *v, __u64 key, __u64 now)
{
	v->id.sk = key;
	v->id.start_ns = now;
	read_addrs(sk, &v->id);
	v->id.cgroup_id = sock_cgroup_id(sk);
	v->id.sock_ino = sock_inode(sk);
	v->id.flags = CONN_F_PREEXISTING;
	if (owner_from_listener(&v->id)) {
		v->id.role = ROLE_SERVER;
		v->id.flags |= CONN_F_OWNER_LISTENER;
	} else {
		v->id.role = ROLE_CLIENT;
		v->id.flags |= CONN_F_OWNER_UNKNOWN;
	}
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

/* ---- lifecycle ---- */

static __always_inline void on_connect(struct sock *sk, __u64 key, __u64 now)
{
	struct conn_value v = {};
	v.id.sk = key;
	v.id.start_ns = now;
	v.id.role = ROLE_CLIENT;
	v.id.state = TCP_SYN_SENT;
	read_addrs(sk, &v.id);
	owner_from_current(&v.id);
	v.id.cgroup_id = sock_cgroup_id(sk) ?: bpf_get_current_cgroup_id();
	v.id.sock_ino = sock_inode(sk);
	if (bpf_map_update_elem(&conns, &key, &v, BPF_ANY))
		count_drop(DROP_CONN_MAP_FULL);
}

static __always_inline void on_connected(struct sock *sk, __u64 key, __u64 now)
{
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (!v)
		return; /* not seen connecting: the first snapshot picks it up as pre-existing */
	if (v->id.role != ROLE_CLIENT || v->id.state != TCP_SYN_SENT) {
		/* Stale (an earlier connection on this socket address whose close was missed): this one's
		 * SYN was missed too, so its connect latency is unknown, but it opened now. */
		__builtin_memset(&v->stats, 0, sizeof(v->stats));
		v->id.start_ns = now;
		v->id.role = ROLE_CLIENT;
		v->id.flags = 0;
		owner_from_current(&v->id);
		v->id.cgroup_id = sock_cgroup_id(sk) ?: bpf_get_current_cgroup_id();
		v->id.sock_ino = sock_inode(sk);
		v->id.state = TCP_SYN_SENT;
		v->stats.connect_ns = 0;
		read_addrs(sk, &v->id);
		v->id.state = TCP_ESTABLISHED;
		snapshot_probe(sk, &v->stats, now);
		v->id.flags |= CONN_F_OPEN_EMITTED;
		emit(v, EV_OPEN, 0, 0, now);
		return;
	}
	read_addrs(sk, &v->id); /* the local port is chosen after SYN_SENT */
	v->id.state = TCP_ESTABLISHED;
	v->stats.connect_ns = now - v->id.start_ns;
	snapshot_probe(sk, &v->stats, now);
	v->id.flags |= CONN_F_OPEN_EMITTED;
	emit(v, EV_OPEN, 0, 0, now);
}

static __always_inline void on_connect_failed(struct sock *sk, __u64 key, __u64 now)
{
	struct conn_value tmp = {};
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (!v) {
		describe_untracked(sk, &tmp, key, now);
		tmp.id.role = ROLE_CLIENT;
		v = &tmp;
	}
	int err = BPF_CORE_READ(sk, sk_err);
	if (!v->id.sport)
		read_addrs(sk, &v->id);
	v->id.state = TCP_CLOSE;
	snapshot_probe(sk, &v->stats, now);
	emit(v, EV_CONNECT_FAIL, fail_reason(err), err, now);
	bpf_map_delete_elem(&conns, &key);
}

static __always_inline void on_accepted_established(struct sock *sk, __u64 key, __u64 now)
{
	struct conn_value *existing = bpf_map_lookup_elem(&conns, &key);
	/* accept() may have run first and already named the owner. An entry of another role is stale: a
	 * connection whose close this program missed (the kernel skips a tracing program re-entered on
	 * the same CPU, counted in its recursion_misses) left it behind; the new connection replaces it. */
	if (existing && existing->id.role == ROLE_SERVER && !(existing->id.flags & CONN_F_PREEXISTING)) {
		existing->id.state = TCP_ESTABLISHED;
		snapshot_probe(sk, &existing->stats, now);
		return;
	}
	struct conn_value v = {};
	v.id.sk = key;
	v.id.start_ns = now;
	v.id.role = ROLE_SERVER;
	v.id.state = TCP_ESTABLISHED;
	read_addrs(sk, &v.id);
	v.id.cgroup_id = sock_cgroup_id(sk);
	v.id.sock_ino = sock_inode(sk);
	/* softirq context: the current task is whoever ran; the listener's owner is the best guess
	 * until accept() names the real one. */
	v.id.flags = owner_from_listener(&v.id) ? CONN_F_OWNER_LISTENER : CONN_F_OWNER_UNKNOWN;
	snapshot_probe(sk, &v.stats, now);
	if (!open_at_accept) {
		v.id.flags |= CONN_F_OPEN_EMITTED;
		emit(&v, EV_OPEN, 0, 0, now);
	}
	if (bpf_map_update_elem(&conns, &key, &v, BPF_ANY))
		count_drop(DROP_CONN_MAP_FULL);
}

static __always_inline void on_listen(struct sock *sk)
{
	struct listener_key lk = {};
	struct listener_owner o = {};
	lk.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	struct task_struct *task = (void *)bpf_get_current_task();
	o.pid = bpf_get_current_pid_tgid() >> 32;
	o.cgroup_id = sock_cgroup_id(sk) ?: bpf_get_current_cgroup_id();
	BPF_CORE_READ_STR_INTO(&o.comm, task, group_leader, comm);
	if (bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY))
		count_drop(DROP_LISTENER_MAP_FULL);
}

static __always_inline void on_unlisten(struct sock *sk)
{
	struct listener_key lk = {};
	lk.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	lk.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	bpf_map_delete_elem(&listeners, &lk);
}

static __always_inline void on_closed(struct sock *sk, __u64 key, __u64 now)
{
	struct conn_value tmp = {};
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (!v) {
		describe_untracked(sk, &tmp, key, now);
		v = &tmp;
	}
	/* Keep the addresses seen while open: by now the local port may already be released. */
	if (!v->id.sport)
		read_addrs(sk, &v->id);
	v->id.state = TCP_CLOSE;
	snapshot_probe(sk, &v->stats, now);
	emit(v, EV_CLOSE, 0, 0, now);
	bpf_map_delete_elem(&conns, &key);
}

static __always_inline int handle_state(struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u64 key = (__u64)sk, now = bpf_ktime_get_ns();
	if (newstate == TCP_LISTEN) {
		on_listen(sk);
	} else if (oldstate == TCP_LISTEN) {
		if (newstate == TCP_CLOSE)
			on_unlisten(sk);
		/* LISTEN -> SYN_RECV: a child being cloned from the listener; tracked once established */
	} else if (newstate == TCP_SYN_SENT) {
		on_connect(sk, key, now);
	} else if (oldstate == TCP_SYN_SENT) {
		if (newstate == TCP_ESTABLISHED)
			on_connected(sk, key, now);
		else if (newstate == TCP_CLOSE)
			on_connect_failed(sk, key, now);
	} else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		on_accepted_established(sk, key, now);
	} else if (newstate == TCP_CLOSE) {
		if (oldstate != TCP_SYN_RECV)
			on_closed(sk, key, now);
	} else {
		struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
		if (v)
			v->id.state = newstate;
	}
	return 0;
}

/* Set while a lifecycle program runs on this CPU. The kernel does not re-enter a tracing program
 * on the CPU it is running on: a state change in a softirq that interrupts it (a packet arriving on
 * loopback, say) is skipped and counted in the program's recursion_misses. The companion program
 * below, attached to the same tracepoint, handles exactly those. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} state_busy SEC(".maps");

static __always_inline int handle_state_marked(struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	__u32 *busy = bpf_map_lookup_elem(&state_busy, &zero);
	if (busy)
		*busy = 1;
	handle_state(sk, oldstate, newstate);
	if (busy)
		*busy = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_btf, struct sock *sk, int oldstate, int newstate)
{
	return handle_state_marked(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_raw, struct sock *sk, int oldstate, int newstate)
{
	return handle_state_marked(sk, oldstate, newstate);
}

/* The companion: runs for every state change, acts only when the lifecycle program is mid-run on
 * this CPU, i.e. when the kernel is skipping it for this nested change. */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_nested, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	__u32 *busy = bpf_map_lookup_elem(&state_busy, &zero);
	if (!busy || !*busy)
		return 0;
	count_drop(COUNT_NESTED_HANDLED);
	return handle_state(sk, oldstate, newstate);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return handle_state_marked((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

/* ---- snapshots ---- */

/* First sight of an established connection that is not tracked. */
static __always_inline int track_untracked(struct sock *sk, __u64 key)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&last_untracked, &zero);
	if (last && *last == key)
		return 0;
	struct conn_value v = {};
	__u64 now = bpf_ktime_get_ns();
	describe_untracked(sk, &v, key, now);
	v.id.state = TCP_ESTABLISHED;
	snapshot_probe(sk, &v.stats, now);
	if (bpf_map_update_elem(&conns, &key, &v, BPF_NOEXIST) == -E2BIG) {
		count_drop(DROP_CONN_MAP_FULL);
		if (last)
			*last = key;
	}
	return 0;
}

/* Hot path (each segment received on an established socket): update in place, direct loads. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe_btf, struct sock *sk, struct sk_buff *skb)
{
	__u64 key = (__u64)sk;
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (!v)
		return track_untracked(sk, key);
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	struct conn_stats *st = &v->stats;
	__u64 received = tp->bytes_received;
	if (received && (tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		received -= 1;
	if (bpf_core_field_exists(tp->bytes_sent))
		st->bytes_sent = tp->bytes_sent - tp->bytes_retrans;
	else
		st->bytes_sent = tp->bytes_acked;
	st->bytes_received = received;
	st->segs_out = tp->segs_out;
	st->segs_in = tp->segs_in;
	st->retrans = tp->total_retrans;
	st->srtt_us = tp->srtt_us >> 3;
	st->last_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int snapshot_any(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (!v)
		return track_untracked(sk, key);
	snapshot_probe(sk, &v->stats, bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/tcp_probe")
int BPF_PROG(tcp_probe_raw, struct sock *sk, struct sk_buff *skb)
{
	return snapshot_any(sk);
}

SEC("tracepoint/tcp/tcp_probe")
int tcp_probe_tp(struct trace_event_raw_tcp_probe *ctx)
{
	if (!bpf_core_field_exists(ctx->skaddr))
		return 0; /* kernels whose tcp_probe lacks the socket: the agent uses sockops */
	return snapshot_any((struct sock *)BPF_CORE_READ(ctx, skaddr));
}

/* Stable-UAPI fallback: sockops on the cgroup v2 root, RTT and state callbacks. */
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
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (!v)
		return 1;
	struct conn_stats *st = &v->stats;
	st->bytes_sent = skops->bytes_acked;
	st->bytes_received = skops->bytes_received;
	st->segs_out = skops->segs_out;
	st->segs_in = skops->segs_in;
	st->retrans = skops->total_retrans;
	st->srtt_us = skops->srtt_us >> 3;
	st->last_ns = bpf_ktime_get_ns();
	return 1;
}

/* ---- owners of accepted sockets ---- */

/* Layout of syscalls:sys_exit_* tracepoints (stable ABI). */
struct syscall_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

static __always_inline int on_accept(__s64 fd)
{
	if (fd < 0)
		return 0;
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
	__u64 key = (__u64)sk, now = bpf_ktime_get_ns();
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (v && v->id.role != ROLE_SERVER)
		v = NULL; /* stale: an accepted socket is a server socket (see on_accepted_established) */
	if (!v) {
		/* accept() returned before the establishment was traced: start tracking here */
		struct conn_value nv = {};
		nv.id.sk = key;
		nv.id.start_ns = now;
		nv.id.role = ROLE_SERVER;
		nv.id.state = TCP_ESTABLISHED;
		read_addrs(sk, &nv.id);
		nv.id.sock_ino = sock_inode(sk);
		snapshot_probe(sk, &nv.stats, now);
		if (bpf_map_update_elem(&conns, &key, &nv, BPF_ANY)) {
			count_drop(DROP_CONN_MAP_FULL);
			return 0;
		}
		v = bpf_map_lookup_elem(&conns, &key);
		if (!v)
			return 0;
	}
	if (v->id.role != ROLE_SERVER)
		return 0;
	owner_from_current(&v->id);
	v->id.cgroup_id = bpf_get_current_cgroup_id();
	v->id.flags = (v->id.flags & ~(CONN_F_OWNER_LISTENER | CONN_F_OWNER_UNKNOWN)) | CONN_F_ACCEPTED;
	if (!(v->id.flags & CONN_F_OPEN_EMITTED)) {
		v->id.flags |= CONN_F_OPEN_EMITTED;
		emit(v, EV_OPEN, 0, 0, now);
	}
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

SEC("tracepoint/tcp/tcp_receive_reset")
int rst_received(struct trace_event_raw_tcp_event_sk *ctx)
{
	__u64 key = (__u64)BPF_CORE_READ(ctx, skaddr);
	struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
	if (v)
		__sync_fetch_and_add(&v->stats.resets_received, 1);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int rst_sent(struct trace_event_raw_tcp_send_reset *ctx)
{
	__u64 key = (__u64)BPF_CORE_READ(ctx, skaddr);
	if (key) {
		struct conn_value *v = bpf_map_lookup_elem(&conns, &key);
		if (v) {
			__sync_fetch_and_add(&v->stats.resets_sent, 1);
			return 0;
		}
	}
	/* No tracked socket (a closed port, a time-wait or request socket): count by local port and peer.
	 * Since Linux 6.10 saddr/daddr are sockaddrs, local first; older kernels lack them here. */
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
	__u64 one = 1, *n = bpf_map_lookup_elem(&orphan_resets, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&orphan_resets, &k, &one, BPF_NOEXIST))
		count_drop(DROP_RESET_MAP_FULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
