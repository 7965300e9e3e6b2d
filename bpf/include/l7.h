/* Structs shared by bpf/l7.bpf.c and the agent (decoders generated into src/bpf/gen/l7.gen.ts).
 * Fixed-width types, explicit padding, sizes asserted.
 *
 * What crosses the boundary, by design: HTTP/1 method, path up to the first '?', ' ' or '#' (never
 * the query string), status, framing-derived timing; HTTP/2 HEADERS/CONTINUATION block fragments
 * (HPACK keeps per-connection state that only a decoder seeing every field can follow; the agent
 * keeps :method, :path, :status, grpc-status and content-type and drops every other value as it
 * decodes), never DATA payloads; never a body, a header value of HTTP/1, or a query string. */
#ifndef __FLOWSCOPE_L7_H
#define __FLOWSCOPE_L7_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define L7_PATH_MAX 128	   /* path bytes kept (up to '?', ' ' or '#') */
#define L7_WINDOW 512	   /* bytes of each read or write examined for HTTP/1 message heads */
#define L7_H2_CAPTURE 1024 /* bytes of a HEADERS/CONTINUATION frame payload */

enum l7_record_type {
	L7_REC_REQUEST = 1,  /* an HTTP/1 request head */
	L7_REC_RESPONSE = 2, /* an HTTP/1 response, once its body ended (or at its head when the end cannot be known) */
	L7_REC_H2_FRAME = 3, /* an HTTP/2 HEADERS/CONTINUATION fragment, or a stream's end (DATA with END_STREAM, RST_STREAM) */
	L7_REC_CLOSE = 4,    /* a connection that carried HTTP closed: requests still waiting will get no response */
	L7_REC_EXEC = 5,     /* a process called exec (the agent looks for OpenSSL in it) */
	L7_REC_EXIT = 6,     /* a process exited */
	L7_REC_EXCHANGE = 7, /* an HTTP/1 request and its response in one record (the request held until its response ended) */
	L7_REC_CONN = 8,     /* a connection whose exchanges are counted in l7_agg: its description, once */
};

enum l7_direction {
	L7_DIR_RECEIVED = 0, /* read by the process from the socket */
	L7_DIR_SENT = 1,     /* written by the process to the socket */
};

enum l7_method {
	L7_M_UNKNOWN = 0,
	L7_M_GET = 1,
	L7_M_HEAD = 2,
	L7_M_POST = 3,
	L7_M_PUT = 4,
	L7_M_DELETE = 5,
	L7_M_CONNECT = 6,
	L7_M_OPTIONS = 7,
	L7_M_TRACE = 8,
	L7_M_PATCH = 9,
};

enum l7_flags {
	L7_F_TLS = 1,		   /* plaintext from OpenSSL (SSL_read/SSL_write) */
	L7_F_PATH_TRUNCATED = 2,   /* the path was longer than L7_PATH_MAX or left the window */
	L7_F_END_AT_HEAD = 4,	   /* the body's end could not be known (no framing in the window): timed to the head */
	L7_F_END_AT_CLOSE = 8,	   /* the response ended with the connection (no framing, or cut short) */
	L7_F_SUPERSEDED = 16,	   /* a new response began before this one's framing said it ended */
	L7_F_H2_TRUNCATED = 32,	   /* the frame payload was longer than captured, or continued in the next read/write */
	L7_F_ORPHAN = 64,	   /* a response without a request seen on this connection (tracing began mid-exchange) */
};

enum l7_frame_type {
	L7_H2_DATA = 0,
	L7_H2_HEADERS = 1,
	L7_H2_RST_STREAM = 3,
	L7_H2_CONTINUATION = 9,
};

/* Per-CPU counters (the agent's self-metrics). */
enum l7_counter {
	L7_C_CONN_MAP_FULL = 0,	  /* a connection could not be tracked */
	L7_C_RINGBUF_FULL = 1,	  /* a record could not be sent */
	L7_C_HEADS_BEYOND = 2,	  /* message boundaries lost: a message began past the window */
	L7_C_TLS_UNBOUND = 3,	  /* an SSL_read/SSL_write whose socket could not be found */
	L7_C_TLS_CALLS = 4,	  /* SSL_read/SSL_write calls with data */
	L7_C_SYSCALLS = 5,	  /* reads and writes on tracked TCP sockets that were inspected */
	L7_C_MESSAGES = 6,	  /* HTTP/1 message heads parsed */
	L7_C_H2_FRAMES = 7,	  /* HTTP/2 frames sent to the agent */
	L7_C_H2_PARTIAL_HDR = 8,  /* an HTTP/2 frame header split across reads/writes */
	L7_C_PENDING_LOST = 9,	  /* a deferred SSL_write (memory BIO) replaced before its socket write was seen */
	L7_C_TLS_DEFERRED = 10,	  /* SSL_write calls deferred to the thread's next TLS write (memory BIO) */
	L7_C_TLS_DEFERRED_DONE = 11, /* deferred SSL_writes processed at that write */
	L7_C_AGG_FULL = 12,	  /* an exchange sent as a record because l7_agg was full */
	L7_C_MAX = 13,
};

/* The connection a record belongs to, as the kernel saw it when it first carried data. */
struct l7_conn_info {
	__u64 sk;	 /* kernel address of the socket: the connection's key while it lives */
	__u64 cgroup_id; /* cgroup v2 id of the process that first used it */
	__u32 pid;	 /* host tgid of that process */
	__u32 netns;	 /* network namespace inode */
	char comm[16];	 /* its name (the thread group leader's) */
	__u8 saddr[16];	 /* local address: IPv4 in the first 4 bytes */
	__u8 daddr[16];	 /* remote address */
	__u16 sport;	 /* local port */
	__u16 dport;	 /* remote port */
	__u8 family;	 /* AF_INET or AF_INET6 */
	__u8 pad[3];
};

struct l7_request {
	__u8 type;   /* L7_REC_REQUEST */
	__u8 dir;    /* enum l7_direction: received = this end serves, sent = this end is the client */
	__u8 method; /* enum l7_method */
	__u8 flags;  /* enum l7_flags */
	__u16 path_len;
	__u16 pad;
	__u32 seq; /* requests in this direction before this one, on this connection */
	__u32 pad2;
	__u64 ts_ns; /* when the head was read or written */
	struct l7_conn_info conn;
	char path[L7_PATH_MAX]; /* path_len bytes are sent */
};

struct l7_response {
	__u8 type; /* L7_REC_RESPONSE */
	__u8 dir;  /* received = this end is the client */
	__u8 flags;
	__u8 pad;
	__u16 status;
	__u16 pad2;
	__u32 seq; /* responses in this direction before this one: matches the request of the same seq */
	__u32 pad3;
	__u64 head_ns; /* the status line */
	__u64 end_ns;  /* the last byte of the body (see flags) */
	struct l7_conn_info conn;
};

/* A request and its response: what an L7_REC_REQUEST and the L7_REC_RESPONSE of the same seq carry.
 * The kernel holds a connection's latest request until its response ends; a request that cannot
 * wait (another one came, the connection closed) is sent alone as before. */
struct l7_exchange {
	__u8 type;	 /* L7_REC_EXCHANGE */
	__u8 dir;	 /* of the request: received = this end serves; the response went the other way */
	__u8 method;	 /* enum l7_method */
	__u8 req_flags;	 /* enum l7_flags of the request */
	__u16 path_len;
	__u16 status;
	__u32 seq;	 /* of the request and of its response */
	__u8 resp_flags; /* enum l7_flags of the response */
	__u8 pad[3];
	__u64 req_ns;	 /* when the request head was read or written */
	__u64 head_ns;	 /* the status line */
	__u64 end_ns;	 /* the last byte of the body (see resp_flags) */
	struct l7_conn_info conn;
	char path[L7_PATH_MAX]; /* path_len bytes are meaningful */
};

/* Exchanges counted in the kernel (when no per-exchange records are asked for): one entry per
 * connection, role, method, status and path; the agent reads the entries in place each interval and
 * credits what grew. Durations (response end - request head) in the agent's request buckets. */
#define L7_AGG_BUCKETS 15 /* REQUEST_BUCKETS in src/model/requests.ts, in ns below; one more slot above the last */

struct l7_agg_key {
	__u64 conn_id;	/* the connection (L7_REC_CONN), never reused */
	__u8 dir;	/* of the request: received = this end serves */
	__u8 method;	/* enum l7_method */
	__u8 flags;	/* L7_F_TLS, L7_F_PATH_TRUNCATED */
	__u8 pad;
	__u16 status;
	__u16 path_len;
	char path[L7_PATH_MAX]; /* zero past path_len */
};

struct l7_agg_value {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[L7_AGG_BUCKETS + 1]; /* bucket i: duration <= bound i (and > bound i-1); the last: above every bound */
};

struct l7_conn_rec {
	__u8 type; /* L7_REC_CONN */
	__u8 pad[7];
	__u64 conn_id;
	struct l7_conn_info conn;
};

struct l7_h2_frame {
	__u8 type;	 /* L7_REC_H2_FRAME */
	__u8 dir;	 /* received or sent */
	__u8 frame_type; /* enum l7_frame_type */
	__u8 frame_flags;
	__u32 stream_id;
	__u32 frame_len; /* the frame's payload length */
	__u16 len;	 /* bytes of payload that follow */
	__u8 flags;	 /* enum l7_flags */
	__u8 pad;
	__u64 ts_ns;
	struct l7_conn_info conn;
	__u8 payload[L7_H2_CAPTURE]; /* len bytes are sent */
};

struct l7_close {
	__u8 type; /* L7_REC_CLOSE */
	__u8 pad[7];
	__u64 ts_ns;
	__u64 sk;
};

struct l7_proc {
	__u8 type; /* L7_REC_EXEC or L7_REC_EXIT */
	__u8 pad[3];
	__u32 pid;
	__u64 ts_ns;
	__u64 cgroup_id;
	char comm[16];
};

_Static_assert(sizeof(struct l7_conn_info) == 80, "l7_conn_info layout");
_Static_assert(sizeof(struct l7_request) == 24 + 80 + L7_PATH_MAX, "l7_request layout");
_Static_assert(sizeof(struct l7_response) == 32 + 80, "l7_response layout");
_Static_assert(sizeof(struct l7_exchange) == 40 + 80 + L7_PATH_MAX, "l7_exchange layout");
_Static_assert(sizeof(struct l7_h2_frame) == 24 + 80 + L7_H2_CAPTURE, "l7_h2_frame layout");
_Static_assert(sizeof(struct l7_close) == 24, "l7_close layout");
_Static_assert(sizeof(struct l7_agg_key) == 16 + L7_PATH_MAX, "l7_agg_key layout");
_Static_assert(sizeof(struct l7_agg_value) == 16 + 8 * (L7_AGG_BUCKETS + 1), "l7_agg_value layout");
_Static_assert(sizeof(struct l7_conn_rec) == 16 + 80, "l7_conn_rec layout");
_Static_assert(sizeof(struct l7_proc) == 40, "l7_proc layout");

#endif
