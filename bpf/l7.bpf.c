// Requests, not just connections: HTTP/1.x and HTTP/2 (gRPC) per connection, TLS included, without
// kprobes.
//
// Data: syscall exit tracepoints (read/write, readv/writev, sendto/recvfrom, sendmsg/recvmsg; sendfile
// counted without content), the file descriptor resolved to its TCP socket through the task's file
// table. TLS: uprobes on OpenSSL's SSL_read/SSL_write and their _ex forms; the socket of an SSL
// object is the one its own reads and writes go to (a syscall nested in the SSL call), or, for
// memory BIOs (Node.js), the TLS socket the same thread read just before SSL_read / writes right
// after SSL_write. Processes are announced as they exec and exit, for the agent to attach the
// uprobes to the OpenSSL they map.
//
// Privacy: HTTP/1 heads are parsed here; only the method, the path up to the first '?', ' ' or '#',
// the status and timestamps are sent. Of HTTP/2, HEADERS/CONTINUATION payloads (HPACK) are sent,
// never DATA. Each read or write is examined in its first L7_WINDOW bytes; a frame's payload in its
// first L7_H2_CAPTURE.
//
// Timing: a response ends with its body, known from Content-Length (sendfile counted), the chunked
// terminator, no body (HEAD, 1xx, 204, 304), or the connection's close; a request is matched to its
// response by order on its connection (keep-alive and pipelining), which the agent does.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "compat.bpf.h"
#include "ringbuf.bpf.h"
#include "btf_export.bpf.h"
#include "l7.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define SOCK_STREAM 1
#define L7_MAX_IOV 8
#define L7_MAX_MSGS 4	/* HTTP/1 heads per read/write (pipelining) */
#define L7_MAX_FRAMES 16 /* HTTP/2 frames per read/write */
#define L7_CLASSIFY_TRIES 32 /* reads/writes before a connection counts as not HTTP (seen mid-body: a long response) */
#define TLS_LAST_MAX_AGE_NS (20 * 1000 * 1000ULL)

/* Settings before load. */
const volatile __u32 targ_self_tgid = 0; /* the agent itself: never traced */
const volatile __u8 default_on = 1;	 /* connections of cgroups not in l7_cgroups */
const volatile __u8 cgroup_first = 0;	 /* some cgroup is off: a process's cgroup is checked before its descriptor is resolved */
const volatile __u8 aggregate = 0;	 /* HTTP/1 exchanges counted in l7_agg (no per-exchange records asked for) */

/* Connections numbered as they are first seen (l7_agg's keys name them: socket addresses are reused). */
__u64 next_conn_id = 0;

enum l7_proto {
	P_UNKNOWN = 0,
	P_HTTP1 = 1,
	P_HTTP2 = 2,
	P_OTHER = 3, /* not HTTP: ignored from now on */
	P_OFF = 4,   /* switched off for its workload */
};

enum body_state {
	B_NONE = 0,
	B_LENGTH = 1,  /* body_left bytes to come */
	B_CHUNKED = 2, /* until the zero-length chunk */
	B_CLOSE = 3,   /* until the connection closes */
};

struct l7_dir_state {
	__u64 body_left;
	__u64 head_ns; /* the pending response's status line */
	__u64 last_ns; /* the last data in this direction */
	__u32 seq;     /* messages in this direction */
	__u32 frame_left; /* HTTP/2: payload bytes of the current frame still to come */
	__u16 status;  /* the pending response's status (0: none pending) */
	__u8 body;     /* enum body_state */
	__u8 pending_flags;
	__u8 hdr_have; /* HTTP/2: bytes of a frame header split across reads/writes */
	__u8 hdr[9];
	__u8 preface_left; /* HTTP/2 client preface bytes still to skip */
	__u8 pad[3];
};

/* The latest HTTP/1 request of a connection, held until its response ends: both go in one record. */
struct l7_held_request {
	__u64 ts_ns;
	__u32 seq;
	__u8 held; /* 1: a request is held */
	__u8 dir;
	__u8 method;
	__u8 flags;
	__u16 path_len;
	__u8 pad[6];
	char path[L7_PATH_MAX];
};

struct l7_conn {
	__u8 proto;	/* enum l7_proto */
	__u8 tls;	/* plaintext comes from OpenSSL; the syscalls carry ciphertext */
	__u8 tries;	/* reads/writes that did not look like anything yet */
	__u8 announced;	/* its L7_REC_CONN was sent: its exchanges can be counted in l7_agg */
	__u8 pad[4];
	__u64 head_bits; /* bit (request seq % 64): that request was HEAD (its response has no body) */
	__u64 id;	 /* next_conn_id when it was first seen */
	struct l7_dir_state d[2];
	struct l7_held_request req;
	struct l7_conn_info info;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct l7_conn);
} l7_conns SEC(".maps");

/* Per-cgroup switch (1 on, 2 off); other cgroups follow default_on. Decided as a connection is first seen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} l7_cgroups SEC(".maps");

enum src_kind {
	SRC_FLAT = 0,
	SRC_IOV = 1,
	SRC_NONE = 2, /* sendfile: counted, no content */
	SRC_KERNEL = 3, /* a copy in a map (a deferred SSL_write): `avail` bytes of it */
};

/* The thread's latest SSL call. An SSL_read is in flight from its entry probe to its return probe;
 * an SSL_write has no return probe (a return trap costs 0.7-2 µs): its plaintext is taken at entry
 * when its socket is known, and it stays the thread's latest call until the next one. */
struct ssl_call {
	__u64 ssl;	  /* 0: no SSL_read in flight and no SSL_write to follow */
	__u64 buf;
	__u64 ex_len_ptr; /* _ex forms: where the byte count is written */
	__u64 sk;	  /* the socket: from the SSL object's binding at entry, or a nested syscall */
	__u64 num;	  /* SSL_write: bytes asked to be written */
	__s32 fd;	  /* the socket's descriptor (-1: not known) */
	__u8 write;	  /* an SSL_write */
	__u8 done;	  /* SSL_write: its plaintext was taken (or it is the retry of one that was) */
	__u8 bound;	  /* sk came from the binding: not bound again */
	__u8 pad;
};

/* Per thread, freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/* SSL object (of a process: addresses repeat across processes running the same program) -> socket,
 * as last learned. */
struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct ssl_bind {
	__u64 sk;
	__u64 retry_num; /* with retry: the size of an SSL_write taken whose socket write would block */
	__s32 fd;	 /* the socket's descriptor in that process (-1: not known, memory BIOs) */
	__u8 retry;	 /* the next SSL_write of this size is that call again (SSL_ERROR_WANT_WRITE), not new data */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, struct ssl_bind);
} ssl_socks SEC(".maps");

/* The TLS socket a thread last read or wrote (memory BIOs: the SSL call comes before or after). */
struct tls_last {
	__u64 sk;
	__u64 ts_ns;
	__u8 dir;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tls_last);
} tls_last SEC(".maps");

/* An SSL_write whose socket was not known yet (memory BIO): processed at the thread's next TLS write,
 * from a copy of its first bytes (the application may reuse its buffer as soon as the call returns). */
#define L7_TLS_STASH 1024
struct tls_pending {
	__u64 ssl;
	__u64 ts_ns;
	__u32 len;
	__u32 copied;
	__u8 data[L7_TLS_STASH];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct tls_pending);
} tls_pending SEC(".maps");

struct tls_pending tls_pending_zero = {}; /* never written */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct l7_agg_key);
	__type(value, struct l7_agg_value);
} l7_agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} l7_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, L7_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} l7_counters SEC(".maps");

/* State of the head scan (bpf_loop callback, SCAN_WORDS words a step). Kept in the per-CPU scratch, not
 * on the stack: the verifier does not track map memory, so the callback is verified once instead
 * of once per iteration. */
struct head_scan {
	__u32 pos;	 /* next word */
	__u32 end;	 /* bytes in the window */
	__u32 head_end;	 /* offset just past the empty line (0: not found yet) */
	__u32 pad;
	__u64 content_length;
	__u8 has_cl;
	__u8 chunked;
	__u8 pad2[6];
};

/* Per-CPU scratch: the examined window of a message, and an HTTP/2 record being built. */
struct scratch {
	__u8 win[4 * L7_WINDOW]; /* room past the window: the verifier bounds offset and length separately */
	struct head_scan hs;
	struct l7_h2_frame frame;
	__u8 frame_slack[2 * L7_H2_CAPTURE]; /* read_at writes into frame.payload: same reason */
	struct l7_agg_key agg_key;
	struct l7_agg_value agg_zero; /* never written: a new l7_agg entry's value */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} l7_scratch SEC(".maps");

FLOWSCOPE_EXPORT_TYPE(struct l7_request, l7_request);
FLOWSCOPE_EXPORT_TYPE(struct l7_response, l7_response);
FLOWSCOPE_EXPORT_TYPE(struct l7_h2_frame, l7_h2_frame);
FLOWSCOPE_EXPORT_TYPE(struct l7_exchange, l7_exchange);
FLOWSCOPE_EXPORT_TYPE(struct l7_close, l7_close);
FLOWSCOPE_EXPORT_TYPE(struct l7_conn_rec, l7_conn_rec);
FLOWSCOPE_EXPORT_TYPE(struct l7_agg_key, l7_agg_key);
FLOWSCOPE_EXPORT_TYPE(struct l7_agg_value, l7_agg_value);
FLOWSCOPE_EXPORT_TYPE(struct l7_proc, l7_proc);
FLOWSCOPE_EXPORT_TYPE(enum l7_record_type, l7_record_type);
FLOWSCOPE_EXPORT_TYPE(enum l7_direction, l7_direction);
FLOWSCOPE_EXPORT_TYPE(enum l7_method, l7_method);
FLOWSCOPE_EXPORT_TYPE(enum l7_flags, l7_flags);
FLOWSCOPE_EXPORT_TYPE(enum l7_frame_type, l7_frame_type);
FLOWSCOPE_EXPORT_TYPE(enum l7_counter, l7_counter);

static __always_inline void count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&l7_counters, &what);
	if (n)
		*n += 1;
}

static __always_inline struct scratch *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&l7_scratch, &zero);
}

/* ---- sockets ---- */

/* bpf_rdonly_cast (Linux 6.2): a kernel address as a typed pointer, read with direct loads (a few ns)
 * instead of one probe-read helper call per field (30-40 ns each). Weak: older kernels take the
 * probe-read path. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

static __always_inline bool tcp_stream(__u16 protocol, __u16 type, __u16 family)
{
	return protocol == IPPROTO_TCP && type == SOCK_STREAM && (family == AF_INET || family == AF_INET6);
}

/* The TCP socket behind a file descriptor of the current process, or NULL. */
static __always_inline struct sock *fd_tcp_sock(__u64 fd)
{
	if (bpf_rdonly_cast) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct files_struct *files = task->files;
		if (!files)
			return NULL;
		struct fdtable *fdt = files->fdt;
		if (!fdt || fd >= fdt->max_fds)
			return NULL;
		struct file *fp = NULL;
		if (bpf_probe_read_kernel(&fp, sizeof(fp), &fdt->fd[fd]) || !fp)
			return NULL;
		struct file *f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
		if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
			return NULL;
		struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
		struct sock *sk = sock->sk;
		if (!sk || !tcp_stream(sk->sk_protocol, sk->sk_type, sk->__sk_common.skc_family))
			return NULL;
		return sk;
	}
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || !tcp_stream(BPF_CORE_READ(sk, sk_protocol), BPF_CORE_READ(sk, sk_type), BPF_CORE_READ(sk, __sk_common.skc_family)))
		return NULL;
	return sk;
}

static __always_inline void describe(struct sock *sk, struct l7_conn_info *id)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	id->sk = (__u64)sk;
	id->pid = bpf_get_current_pid_tgid() >> 32;
	id->cgroup_id = bpf_get_current_cgroup_id();
	BPF_CORE_READ_STR_INTO(&id->comm, task, group_leader, comm);
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

/* The connection's state, made at first sight (switched off there for workloads that are off). */
static __always_inline struct l7_conn *conn_of(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct l7_conn *c = bpf_map_lookup_elem(&l7_conns, &key);
	if (c)
		return c;
	struct scratch *s = scratch();
	if (!s)
		return NULL;
	/* Built in the scratch's frame area: struct l7_conn is too large for the stack with the rest. */
	struct l7_conn *n = (void *)&s->frame;
	__builtin_memset(n, 0, sizeof(*n));
	n->id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
	describe(sk, &n->info);
	__u8 *sw = bpf_map_lookup_elem(&l7_cgroups, &n->info.cgroup_id);
	if (sw ? *sw != 1 : !default_on)
		n->proto = P_OFF;
	if (bpf_map_update_elem(&l7_conns, &key, n, BPF_NOEXIST) && bpf_map_lookup_elem(&l7_conns, &key) == NULL) {
		count(L7_C_CONN_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&l7_conns, &key);
}

/* ---- reading what the process read or wrote ---- */

/* One read or write (or SSL call) being examined. */
struct data {
	__u64 buf;     /* flat buffer, or struct iovec array */
	__u64 total;   /* bytes read or written */
	__u64 now;
	__u64 prev_ns; /* the previous data in this direction */
	__u32 iovcnt;
	__u32 w;       /* bytes in the window */
	__u32 avail;   /* SRC_KERNEL: bytes of the copy */
	__u8 kind;     /* enum src_kind */
	__u8 dir;
	__u8 pad[2];
};

/* Bounds a value for the verifier with a mask the compiler cannot drop as redundant. */
#define MASK(v, m) asm volatile("%[x] &= " #m : [x] "+r"(v))

/* Copies up to L7_WINDOW bytes from the start of the data into win; returns how many. */
static __always_inline __u32 gather(const struct data *src, __u64 total, __u8 *win)
{
	__u32 want = total < L7_WINDOW ? total : L7_WINDOW;
	if (src->kind == SRC_KERNEL && want > src->avail)
		want = src->avail;
	if (src->kind == SRC_FLAT || src->kind == SRC_KERNEL) {
		__u32 n = want;
		MASK(n, 1023);
		long err = src->kind == SRC_FLAT ? bpf_probe_read_user(win, n, (void *)src->buf) : bpf_probe_read_kernel(win, n, (void *)src->buf);
		return err ? 0 : want;
	}
	__u32 got = 0;
	for (int i = 0; i < L7_MAX_IOV; i++) {
		if (i >= src->iovcnt || got >= want)
			break;
		struct iovec iov;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(src->buf + i * sizeof(struct iovec))))
			break;
		__u64 n = iov.iov_len;
		if (n > want - got)
			n = want - got;
		__u32 off = got;
		MASK(off, 511);
		MASK(n, 1023);
		if (n && bpf_probe_read_user(&win[off], n, iov.iov_base))
			break;
		got += n;
	}
	return got;
}

/* Copies `n` (<= L7_H2_CAPTURE) bytes at logical offset `at` of the data into the scratch's
 * frame.payload; returns how many. Global: verified once. */
__noinline __u32 read_at(const struct data *src, __u64 at, __u32 n)
{
	struct scratch *s = scratch();
	if (!s || !src)
		return 0;
	__u8 *to = s->frame.payload;
	if (n > L7_H2_CAPTURE)
		n = L7_H2_CAPTURE;
	if (src->kind == SRC_FLAT) {
		__u32 k = n;
		MASK(k, 2047);
		return bpf_probe_read_user(to, k, (void *)(src->buf + at)) ? 0 : n;
	}
	if (src->kind == SRC_KERNEL) {
		if (at >= src->avail)
			return 0;
		if (n > src->avail - at)
			n = src->avail - at;
		__u32 k = n;
		MASK(k, 2047);
		return bpf_probe_read_kernel(to, k, (void *)(src->buf + at)) ? 0 : n;
	}
	__u64 base = 0;
	__u32 got = 0;
	for (int i = 0; i < L7_MAX_IOV; i++) {
		if (i >= src->iovcnt || got >= n)
			break;
		struct iovec iov;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(src->buf + i * sizeof(struct iovec))))
			break;
		__u64 end = base + iov.iov_len;
		__u64 from = at + got;
		if (from < end && from >= base) {
			__u64 k = end - from;
			if (k > n - got)
				k = n - got;
			__u32 off = got;
			MASK(off, 1023);
			MASK(k, 2047);
			if (bpf_probe_read_user(&to[off], k, iov.iov_base + (from - base)))
				break;
			got += k;
		}
		base = end;
	}
	return got;
}

/* Whether the data ends with the zero-length chunk "0\r\n\r\n" (chunked body complete). */
static __always_inline bool ends_last_chunk(const struct data *src, __u64 total)
{
	struct scratch *s = scratch();
	if (!s || total < 5 || read_at(src, total - 5, 5) != 5)
		return false;
	const __u8 *tail = s->frame.payload;
	return tail[0] == '0' && tail[1] == '\r' && tail[2] == '\n' && tail[3] == '\r' && tail[4] == '\n';
}

/* ---- records ---- */

/* Sends the connection's held request by itself (another request came first, or the connection
 * closes before its response). */
static __always_inline void send_held(struct l7_conn *c)
{
	struct l7_held_request *h = &c->req;
	if (!h->held)
		return;
	h->held = 0;
	__u32 plen = h->path_len;
	if (plen > L7_PATH_MAX)
		plen = L7_PATH_MAX;
	struct l7_request *r = bpf_ringbuf_reserve(&l7_events, sizeof(*r), 0);
	if (!r) {
		count(L7_C_RINGBUF_FULL);
		return;
	}
	r->type = L7_REC_REQUEST;
	r->dir = h->dir;
	r->method = h->method;
	r->flags = h->flags;
	r->path_len = plen;
	r->pad = 0;
	r->seq = h->seq;
	r->pad2 = 0;
	r->ts_ns = h->ts_ns;
	__builtin_memcpy(&r->conn, &c->info, sizeof(r->conn));
	__builtin_memcpy(r->path, h->path, L7_PATH_MAX);
	bpf_ringbuf_submit(r, flowscope_rb_flags(&l7_events));
}

/* REQUEST_BUCKETS (src/model/requests.ts) in ns: bucket i counts durations <= agg_bound(i). */
static __always_inline __u32 agg_bucket(__u64 ns)
{
	const __u64 bounds[L7_AGG_BUCKETS] = {250000ULL,   500000ULL,   1000000ULL,   2500000ULL,	 5000000ULL,
					      10000000ULL, 25000000ULL, 50000000ULL, 100000000ULL, 250000000ULL,
					      500000000ULL, 1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL};
	__u32 i = 0;
#pragma unroll
	for (int k = 0; k < L7_AGG_BUCKETS; k++)
		i += ns > bounds[k];
	return i;
}

/* Counts the held request and its response in l7_agg; false when the exchange must go as a record
 * (the connection could not be announced, or the map is full). Global: verified once. */
__noinline bool agg_exchange(struct l7_conn *c, __u16 status, __u8 resp_flags, __u64 end_ns)
{
	struct scratch *s = scratch();
	if (!c || !s)
		return false;
	struct l7_held_request *h = &c->req;
	if (!c->announced) {
		struct l7_conn_rec *r = bpf_ringbuf_reserve(&l7_events, sizeof(*r), 0);
		if (!r)
			return false;
		__builtin_memset(r, 0, 16);
		r->type = L7_REC_CONN;
		r->conn_id = c->id;
		__builtin_memcpy(&r->conn, &c->info, sizeof(r->conn));
		bpf_ringbuf_submit(r, flowscope_rb_flags(&l7_events));
		c->announced = 1;
	}
	struct l7_agg_key *k = &s->agg_key;
	__builtin_memset(k, 0, sizeof(*k));
	k->conn_id = c->id;
	k->dir = h->dir;
	k->method = h->method;
	k->flags = (h->flags & (L7_F_TLS | L7_F_PATH_TRUNCATED)) | (resp_flags & L7_F_TLS);
	k->status = status;
	__u32 plen = h->path_len;
	if (plen > L7_PATH_MAX)
		plen = L7_PATH_MAX;
	k->path_len = plen;
	if (plen && bpf_probe_read_kernel(k->path, plen, h->path))
		return false;
	struct l7_agg_value *v = bpf_map_lookup_elem(&l7_agg, k);
	if (!v) {
		bpf_map_update_elem(&l7_agg, k, &s->agg_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&l7_agg, k);
		if (!v) {
			count(L7_C_AGG_FULL);
			return false;
		}
	}
	__u64 ns = end_ns > h->ts_ns ? end_ns - h->ts_ns : 0;
	__u32 b = agg_bucket(ns);
	if (b > L7_AGG_BUCKETS)
		b = L7_AGG_BUCKETS;
	__sync_fetch_and_add(&v->buckets[b], 1);
	__sync_fetch_and_add(&v->sum_ns, ns);
	__sync_fetch_and_add(&v->count, 1);
	return true;
}

/* Ends the message in direction `dir`: a pending response is sent, ending at `end_ns`, in one record
 * with its request when that is held. */
static __always_inline void finish(struct l7_conn *c, __u8 dir, __u64 end_ns, __u8 extra)
{
	struct l7_dir_state *d = &c->d[dir & 1];
	if (d->status) {
		__u32 seq = d->seq - 1;
		__u8 flags = d->pending_flags | extra | (c->tls ? L7_F_TLS : 0);
		struct l7_held_request *h = &c->req;
		if (h->held && h->dir == (dir ^ 1) && h->seq == seq) {
			h->held = 0;
			struct l7_exchange *x = NULL;
			if (aggregate && agg_exchange(c, d->status, flags, end_ns))
				; /* counted */
			else if (!(x = bpf_ringbuf_reserve(&l7_events, sizeof(*x), 0))) {
				count(L7_C_RINGBUF_FULL);
			} else {
				x->type = L7_REC_EXCHANGE;
				x->dir = h->dir;
				x->method = h->method;
				x->req_flags = h->flags;
				x->path_len = h->path_len;
				x->status = d->status;
				x->seq = seq;
				x->resp_flags = flags;
				x->pad[0] = x->pad[1] = x->pad[2] = 0;
				x->req_ns = h->ts_ns;
				x->head_ns = d->head_ns;
				x->end_ns = end_ns;
				__builtin_memcpy(&x->conn, &c->info, sizeof(x->conn));
				__builtin_memcpy(x->path, h->path, L7_PATH_MAX);
				bpf_ringbuf_submit(x, flowscope_rb_flags(&l7_events));
			}
		} else {
			if (h->held && h->dir == (dir ^ 1) && h->seq < seq)
				send_held(c); /* an older request: the agent learns of it before this response */
			struct l7_response *r = bpf_ringbuf_reserve(&l7_events, sizeof(*r), 0);
			if (!r) {
				count(L7_C_RINGBUF_FULL);
			} else {
				r->type = L7_REC_RESPONSE;
				r->dir = dir;
				r->flags = flags;
				r->pad = 0;
				r->status = d->status;
				r->pad2 = 0;
				r->seq = seq;
				r->pad3 = 0;
				r->head_ns = d->head_ns;
				r->end_ns = end_ns;
				__builtin_memcpy(&r->conn, &c->info, sizeof(r->conn));
				bpf_ringbuf_submit(r, flowscope_rb_flags(&l7_events));
			}
		}
	}
	d->status = 0;
	d->pending_flags = 0;
	d->body = B_NONE;
	d->body_left = 0;
}

/* ---- HTTP/1 heads ---- */

/* Header names and values as little-endian words, lowercase (an OR with 0x20 lowercases letters and
 * leaves '-', ':' and digits as they are). */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define LOWER 0x2020202020202020ULL

/* Bytes of `v` that are zero: their high bit set (exact for the lowest one, and for every one in
 * practice: a false one needs a 0x01 right above a zero). */
static __always_inline __u64 zero_bytes(__u64 v)
{
	return (v - ONES) & ~v & HIGHS;
}

static __always_inline __u64 word_at(const __u8 *win, __u32 at)
{
	__u64 w;
	__builtin_memcpy(&w, &win[at & (2 * L7_WINDOW - 1)], 8);
	return w;
}

static __always_inline __u64 bytes8(const char *s)
{
	__u64 w = 0;
#pragma unroll
	for (int i = 0; i < 8 && s[i]; i++)
		w |= (__u64)(__u8)s[i] << (8 * i);
	return w;
}

/* A header line at `ls`: the empty line ending the head, Content-Length or Transfer-Encoding.
 * Returns 1 at the end of the head. Global: verified once. */
__noinline int header_line(struct scratch *sc, __u32 ls)
{
	if (!sc)
		return 1;
	const __u8 *win = sc->win;
	struct head_scan *s = &sc->hs;
	if (ls >= s->end)
		return 0;
	__u64 a = word_at(win, ls);
	if ((a & 0xffff) == 0x0a0d || (a & 0xff) == 0x0a) {
		s->head_end = ls + ((a & 0xff) == 0x0a ? 1 : 2);
		return 1;
	}
	if (ls + 18 > s->end)
		return 0;
	__u64 la = a | LOWER;
	__u64 lb = word_at(win, ls + 8) | LOWER;
	if (la == bytes8("content-") && (lb & 0x00ffffffffffffffULL) == bytes8("length:")) {
		__u64 v = word_at(win, ls + 15), n = 0;
		bool digits = false;
#pragma unroll
		for (int i = 0; i < 8; i++) {
			__u8 c = v >> (8 * i);
			if (c >= '0' && c <= '9') {
				n = n * 10 + (c - '0');
				digits = true;
			} else if (digits || (c != ' ' && c != '\t')) {
				break;
			}
		}
		if (digits) {
			s->content_length = n;
			s->has_cl = 1;
		}
	} else if (la == bytes8("transfer") && lb == bytes8("-encodin") && ((word_at(win, ls + 16) | LOWER) & 0xffff) == (bytes8("g:") & 0xffff)) {
		/* the value: "chunked" (last, as required), after up to two spaces */
		__u64 v = word_at(win, ls + 18);
		if ((v & 0xff) == ' ')
			v = word_at(win, ls + 19);
		if ((v & 0xff) == ' ')
			v = word_at(win, ls + 20);
		if (((v | LOWER) & 0x00ffffffffffffffULL) == bytes8("chunked"))
			s->chunked = 1;
	}
	return 0;
}

struct scan_ctx {
	struct scratch *s;
};

#define SCAN_WORDS 4 /* words a step: fewer steps of the loop (its call and checks cost more than a word's test) */

/* SCAN_WORDS * 8 bytes of the head: each newline starts a line to look at. */
static long scan_word(__u64 i, struct scan_ctx *ctx)
{
	struct scratch *sc = ctx->s;
	if (!sc)
		return 1;
	struct head_scan *s = &sc->hs;
	__u32 p0 = s->pos;
	s->pos = p0 + 8 * SCAN_WORDS;
#pragma unroll
	for (int k = 0; k < SCAN_WORDS; k++) {
		__u32 p = p0 + 8 * k;
		if (p >= s->end || p >= L7_WINDOW)
			return 1;
		__u64 nl = zero_bytes(word_at(sc->win, p) ^ 0x0a0a0a0a0a0a0a0aULL);
		if (!nl)
			continue;
#pragma unroll
		for (int j = 0; j < 8; j++) {
			if ((nl >> (8 * j + 7)) & 1) {
				if (header_line(sc, p + j + 1))
					return 1;
			}
		}
	}
	return 0;
}

/* Where the path that starts at `from` ends: the first ' ', '?', '#', '\r' or '\n' (the query string
 * and what follows are never read further); `limit` when none is before it. Global: verified once. */
__noinline __u32 path_end_of(struct scratch *sc, __u32 from, __u32 limit)
{
	if (!sc)
		return limit;
	const __u8 *win = sc->win;
#pragma unroll
	for (int k = 0; k < (L7_PATH_MAX + 8) / 8; k++) {
		__u32 p = from + 8 * k;
		if (p >= limit)
			return limit;
		__u64 w = word_at(win, p);
		__u64 hit = zero_bytes(w ^ 0x2020202020202020ULL) | zero_bytes(w ^ 0x3f3f3f3f3f3f3f3fULL) | zero_bytes(w ^ 0x2323232323232323ULL) |
			    zero_bytes(w ^ 0x0d0d0d0d0d0d0d0dULL) | zero_bytes(w ^ 0x0a0a0a0a0a0a0a0aULL);
		if (hit) {
#pragma unroll
			for (int j = 0; j < 8; j++)
				if ((hit >> (8 * j + 7)) & 1)
					return p + j < limit ? p + j : limit;
		}
	}
	return limit;
}

/* The method at the start of a request line, and its length with the space; 0 when not a request. */
static __always_inline __u8 method_of(const __u8 *b, __u32 *len)
{
	switch (b[0]) {
	case 'G':
		if (b[1] == 'E' && b[2] == 'T' && b[3] == ' ') { *len = 4; return L7_M_GET; }
		break;
	case 'H':
		if (b[1] == 'E' && b[2] == 'A' && b[3] == 'D' && b[4] == ' ') { *len = 5; return L7_M_HEAD; }
		break;
	case 'P':
		if (b[1] == 'O' && b[2] == 'S' && b[3] == 'T' && b[4] == ' ') { *len = 5; return L7_M_POST; }
		if (b[1] == 'U' && b[2] == 'T' && b[3] == ' ') { *len = 4; return L7_M_PUT; }
		if (b[1] == 'A' && b[2] == 'T' && b[3] == 'C' && b[4] == 'H' && b[5] == ' ') { *len = 6; return L7_M_PATCH; }
		break;
	case 'D':
		if (b[1] == 'E' && b[2] == 'L' && b[3] == 'E' && b[4] == 'T' && b[5] == 'E' && b[6] == ' ') { *len = 7; return L7_M_DELETE; }
		break;
	case 'O':
		if (b[1] == 'P' && b[2] == 'T' && b[3] == 'I' && b[4] == 'O' && b[5] == 'N' && b[6] == 'S' && b[7] == ' ') { *len = 8; return L7_M_OPTIONS; }
		break;
	case 'C':
		if (b[1] == 'O' && b[2] == 'N' && b[3] == 'N' && b[4] == 'E' && b[5] == 'C' && b[6] == 'T' && b[7] == ' ') { *len = 8; return L7_M_CONNECT; }
		break;
	case 'T':
		if (b[1] == 'R' && b[2] == 'A' && b[3] == 'C' && b[4] == 'E' && b[5] == ' ') { *len = 6; return L7_M_TRACE; }
		break;
	}
	return 0;
}

static __always_inline bool is_status_line(const __u8 *b)
{
	return b[0] == 'H' && b[1] == 'T' && b[2] == 'T' && b[3] == 'P' && b[4] == '/' && b[5] == '1' && b[6] == '.' && b[8] == ' ' &&
	       b[9] >= '1' && b[9] <= '5' && b[10] >= '0' && b[10] <= '9' && b[11] >= '0' && b[11] <= '9';
}

static __always_inline bool is_h2_preface(const __u8 *b)
{
	return b[0] == 'P' && b[1] == 'R' && b[2] == 'I' && b[3] == ' ' && b[4] == '*' && b[5] == ' ' && b[6] == 'H' && b[7] == 'T' &&
	       b[8] == 'T' && b[9] == 'P' && b[10] == '/' && b[11] == '2';
}

static __always_inline bool is_tls_record(const __u8 *b)
{
	/* handshake, change cipher spec, alert or application data; TLS 1.0-1.3 record version */
	return b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03 && b[2] <= 0x04;
}

/* Holds a request head whose method and path are in the window (sent with its response, or alone
 * when the connection's previous request is still held). */
static __always_inline void hold_request(struct l7_conn *c, struct scratch *s, __u8 dir, __u8 method, __u32 path_start,
					 __u32 path_end, bool path_cut, __u64 now)
{
	send_held(c);
	struct l7_held_request *h = &c->req;
	__u32 plen = path_end > path_start ? path_end - path_start : 0;
	__u8 flags = c->tls ? L7_F_TLS : 0;
	if (plen > L7_PATH_MAX) {
		plen = L7_PATH_MAX;
		flags |= L7_F_PATH_TRUNCATED;
	}
	if (path_cut)
		flags |= L7_F_PATH_TRUNCATED;
	h->dir = dir;
	h->method = method;
	h->flags = flags;
	h->seq = c->d[dir & 1].seq;
	h->ts_ns = now;
	__u32 from = path_start & (L7_WINDOW - 1);
	plen &= (L7_PATH_MAX * 2 - 1);
	if (plen > L7_PATH_MAX)
		plen = L7_PATH_MAX;
	if (plen && bpf_probe_read_kernel(h->path, plen, &s->win[from]))
		plen = 0;
	h->path_len = plen;
	h->held = 1;
}

/* One HTTP/1 message head at offset `off` of the window: sent, and its body's framing followed.
 * Returns the offset of the next message in this read or write, or -1 when there is none to parse
 * here. Global (not inlined): verified once, whatever calls it. */
__noinline __s64 http1_message(struct l7_conn *c, const struct data *dt, __u64 off)
{
	if (!c || !dt)
		return -1;
	__u8 dir = dt->dir & 1;
	struct l7_dir_state *d = &c->d[dir];
	struct l7_dir_state *peer = &c->d[dir ^ 1];
	struct scratch *s = scratch();
	if (!s || off >= dt->total)
		return -1;
	if (off + 12 > dt->w) {
		count(L7_C_HEADS_BEYOND);
		return -1;
	}
	__u32 at = off & (L7_WINDOW - 1);
	__u8 *b = &s->win[at];
	__u32 mlen = 0;
	__u8 method = method_of(b, &mlen);
	if (!method && !is_status_line(b))
		return -1; /* not a message start: a body we lost track of, or data of another kind */
	count(L7_C_MESSAGES);
	struct head_scan *hp = &s->hs;
	__builtin_memset(hp, 0, sizeof(*hp));
	hp->end = dt->w;
	__u32 path_end = 0;
	bool cut = false;
	if (method) {
		__u32 limit = at + mlen + L7_PATH_MAX + 1;
		if (limit > dt->w)
			limit = dt->w;
		path_end = path_end_of(s, at + mlen, limit);
		cut = path_end == limit;
	}
	/* the first line's newline is found like the others: the scan starts at the message */
	hp->pos = at;
	struct scan_ctx sctx = {.s = s};
	bpf_loop(L7_WINDOW / (8 * SCAN_WORDS) + 1, scan_word, &sctx, 0);
	__u32 head_end = hp->head_end;
	__u64 body = 0;
	__u8 framing = B_NONE;
	if (method) {
		bool chunked = hp->chunked, has_cl = hp->has_cl;
		__u64 cl = hp->content_length;
		hold_request(c, s, dir, method, at + mlen, path_end, cut, dt->now);
		__u32 seq = d->seq;
		if (method == L7_M_HEAD)
			c->head_bits |= 1ULL << (seq & 63);
		else
			c->head_bits &= ~(1ULL << (seq & 63));
		d->seq = seq + 1;
		if (chunked) {
			framing = B_CHUNKED;
		} else if (has_cl) {
			body = cl;
			framing = B_LENGTH;
		}
	} else {
		__u16 status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		if (status < 200 && status != 101)
			return head_end ? head_end : -1; /* interim (100 Continue): the final response follows */
		if (d->status)
			finish(c, dir, dt->prev_ns, L7_F_SUPERSEDED);
		__u32 seq = d->seq;
		__u8 pflags = 0;
		if (seq >= peer->seq) {
			/* More responses than requests seen: tracing began mid-exchange. Realign. */
			pflags = L7_F_ORPHAN;
			seq = peer->seq ? peer->seq - 1 : 0;
		}
		bool no_body = status == 204 || status == 304 || status == 101 || (c->head_bits & (1ULL << (seq & 63)));
		d->seq = seq + 1;
		d->status = status;
		d->head_ns = dt->now;
		d->pending_flags = pflags;
		if (status == 101) {
			finish(c, dir, dt->now, 0);
			c->proto = P_OTHER; /* switched protocols */
			return -1;
		}
		if (no_body) {
			finish(c, dir, dt->now, 0);
		} else if (!head_end) {
			finish(c, dir, dt->now, L7_F_END_AT_HEAD);
			return -1;
		} else if (hp->chunked) {
			framing = B_CHUNKED;
		} else if (hp->has_cl) {
			body = hp->content_length;
			framing = B_LENGTH;
		} else {
			framing = B_CLOSE;
		}
	}
	if (!head_end)
		return -1; /* the head continues past the window: the next message starts in a later read or write */
	off = head_end;
	if (framing == B_CHUNKED) {
		if (ends_last_chunk(dt, dt->total))
			finish(c, dir, dt->now, 0);
		else
			d->body = B_CHUNKED;
		return -1; /* what follows a chunked body starts in a later read or write */
	}
	if (framing == B_CLOSE) {
		d->body = B_CLOSE;
		return -1;
	}
	if (body) {
		__u64 here = dt->total - off;
		if (body > here) {
			d->body = B_LENGTH;
			d->body_left = body - here;
			return -1;
		}
		off += body;
	}
	if (d->status)
		finish(c, dir, dt->now, 0);
	return off;
}

/* Follows the body of the message in progress, then parses the message heads that begin in this
 * read or write (several when pipelined). */
__noinline int http1_data(struct l7_conn *c, struct data *dt)
{
	if (!c || !dt)
		return 0;
	__u8 dir = dt->dir & 1;
	struct l7_dir_state *d = &c->d[dir];
	__u64 total = dt->total, off = 0;
	dt->prev_ns = d->last_ns;
	d->last_ns = dt->now;
	if (d->body == B_LENGTH) {
		if (d->body_left > total) {
			d->body_left -= total;
			return 0;
		}
		off = d->body_left;
		finish(c, dir, dt->now, 0);
		if (off >= total)
			return 0;
	} else if (d->body == B_CHUNKED) {
		if (ends_last_chunk(dt, total))
			finish(c, dir, dt->now, 0);
		return 0;
	} else if (d->body == B_CLOSE) {
		return 0;
	}
	if (dt->kind == SRC_NONE)
		return 0;
	struct scratch *s = scratch();
	if (!s)
		return 0;
	dt->w = gather(dt, total, s->win);
	for (int m = 0; m < L7_MAX_MSGS; m++) {
		__s64 next = http1_message(c, dt, off);
		if (next < 0)
			return 0;
		off = next;
	}
	if (off < total)
		count(L7_C_HEADS_BEYOND);
	return 0;
}

/* ---- HTTP/2 frames ---- */

#define H2_FLAG_END_STREAM 0x1

/* The frame whose 9-byte header is `h` and whose payload starts at `payload_at`: HEADERS and
 * CONTINUATION payloads, and stream ends, go to the agent. Returns the offset after the frame.
 * Global: verified once. */
struct h2_hdr {
	__u8 b[9];
};

__noinline __s64 h2_frame(struct l7_conn *c, const struct data *dt, const struct h2_hdr *hh, __u64 payload_at)
{
	if (!c || !dt || !hh)
		return -1;
	const __u8 *h = hh->b;
	struct scratch *s = scratch();
	if (!s)
		return -1;
	__u32 flen = (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
	__u8 ftype = h[3], fflags = h[4];
	bool headers = ftype == L7_H2_HEADERS || ftype == L7_H2_CONTINUATION;
	bool end = (ftype == L7_H2_DATA && (fflags & H2_FLAG_END_STREAM)) || ftype == L7_H2_RST_STREAM;
	if (!headers && !end)
		return payload_at + flen;
	struct l7_h2_frame *f = &s->frame;
	f->type = L7_REC_H2_FRAME;
	f->dir = dt->dir;
	f->frame_type = ftype;
	f->frame_flags = fflags;
	f->stream_id = ((__u32)h[5] & 0x7f) << 24 | (__u32)h[6] << 16 | (__u32)h[7] << 8 | h[8];
	f->frame_len = flen;
	f->flags = c->tls ? L7_F_TLS : 0;
	f->pad = 0;
	f->ts_ns = dt->now;
	__builtin_memcpy(&f->conn, &c->info, sizeof(f->conn));
	__u32 got = 0;
	if (headers) {
		__u64 avail = dt->total > payload_at ? dt->total - payload_at : 0;
		__u32 want = flen;
		if (want > avail)
			want = avail;
		if (want > L7_H2_CAPTURE)
			want = L7_H2_CAPTURE;
		if (want)
			got = read_at(dt, payload_at, want);
		if (got < flen)
			f->flags |= L7_F_H2_TRUNCATED;
	}
	f->len = got;
	count(L7_C_H2_FRAMES);
	__u32 size = offsetof(struct l7_h2_frame, payload) + (got & (2 * L7_H2_CAPTURE - 1));
	if (size > sizeof(*f))
		size = sizeof(*f);
	if (bpf_ringbuf_output(&l7_events, f, size, flowscope_rb_flags(&l7_events)))
		count(L7_C_RINGBUF_FULL);
	return payload_at + flen;
}

#define H2_PREFACE_LEN 24

__noinline int http2_data(struct l7_conn *c, const struct data *dt)
{
	if (!c || !dt)
		return 0;
	struct l7_dir_state *d = &c->d[dt->dir & 1];
	__u64 total = dt->total, off = 0;
	if (d->preface_left) {
		__u64 k = d->preface_left < total ? d->preface_left : total;
		d->preface_left -= k;
		off = k;
	}
	if (dt->kind == SRC_NONE) {
		/* content we cannot see (sendfile): only the framing position moves */
		__u64 rest = total - off;
		d->frame_left = d->frame_left > rest ? d->frame_left - rest : 0;
		return 0;
	}
	struct scratch *s = scratch();
	if (!s)
		return 0;
	struct h2_hdr hh = {};
	__u8 *h = hh.b;
	if (d->hdr_have) {
		/* A frame header split across reads/writes: complete it. */
		__u8 have = d->hdr_have;
		d->hdr_have = 0;
		if (have > 8)
			return 0;
		__u32 need = 9 - have;
		if (total < off + need || read_at(dt, off, need) != need) {
			c->proto = P_OTHER; /* lost the framing */
			return 0;
		}
		__u64 t;
		__builtin_memcpy(&t, s->frame.payload, 8);
#pragma unroll
		for (int j = 0; j < 9; j++)
			h[j] = j < have ? d->hdr[j] : (__u8)(t >> (((j - have) & 7) * 8));
		__s64 next = h2_frame(c, dt, &hh, off + need);
		if (next < 0)
			return 0;
		off = next;
	} else if (d->frame_left) {
		__u64 rest = total - off;
		if (d->frame_left >= rest) {
			d->frame_left -= rest;
			return 0;
		}
		off += d->frame_left;
		d->frame_left = 0;
	}
	for (int i = 0; i < L7_MAX_FRAMES; i++) {
		if (off >= total)
			return 0;
		if (off + 9 > total) {
			__u32 n = total - off;
			if (n < 9 && read_at(dt, off, n) == n) {
				__builtin_memcpy(d->hdr, s->frame.payload, 8);
				d->hdr_have = n;
			}
			count(L7_C_H2_PARTIAL_HDR);
			return 0;
		}
		if (read_at(dt, off, 9) != 9)
			return 0;
		__builtin_memcpy(h, s->frame.payload, 9);
		__s64 next = h2_frame(c, dt, &hh, off + 9);
		if (next < 0)
			return 0;
		off = next;
	}
	if (off > total)
		d->frame_left = off - total;
	else if (off < total)
		c->proto = P_OTHER; /* more frames than we follow in one read/write: the framing is lost */
	return 0;
}

/* ---- what a process read or wrote ---- */

static __always_inline void classify(struct l7_conn *c, const struct data *dt, bool from_ssl)
{
	__u8 b[16] = {};
	__u32 n = dt->total < 16 ? dt->total : 16;
	struct scratch *s = scratch();
	if (!s || dt->kind == SRC_NONE || n < 12 || read_at(dt, 0, n) < 12) {
		if (++c->tries >= L7_CLASSIFY_TRIES)
			c->proto = P_OTHER;
		return;
	}
	__builtin_memcpy(b, s->frame.payload, 16);
	__u32 mlen;
	if (!from_ssl && is_tls_record(b)) {
		c->tls = 1; /* the plaintext comes through the OpenSSL hooks, if any */
		return;
	}
	if (method_of(b, &mlen) || is_status_line(b)) {
		c->proto = P_HTTP1;
	} else if (is_h2_preface(b)) {
		c->proto = P_HTTP2;
		c->d[dt->dir & 1].preface_left = H2_PREFACE_LEN;
	} else if (++c->tries >= L7_CLASSIFY_TRIES) {
		c->proto = P_OTHER;
	}
}

static __always_inline void on_data(struct l7_conn *c, struct data *dt, bool from_ssl)
{
	dt->now = bpf_ktime_get_ns();
	if (c->proto == P_UNKNOWN)
		classify(c, dt, from_ssl);
	if (c->tls && !from_ssl)
		return;
	if (c->proto == P_HTTP1)
		http1_data(c, dt);
	else if (c->proto == P_HTTP2)
		http2_data(c, dt);
}

/* ---- TLS: OpenSSL ---- */

/* Whether the process's cgroup is switched off (checked before any lookup when some cgroup is off: a
 * switched-off load generator then costs a map lookup per hooked call, not a descriptor walk). */
static __always_inline bool cgroup_off(void)
{
	if (!cgroup_first)
		return false;
	__u64 cg = bpf_get_current_cgroup_id();
	__u8 *sw = bpf_map_lookup_elem(&l7_cgroups, &cg);
	return sw ? *sw != 1 : !default_on;
}

static __always_inline void bind_ssl(__u64 ssl, __u64 sk, __s32 fd)
{
	struct ssl_key k = {.ssl = ssl, .tgid = bpf_get_current_pid_tgid() >> 32};
	struct ssl_bind *cur = bpf_map_lookup_elem(&ssl_socks, &k);
	if (cur) {
		if (cur->sk != sk)
			cur->retry = 0;
		cur->sk = sk;
		cur->fd = fd;
	} else {
		struct ssl_bind b = {.sk = sk, .fd = fd};
		bpf_map_update_elem(&ssl_socks, &k, &b, BPF_ANY);
	}
}

/* Plaintext an SSL call read or wrote on a connection. */
static __always_inline void ssl_data(struct l7_conn *c, __u64 buf, __u64 n, __u8 dir)
{
	count(L7_C_TLS_CALLS);
	c->tls = 1;
	if (c->proto == P_OTHER || c->proto == P_OFF)
		return;
	struct data dt = {.buf = buf, .total = n, .kind = SRC_FLAT, .dir = dir};
	on_data(c, &dt, true);
}

/* A TLS socket read or written by the thread outside an SSL_read: for memory BIOs, the SSL call's
 * socket; for an SSL_write whose socket was not known at its entry, its own socket write. */
static __always_inline void tls_socket_used(__u64 id, __u64 sk, __s32 fd, __u8 dir)
{
	__u64 now = bpf_ktime_get_ns();
	struct tls_last *tl = bpf_map_lookup_elem(&tls_last, &id);
	if (tl) {
		tl->sk = sk;
		tl->ts_ns = now;
		tl->dir = dir;
	} else {
		struct tls_last n = {.sk = sk, .ts_ns = now, .dir = dir};
		bpf_map_update_elem(&tls_last, &id, &n, BPF_ANY);
	}
	if (dir != L7_DIR_SENT)
		return;
	struct tls_pending *p = bpf_map_lookup_elem(&tls_pending, &id);
	if (!p || !p->ssl)
		return;
	__u64 ssl = p->ssl;
	p->ssl = 0;
	count(L7_C_TLS_DEFERRED_DONE);
	bind_ssl(ssl, sk, fd);
	struct ssl_call *call = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, 0);
	if (call && call->ssl == ssl && call->write) {
		/* the SSL_write's own socket write: a retry of it after this write blocks is not new data */
		call->done = 1;
		call->sk = sk;
		call->fd = fd;
	}
	struct l7_conn *c = bpf_map_lookup_elem(&l7_conns, &sk);
	if (!c || c->proto == P_OTHER || c->proto == P_OFF)
		return;
	struct data dt = {.buf = (__u64)p->data, .total = p->len, .avail = p->copied, .kind = SRC_KERNEL, .dir = L7_DIR_SENT};
	on_data(c, &dt, true);
}

/* The thread's call record, the SSL object's binding when its connection is still traced. */
static __always_inline struct ssl_call *ssl_call_begin(__u64 id, void *ssl, void *buf, void *ex_len, __u64 num, bool write,
						       struct ssl_bind **bind, struct l7_conn **conn)
{
	struct ssl_call *cp = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cp)
		return NULL;
	cp->ssl = (__u64)ssl;
	cp->buf = (__u64)buf;
	cp->ex_len_ptr = (__u64)ex_len;
	cp->num = num;
	cp->write = write;
	cp->done = 0;
	cp->sk = 0;
	cp->fd = -1;
	cp->bound = 0;
	struct ssl_key k = {.ssl = (__u64)ssl, .tgid = id >> 32};
	struct ssl_bind *b = bpf_map_lookup_elem(&ssl_socks, &k);
	*bind = b;
	*conn = NULL;
	if (b) {
		__u64 sk = b->sk;
		struct l7_conn *c = bpf_map_lookup_elem(&l7_conns, &sk);
		if (c) {
			/* the call's socket: not bound again at its return, nor looked up twice */
			cp->sk = sk;
			cp->fd = b->fd;
			cp->bound = 1;
			*conn = c;
		}
	}
	return cp;
}

static __always_inline int ssl_read_enter(void *ssl, void *buf, void *ex_len)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == targ_self_tgid || cgroup_off())
		return 0;
	struct ssl_bind *b;
	struct l7_conn *c;
	ssl_call_begin(id, ssl, buf, ex_len, 0, false, &b, &c);
	return 0;
}

/* SSL_write(ssl, buf, num) and the _ex forms: the plaintext is in buf at entry. Taken now when the
 * SSL object's socket is known; otherwise a copy is kept for the thread's next TLS socket write (the
 * call's own write for a socket BIO, the application's after the call for a memory BIO). A call
 * repeated after its socket write would block (SSL_ERROR_WANT_WRITE: same size, by the rules of the
 * API) was taken the first time. Written bytes are taken to be all of num (partial-write mode
 * writes the rest in a later call, which then does not begin a message). */
static __always_inline int ssl_write_enter(void *ssl, void *buf, __u64 num)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == targ_self_tgid || cgroup_off())
		return 0;
	struct ssl_bind *b;
	struct l7_conn *c;
	struct ssl_call *cp = ssl_call_begin(id, ssl, buf, NULL, num, true, &b, &c);
	if (!cp || !num)
		return 0;
	if (b && b->retry) {
		b->retry = 0;
		if (b->retry_num == num) {
			cp->done = 1;
			return 0;
		}
	}
	if (c) {
		cp->done = 1;
		ssl_data(c, (__u64)buf, num, L7_DIR_SENT);
		return 0;
	}
	/* inserted from a zeroed global: the struct is too large for the stack */
	struct tls_pending *p = bpf_map_lookup_elem(&tls_pending, &id);
	if (!p) {
		bpf_map_update_elem(&tls_pending, &id, &tls_pending_zero, BPF_ANY);
		p = bpf_map_lookup_elem(&tls_pending, &id);
		if (!p)
			return 0;
	} else if (p->ssl && p->ssl != (__u64)ssl) {
		count(L7_C_PENDING_LOST);
	}
	__u32 k = num < L7_TLS_STASH ? num : L7_TLS_STASH;
	MASK(k, 1023 | 1024);
	if (k > L7_TLS_STASH)
		k = L7_TLS_STASH;
	if (bpf_probe_read_user(p->data, k, buf))
		return 0;
	p->ssl = (__u64)ssl;
	p->ts_ns = bpf_ktime_get_ns();
	p->len = num;
	p->copied = k;
	count(L7_C_TLS_DEFERRED);
	return 0;
}

/* A socket write that would block (EAGAIN) inside the thread's latest SSL_write, already taken: the
 * application will call it again. */
static __always_inline void write_blocked(void)
{
	struct ssl_call *cp = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, 0);
	if (!cp || !cp->ssl || !cp->write || !cp->done || !cp->sk)
		return;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if ((__s32)PT_REGS_PARM1_SYSCALL(regs) != cp->fd)
		return;
	struct ssl_key k = {.ssl = cp->ssl, .tgid = bpf_get_current_pid_tgid() >> 32};
	struct ssl_bind *b = bpf_map_lookup_elem(&ssl_socks, &k);
	if (b) {
		b->retry = 1;
		b->retry_num = cp->num;
	}
}

SEC("uprobe")
int BPF_KPROBE(ssl_enter, void *ssl, void *buf, int num, void *ex_len)
{
	return ssl_read_enter(ssl, buf, ex_len);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter_int, void *ssl, void *buf, int num)
{
	return num > 0 ? ssl_write_enter(ssl, buf, (__u64)num) : 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter_ex, void *ssl, void *buf, __u64 num)
{
	return ssl_write_enter(ssl, buf, num);
}

static __always_inline int ssl_done(long ret, bool ex)
{
	struct ssl_call *cp = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, 0);
	if (!cp || !cp->ssl || cp->write)
		return 0;
	struct ssl_call call = *cp;
	cp->ssl = 0; /* no call in flight on this thread */
	__u64 n = 0;
	if (ex) {
		/* 1 from SSL_read_ex; > 0 from the internal function it wraps (ssl-sites.ts) */
		if ((int)ret <= 0 || bpf_probe_read_user(&n, sizeof(n), (void *)call.ex_len_ptr))
			return 0;
	} else {
		/* int return: -1 is 0xffffffff in the upper-zeroed register */
		int r = (int)ret;
		if (r <= 0)
			return 0;
		n = r;
	}
	if (!n)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 sk = call.sk;
	if (!sk) {
		struct tls_last *tl = bpf_map_lookup_elem(&tls_last, &id);
		if (tl && tl->dir == L7_DIR_RECEIVED && bpf_ktime_get_ns() - tl->ts_ns < TLS_LAST_MAX_AGE_NS)
			sk = tl->sk;
	}
	struct l7_conn *c = sk ? bpf_map_lookup_elem(&l7_conns, &sk) : NULL;
	if (!c) {
		count(L7_C_TLS_UNBOUND);
		return 0;
	}
	if (!call.bound)
		bind_ssl(call.ssl, sk, call.fd);
	ssl_data(c, call.buf, n, L7_DIR_RECEIVED);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, long ret)
{
	return ssl_done(ret, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, long ret)
{
	return ssl_done(ret, true);
}

/* ---- syscalls ---- */

struct sys_exit_ctx {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

#define EAGAIN 11

/* One read or write that returned `ret` bytes: its arguments are still in the task's user registers
 * (a syscall does not change them), so one exit program does what an entry program storing them by
 * thread did before (bench/RESULTS.md, "L7 capture cost": the entry hooks and the store cost more
 * than the exit's own work). */
static __always_inline int data_done(long ret, __u8 kind, __u8 dir, bool msg)
{
	if (ret <= 0) {
		if (ret == -EAGAIN && dir == L7_DIR_SENT)
			write_blocked();
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == targ_self_tgid)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 fd = PT_REGS_PARM1_SYSCALL(regs), buf = PT_REGS_PARM2_SYSCALL(regs);
	__u32 iovcnt = kind == SRC_IOV ? PT_REGS_PARM3_SYSCALL(regs) : 0;
	/* Not skipped before the walk for the socket of the thread's SSL call: a check there (per-CPU
	 * slot, global function) cost plain HTTP 100-150 ns a syscall, more than it saved (RESULTS.md). */
	if (cgroup_off())
		return 0;
	struct sock *sk = fd_tcp_sock(fd);
	if (!sk)
		return 0;
	__u64 key = (__u64)sk;
	struct l7_conn *c = conn_of(sk);
	if (!c)
		return 0;
	/* A connection found to carry HTTP in the clear is not an SSL object's. */
	struct ssl_call *call = NULL;
	if (c->tls || (c->proto != P_HTTP1 && c->proto != P_HTTP2))
		call = bpf_task_storage_get(&ssl_calls, task, 0, 0);
	if (call && call->ssl && !call->write && (c->tls || (c->proto != P_HTTP1 && c->proto != P_HTTP2))) {
		/* Inside SSL_read: this is the SSL object's socket, carrying ciphertext. */
		if (call->sk != key) {
			call->sk = key;
			call->fd = fd;
			call->bound = 0;
		}
		c->tls = 1;
		return 0;
	}
	/* The ciphertext of the thread's latest SSL_write, whose socket is known: nothing to learn. */
	if (call && call->ssl && call->write && call->sk == key && dir == L7_DIR_SENT)
		return 0;
	if (c->proto == P_OTHER || c->proto == P_OFF)
		return 0;
	if (c->tls) {
		tls_socket_used(id, key, fd, dir);
		return 0;
	}
	if (msg) {
		/* recvmsg/sendmsg(fd, msghdr, flags): the iovec array of the message header */
		struct user_msghdr h;
		if (bpf_probe_read_user(&h, sizeof(h), (void *)buf))
			return 0;
		buf = (__u64)h.msg_iov;
		iovcnt = h.msg_iovlen;
	}
	count(L7_C_SYSCALLS);
	struct data dt = {.buf = buf, .total = ret, .iovcnt = iovcnt, .kind = kind, .dir = dir};
	on_data(c, &dt, false);
	if (c->tls)
		tls_socket_used(id, key, fd, dir); /* found to be TLS just now */
	return 0;
}

/* read/write(fd, buf, count), recvfrom/sendto(fd, buf, len, ...) */
SEC("tracepoint/syscalls/sys_exit_read")
int l7_read_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_FLAT, L7_DIR_RECEIVED, false); }
SEC("tracepoint/syscalls/sys_exit_write")
int l7_write_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_FLAT, L7_DIR_SENT, false); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int l7_recvfrom_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_FLAT, L7_DIR_RECEIVED, false); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int l7_sendto_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_FLAT, L7_DIR_SENT, false); }
/* readv/writev(fd, iov, iovcnt) */
SEC("tracepoint/syscalls/sys_exit_readv")
int l7_readv_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_IOV, L7_DIR_RECEIVED, false); }
SEC("tracepoint/syscalls/sys_exit_writev")
int l7_writev_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_IOV, L7_DIR_SENT, false); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int l7_recvmsg_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_IOV, L7_DIR_RECEIVED, true); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int l7_sendmsg_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_IOV, L7_DIR_SENT, true); }
/* sendfile(out_fd, in_fd, offset, count): counted, the content is a file's */
SEC("tracepoint/syscalls/sys_exit_sendfile64")
int l7_sendfile_exit(struct sys_exit_ctx *ctx) { return data_done(ctx->ret, SRC_NONE, L7_DIR_SENT, false); }

/* ---- connections closing, processes coming and going ---- */

static __always_inline int on_state(struct sock *sk, int newstate)
{
	__u64 key = (__u64)sk;
	if (newstate == TCP_SYN_SENT || newstate == TCP_ESTABLISHED) {
		/* A new connection on this socket address: whatever state is left belongs to an old one
		 * whose close was missed (the kernel skips a tracing program re-entered on its CPU). The
		 * lookup first: it takes no lock, and the key is almost never there. */
		if (bpf_map_lookup_elem(&l7_conns, &key))
			bpf_map_delete_elem(&l7_conns, &key);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	struct l7_conn *c = bpf_map_lookup_elem(&l7_conns, &key);
	if (!c)
		return 0;
	if (c->proto == P_HTTP1 || c->proto == P_HTTP2) {
		__u64 now = bpf_ktime_get_ns();
		if (c->d[0].status)
			finish(c, 0, c->d[0].last_ns, L7_F_END_AT_CLOSE);
		if (c->d[1].status)
			finish(c, 1, c->d[1].last_ns, L7_F_END_AT_CLOSE);
		send_held(c); /* a request that got no response */
		struct l7_close *r = bpf_ringbuf_reserve(&l7_events, sizeof(*r), 0);
		if (r) {
			__builtin_memset(r, 0, sizeof(*r));
			r->type = L7_REC_CLOSE;
			r->ts_ns = now;
			r->sk = key;
			bpf_ringbuf_submit(r, flowscope_rb_flags(&l7_events));
		} else {
			count(L7_C_RINGBUF_FULL);
		}
	}
	bpf_map_delete_elem(&l7_conns, &key);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(l7_state_btf, struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(l7_state_raw, struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, newstate);
}

static __always_inline void emit_proc(__u8 type, __u32 pid)
{
	struct l7_proc *r = bpf_ringbuf_reserve(&l7_events, sizeof(*r), 0);
	if (!r) {
		count(L7_C_RINGBUF_FULL);
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->type = type;
	r->pid = pid;
	r->ts_ns = bpf_ktime_get_ns();
	r->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	/* exec and exit are rare: wake the agent, which attaches to OpenSSL as soon as it can */
	bpf_ringbuf_submit(r, 0);
}

SEC("tracepoint/sched/sched_process_exec")
int l7_exec(void *ctx)
{
	emit_proc(L7_REC_EXEC, bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int l7_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)id == (id >> 32)) /* the thread group leader: the process */
		emit_proc(L7_REC_EXIT, id >> 32);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
