/*
** conn.h — accepted TCP connections (plain or TLS) with batched output, for any protocol.
**
** A conn_hub owns listeners and every connection they accept. A connection carries no
** protocol: a conn_handler (HTTP now, WebSocket after an upgrade) receives its decrypted
** bytes and may be swapped at any time with conn_set_handler().
**
** Guarantees:
** - Output is only queued by conn_write() and conn_write_buf(); bytes reach the socket only in
**   conn_hub_flush(), which the owner calls once per loop turn. All output a connection
**   queued since the last flush leaves in one writev (uv_try_write with several buffers);
**   what the kernel does not take is handed to one uv_write whose buffers stay referenced
**   until its callback. For TLS the plaintext queue is encrypted at flush.
** - Only connections with something to do are touched by a flush (the hub's dirty list).
**   While a connection is dirty an idle handle keeps the loop from sleeping, so output
**   queued from a timer callback still goes out in the same loop turn.
** - net_buf (buf.h): writing one to N connections costs N references and no copies.
** - Input: on_data() gets bytes in order, never re-entered for the same connection. It
**   returns how many it consumed; the rest is kept by the connection, reading pauses, and
**   those bytes are delivered again (to the handler installed by then) at the first flush
**   after conn_read_start(). That is how a protocol hands bytes past its end (the bytes
**   after an HTTP Upgrade request) to the next protocol.
** - Timers: one per-hub timer, not one per connection. A connection is in at most one
**   conn_tq (a FIFO of connections sharing one timeout length); see conn_set_timeout().
** - on_close() is called exactly once per connection, from the libuv close callback (never
**   from inside a call the handler made), right before the connection is freed.
** Threads: one loop; nothing here may be called from another thread (a flush may spread
** its write syscalls over io_threads, which only read the queued bytes meanwhile).
*/
#ifndef IMCAST_NET_CONN_H
#define IMCAST_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <openssl/ssl.h>

#include "net/buf.h"

typedef struct conn conn;
typedef struct conn_hub conn_hub;

typedef struct conn_handler {
  /* Bytes arrived (decrypted for TLS). Returns how many were consumed; fewer than len
  ** pauses reading and keeps the rest for the next conn_read_start(). */
  size_t (*on_data)(conn *c, const char *data, size_t len);
  /* The connection's deadline passed (it is no longer in any conn_tq). NULL: close it. */
  void (*on_timeout)(conn *c);
  /* Last call for this connection; it is freed when this returns. May be NULL. */
  void (*on_close)(conn *c);
} conn_handler;

/* An intrusive doubly linked list link (circular, with a sentinel head). */
typedef struct net_link {
  struct net_link *prev, *next;
} net_link;

/* A timeout queue: every connection in it expires timeout_ms after it was put in, so the
** queue stays sorted by deadline and checking it costs O(expired). */
typedef struct conn_tq {
  uint64_t timeout_ms;
  net_link conns;   /* connections, earliest deadline first */
  net_link link;    /* in the hub's list of queues */
} conn_tq;

typedef struct conn_hub_options {
  uv_loop_t *loop;
  unsigned max_connections;        /* over it an accepted connection is closed at once */
  uint64_t linger_ms;              /* after a close-after-flush: how long to drain input */
  unsigned io_threads;             /* threads that share a large flush's writes; 0/1: one */
  unsigned max_per_ip;             /* connections one peer address may hold; 0: no cap */
  /* A connection was accepted; install its handler with conn_set_handler(). */
  void (*on_accept)(conn *c, void *ctx);
  void *ctx;
} conn_hub_options;

/* Returns 0 or UV_ENOMEM. Creates no libuv handle until the first listen. */
int conn_hub_new(conn_hub **out, const conn_hub_options *opts);
/* Only once no handle is open: after conn_hub_shutdown's done, or if it never listened. */
void conn_hub_free(conn_hub *hub);
/* Listens on host:port (IPv4 or IPv6 literal); tls NULL for plain TCP (the hub takes its
** own reference). Returns 0 or a negative libuv error. */
int conn_hub_listen(conn_hub *hub, const char *host, int port, SSL_CTX *tls, int *bound_port);
/* Gives every TLS listener a new context (certificate reload); connections already open
** keep theirs. Takes its own references. Returns how many listeners changed. */
int conn_hub_replace_tls(conn_hub *hub, SSL_CTX *tls);
/* Runs pending input deliveries, encrypts, and writes every dirty connection. Does
** nothing when called from inside a handler's on_data (call it from a uv_check). */
void conn_hub_flush(conn_hub *hub);
/* Closes the listeners now; calls done(ctx) once every connection is closed and the hub's
** own handles are closed. Closing the connections is the protocols' business. */
void conn_hub_shutdown(conn_hub *hub, void (*done)(void *ctx), void *ctx);
size_t conn_hub_count(const conn_hub *hub);
/* Connections closed at accept: over max_connections, and over max_per_ip. */
void conn_hub_refused(const conn_hub *hub, uint64_t *over_total, uint64_t *over_per_ip);
/* Iteration over open connections; closing the current one during the walk is safe. */
conn *conn_hub_first(conn_hub *hub);
conn *conn_next(conn *c);

/* Registers a timeout queue (call before using it; the hub keeps the pointer). */
void conn_tq_init(conn_hub *hub, conn_tq *q, uint64_t timeout_ms);

/* --- one connection --- */
void conn_set_handler(conn *c, const conn_handler *h, void *data);
const conn_handler *conn_get_handler(const conn *c);
void *conn_data(const conn *c);
conn_hub *conn_get_hub(const conn *c);
const char *conn_peer(const conn *c);   /* the peer's IP address as text */
bool conn_is_tls(const conn *c);
bool conn_is_closing(const conn *c);    /* closed or closing after flush: writes are dropped */

/* Queues a copy of p[0..len) (small writes coalesce into one buffer). */
void conn_write(conn *c, const void *p, size_t len);
/* Queues b without copying; takes over one reference (pass net_buf_ref(b) to share). */
void conn_write_buf(conn *c, net_buf *b);
/* Bytes queued and not yet taken by the kernel (for output caps). */
size_t conn_pending_output(const conn *c);
/* Back-pressure for request/response protocols: while more than `bytes` are queued, no
** input is read or delivered; it goes on (kept bytes first) once the kernel has taken
** the output down to `bytes`. A handler may stop short in on_data when conn_output_full()
** says so: the rest is kept and delivered after the drain, without conn_read_start().
** 0 (the default) means no limit. */
void conn_set_output_limit(conn *c, size_t bytes);
bool conn_output_full(const conn *c);

void conn_read_stop(conn *c);
/* Resumes reading; bytes kept from an earlier partial on_data are delivered first, at
** the next flush. */
void conn_read_start(conn *c);

/* Puts c in q with deadline now + q->timeout_ms (out of any other queue); NULL: none. */
void conn_set_timeout(conn *c, conn_tq *q);

/* Closes now; queued output is dropped. */
void conn_close(conn *c);
/* Stops delivering input, writes what is queued (TLS: then close_notify), half-closes,
** drains the peer's input for up to linger_ms so it is not reset before reading our
** last bytes, then closes. */
void conn_close_after_flush(conn *c);

#endif
