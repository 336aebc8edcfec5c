/*
** imcast_receiver.c — one end user's WebSocket connection to imcastd, on libuv + wslay.
**
** A receiver (long-lived: options, timer, flush handle) owns at most one connection
** attempt at a time (rx_conn: TCP handle, optional TLS, then the wslay context). An
** attempt walks resolve -> connect -> TLS -> HTTP upgrade -> WebSocket -> closing ->
** dead; the receiver then reconnects with jittered exponential backoff or stops.
**
** Guarantees:
** - Nothing blocks and nothing is freed under a caller's feet: user callbacks may call any
**   function of the API, imcast_receiver_free included, because an attempt's memory is
**   released only in its TCP close callback and the receiver's only when its last handle
**   has closed. After each user callback the code re-checks whether the attempt died.
** - Every write buffer lives until its write callback (uv_try_write first; what is left is
**   copied into one heap block owned by its uv_write_t).
** - Frames we originate are coalesced: Acks, send_text and close requests are queued and
**   flushed once per loop turn by a uv_check handle, so one read full of pushes costs
**   one Ack carrying the highest Seq. Automatic Acks also wait ack_delay_ms (a timer
**   armed by the first unacknowledged push), so a burst costs one upstream frame: less
**   radio time for a device, one read instead of many for the server during a fan-out. The one exception is a close frame from the server:
**   the pending Ack is flushed as that frame starts arriving, because wslay answers a
**   close ahead of queued data and would otherwise drop it.
** - Per-connection memory stays small: reads land in one per-thread 64 KiB buffer and are
**   consumed before the read callback returns; wslay keeps its own frame state; the
**   upgrade response is buffered only if it arrives split, and freed at the 101.
*/
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netdb.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "imcast_receiver.h"
#include "rx_internal.h"

#define RX_READ_BUF (64 * 1024)
#define RX_TLS_BUF (16 * 1024)          /* one TLS record of plaintext */
#define RX_OUT_BUF (16 * 1024)
#define RX_MAX_MSG ((size_t)16 * 1024 * 1024) /* a larger server message is refused (1009) */
#define RX_CLOSE_WAIT_MS 2000           /* how long the close handshake may take */
#define RX_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define RX_DEFAULT_BACKOFF_MAX_MS 30000

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------------------ */
/* Types                                                                                */
/* ------------------------------------------------------------------------------------ */

typedef struct rx_conn rx_conn;

/* Buffers shared by every receiver of a thread. Each is used only inside one synchronous
 * call chain (a read callback, one flush), never across a return to the loop. */
typedef struct rx_scratch {
  char read[RX_READ_BUF];   /* libuv reads land here */
  char plain[RX_TLS_BUF];   /* SSL_read output */
  char tls_out[RX_TLS_BUF]; /* ciphertext drained from a write BIO */
  char out[RX_OUT_BUF];     /* bytes produced by one wslay_event_send */
  size_t out_len;
} rx_scratch;

static _Thread_local rx_scratch *tl_scratch;
static _Thread_local unsigned tl_receivers;

typedef enum {
  PH_CONNECT, /* resolving or TCP connecting */
  PH_TLS,     /* TLS handshake */
  PH_UPGRADE, /* request sent, reading the HTTP response */
  PH_WS,      /* WebSocket open */
  PH_CLOSING, /* our close frame is out: waiting for the server's and for EOF */
  PH_DEAD     /* torn down: the TCP handle is closing */
} rx_phase;

typedef enum { T_NONE, T_BACKOFF, T_CONNECT, T_PING, T_CLOSE } rx_timer_use;

struct rx_conn {
  uv_tcp_t tcp;                 /* tcp.data = this */
  uv_connect_t connect_req;
  imcast_receiver *r;
  uv_getaddrinfo_t *gai;        /* pending resolution, or NULL */
  struct addrinfo *ai_list;     /* resolved addresses, until connected */
  struct addrinfo *ai_next;     /* the next one to try */
  wslay_event_context_ptr ws;   /* from the 101 on */
  SSL *ssl;                     /* wss:// only */
  char *hs;                     /* upgrade response bytes that arrived split */
  size_t hs_len;
  const char *in;               /* bytes being fed to wslay_event_recv */
  size_t in_len;
  int64_t ack_pending;          /* highest Seq to acknowledge; -1 = none */
  int64_t ack_sent;             /* highest Seq acknowledged on this connection */
  uint64_t last_rx_ms;          /* loop time of the last byte from the server */
  uint32_t ping_ms;             /* PingSec from Hello, in ms; 0 = no pings */
  unsigned writes_pending;      /* uv_write requests in flight */
  unsigned refs;                /* the TCP handle + a pending getaddrinfo */
  rx_phase phase;
  int close_req;                /* close code the application asked for, to send */
  int http_status;              /* a refused upgrade's status */
  int close_code;               /* the server's close code, valid if close_received */
  int connect_err;              /* why the last address failed */
  bool hello, kicked, close_received;
  bool tcp_used;                /* uv_tcp_connect was called on this handle */
  bool tcp_closing, tcp_retry;
  char reason[124];             /* close reason, or what went wrong */
  char accept[29];              /* the Sec-WebSocket-Accept we expect */
};

struct imcast_receiver {
  uv_loop_t *loop;
  imcast_receiver_callbacks cb;
  void *user;
  char *host;                   /* connect target, SNI and certificate name */
  char *head;                   /* the upgrade request minus Sec-WebSocket-Key */
  SSL_CTX *ssl_ctx;             /* NULL for ws:// */
  uint16_t port;
  bool host_is_ip, host_is_ip6, tls_verify, manual_ack;
  uint32_t backoff_initial_ms, backoff_max_ms, connect_timeout_ms;
  uint32_t ack_delay_ms;        /* IMCAST_RX_ACK_NOW: at the end of the turn */

  uv_timer_t timer;             /* backoff, connect timeout, ping or close wait */
  rx_timer_use timer_use;
  uv_check_t flush;             /* sends queued frames once per loop turn */
  uv_timer_t ack_timer;         /* delayed automatic Ack */
  rx_conn *conn;                /* the current attempt, until its handle has closed */
  imcast_receiver_state state;  /* IDLE/WAITING/STOPPED; the rest derive from conn */
  uint32_t failures;            /* attempts since the last Hello: drives the backoff */
  uint64_t rng;                 /* xorshift state: masks and jitter */
  int64_t max_seq;              /* highest Seq passed to on_msg, -1 = none */
  unsigned closing;             /* handles (and conn) still to close before free */
  bool freeing, stopped;
};

/* What an attempt leaves behind for on_close and the reconnect decision. */
typedef struct rx_end {
  int code;
  int http_status;
  bool kicked;
  char reason[124];
} rx_end;

static void conn_abort(rx_conn *c);
static void conn_fail(rx_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ws_send(rx_conn *c);
static void plain_input(rx_conn *c, char *data, size_t len);
static void tls_input(rx_conn *c, const char *data, size_t len);
static void on_eof(rx_conn *c);
static void on_timer(uv_timer_t *t);

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                        */
/* ------------------------------------------------------------------------------------ */

static bool dead(const rx_conn *c)
{
  return c->phase == PH_DEAD;
}

static uint64_t rng_next(uint64_t *s)
{
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void set_reason(rx_conn *c, const char *text, size_t len)
{
  if (len >= sizeof c->reason)
    len = sizeof c->reason - 1;
  memcpy(c->reason, text, len);
  c->reason[len] = '\0';
}

static void emit_error(imcast_receiver *r, int err, int status, const char *detail,
                       size_t len)
{
  if (!r->freeing && r->cb.on_error)
    r->cb.on_error(r->user, err, status, detail, len);
}

/* A server event we could not use: reported, not fatal (the connection carries on). */
static void proto_error(rx_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void proto_error(rx_conn *c, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  // False positive: va_start is the line above; the v14 checker misses it in this file
  // (its path starts at this call).
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see above
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  emit_error(c->r, IMCAST_RX_EPROTO, 0, msg, n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

static void timer_set(imcast_receiver *r, rx_timer_use use, uint64_t ms, uint64_t repeat)
{
  if (r->freeing)
    return;
  r->timer_use = use;
  uv_timer_start(&r->timer, on_timer, ms, repeat);
}

static void timer_stop(imcast_receiver *r)
{
  r->timer_use = T_NONE;
  uv_timer_stop(&r->timer);
}

static void flush_soon(imcast_receiver *r);
static void ack_later(imcast_receiver *r);

/* ------------------------------------------------------------------------------------ */
/* Per-thread scratch                                                                   */
/* ------------------------------------------------------------------------------------ */

static int scratch_acquire(void)
{
  if (tl_scratch == NULL && (tl_scratch = calloc(1, sizeof *tl_scratch)) == NULL)
    return -1;
  tl_receivers++;
  return 0;
}

static void scratch_release(void)
{
  if (--tl_receivers == 0) {
    free(tl_scratch);
    tl_scratch = NULL;
  }
}

/* ------------------------------------------------------------------------------------ */
/* Output: raw TCP, TLS, and the per-turn frame batch                                   */
/* ------------------------------------------------------------------------------------ */

typedef struct rx_write {
  uv_write_t req;
  rx_conn *c;
  char data[];
} rx_write;

static void on_write(uv_write_t *req, int status)
{
  rx_write *w = CONTAINER_OF(req, rx_write, req);
  rx_conn *c = w->c;
  free(w);
  c->writes_pending--;
  if (status < 0 && status != UV_ECANCELED)
    conn_fail(c, status, "write failed: %s", uv_strerror(status));
}

/* Writes bytes to the socket in order: directly if nothing is queued, else (or for what
 * the kernel did not take) through a heap copy owned by its write request. */
static int raw_write(rx_conn *c, const char *data, size_t len)
{
  if (dead(c))
    return UV_ECANCELED;
  uv_stream_t *s = (uv_stream_t *)&c->tcp;
  if (c->writes_pending == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(s, &b, 1);
    if (n >= 0 && (size_t)n == len)
      return 0;
    if (n > 0) {
      data += n;
      len -= (size_t)n;
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      return n;
    }
  }
  rx_write *w = malloc(sizeof *w + len);
  if (w == NULL)
    return UV_ENOMEM;
  w->c = c;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  int rc = uv_write(&w->req, s, &b, 1, on_write);
  if (rc < 0) {
    free(w);
    return rc;
  }
  c->writes_pending++;
  return 0;
}

/* Moves whatever TLS produced (handshake records, encrypted data) to the socket. */
static int tls_drain(rx_conn *c)
{
  BIO *wb = SSL_get_wbio(c->ssl);
  int n;
  while ((n = BIO_read(wb, tl_scratch->tls_out, sizeof tl_scratch->tls_out)) > 0) {
    int rc = raw_write(c, tl_scratch->tls_out, (size_t)n);
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* Application bytes: through TLS when there is one. */
static int write_plain(rx_conn *c, const char *data, size_t len)
{
  if (len == 0)
    return 0;
  if (c->ssl == NULL)
    return raw_write(c, data, len);
  if (SSL_write(c->ssl, data, (int)len) <= 0) {
    ERR_clear_error();
    return IMCAST_RX_ETLS;
  }
  return tls_drain(c);
}

static int out_flush(rx_conn *c)
{
  size_t n = tl_scratch->out_len;
  tl_scratch->out_len = 0;
  return write_plain(c, tl_scratch->out, n);
}

/* Appends to the batch that the current flush will write with one call. */
static int out_append(rx_conn *c, const void *data, size_t len)
{
  rx_scratch *s = tl_scratch;
  if (s->out_len + len > sizeof s->out) {
    int rc = out_flush(c);
    if (rc < 0)
      return rc;
    if (len > sizeof s->out)
      return write_plain(c, data, len);
  }
  memcpy(s->out + s->out_len, data, len);
  s->out_len += len;
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* End of an attempt                                                                    */
/* ------------------------------------------------------------------------------------ */

static void receiver_destroy(imcast_receiver *r)
{
  free(r->head);
  free(r->host);
  SSL_CTX_free(r->ssl_ctx);
  free(r);
  scratch_release();
}

static void receiver_unref(imcast_receiver *r)
{
  if (--r->closing == 0)
    receiver_destroy(r);
}

static void on_handle_closed(uv_handle_t *h)
{
  receiver_unref(h->data);
}

static bool should_reconnect(const imcast_receiver *r, const rx_end *e)
{
  if (r->stopped || r->freeing || r->backoff_initial_ms == 0 || e->kicked)
    return false;
  /* A 4xx means our credentials or request are wrong: retrying cannot help. */
  int s = e->http_status;
  return !(s >= 400 && s < 500 && s != 408 && s != 429);
}

/* Equal jitter: half the exponential delay plus a random part of the other half, so
 * thousands of receivers dropped together do not come back together. */
static uint64_t backoff_ms(imcast_receiver *r)
{
  unsigned shift = r->failures < 20 ? r->failures : 20;
  uint64_t d = (uint64_t)r->backoff_initial_ms << shift;
  if (d > r->backoff_max_ms)
    d = r->backoff_max_ms;
  r->failures++;
  return d / 2 + rng_next(&r->rng) % (d / 2 + 1);
}

/* Decides what follows an attempt, then tells the application. */
static void attempt_ended(imcast_receiver *r, const rx_end *e)
{
  if (r->freeing)
    return;
  bool again = should_reconnect(r, e);
  r->state = again ? IMCAST_RX_WAITING : IMCAST_RX_STOPPED;
  if (again)
    timer_set(r, T_BACKOFF, backoff_ms(r), 0);
  if (r->cb.on_close)
    r->cb.on_close(r->user, e->code, e->reason, again);
}

static void conn_destroy(rx_conn *c)
{
  if (c->ws != NULL)
    wslay_event_context_free(c->ws);
  SSL_free(c->ssl);
  free(c->hs);
  if (c->ai_list != NULL)
    uv_freeaddrinfo(c->ai_list);
  free(c);
}

static void conn_unref(rx_conn *c)
{
  if (--c->refs > 0)
    return;
  imcast_receiver *r = c->r;
  rx_end e = {.code = c->close_received ? c->close_code : 1006,
              .http_status = c->http_status,
              .kicked = c->kicked || (c->close_received && c->close_code == 4001)};
  memcpy(e.reason, c->reason, sizeof e.reason);
  conn_destroy(c);
  r->conn = NULL;
  if (r->freeing)
    receiver_unref(r); /* imcast_receiver_free counted this attempt */
  else
    attempt_ended(r, &e);
}

static void connect_next(rx_conn *c);

static void on_tcp_closed(uv_handle_t *h)
{
  rx_conn *c = h->data;
  c->tcp_closing = false;
  if (c->tcp_retry && !dead(c)) {
    /* A failed connect leaves a socket of the wrong family or in error: try the next
     * address on a fresh handle. */
    c->tcp_retry = false;
    c->tcp_used = false;
    uv_tcp_init(c->r->loop, &c->tcp);
    c->tcp.data = c;
    connect_next(c);
    return;
  }
  conn_unref(c);
}

static void close_tcp(rx_conn *c)
{
  if (!c->tcp_closing) {
    c->tcp_closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
  }
}

/* Ends the attempt without telling anyone yet: on_close comes from the close callback. */
static void conn_abort(rx_conn *c)
{
  if (dead(c))
    return;
  c->phase = PH_DEAD;
  c->tcp_retry = false;
  timer_stop(c->r);
  uv_check_stop(&c->r->flush);
  uv_timer_stop(&c->r->ack_timer);
  if (c->gai != NULL)
    uv_cancel((uv_req_t *)c->gai);
  close_tcp(c);
}

/* Ends the attempt on an error: on_error now, on_close once the handle has closed. */
static void conn_fail(rx_conn *c, int err, const char *fmt, ...)
{
  if (dead(c))
    return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  // False positive: va_start is the line above; the v14 checker misses it in this file
  // (its path starts at this call).
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see above
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
  set_reason(c, msg, len);
  imcast_receiver *r = c->r;
  conn_abort(c); /* first, so the callback already sees a closing receiver */
  emit_error(r, err, 0, msg, len);
}

/* ------------------------------------------------------------------------------------ */
/* Connecting                                                                           */
/* ------------------------------------------------------------------------------------ */

static void tls_start(rx_conn *c);
static void send_upgrade(rx_conn *c);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  buf->base = tl_scratch->read;
  buf->len = sizeof tl_scratch->read;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  rx_conn *c = s->data;
  if (dead(c))
    return;
  if (nread > 0) {
    c->last_rx_ms = uv_now(c->r->loop);
    if (c->ssl != NULL)
      tls_input(c, buf->base, (size_t)nread);
    else
      plain_input(c, buf->base, (size_t)nread);
  } else if (nread == UV_EOF) {
    on_eof(c);
  } else if (nread < 0) {
    conn_fail(c, (int)nread, "read failed: %s", uv_strerror((int)nread));
  }
}

static void on_connect(uv_connect_t *req, int status)
{
  rx_conn *c = CONTAINER_OF(req, rx_conn, connect_req);
  if (status == UV_ECANCELED || dead(c))
    return;
  if (status < 0) {
    c->connect_err = status;
    connect_next(c);
    return;
  }
  if (c->ai_list != NULL) {
    uv_freeaddrinfo(c->ai_list);
    c->ai_list = c->ai_next = NULL;
  }
  uv_tcp_nodelay(&c->tcp, 1); /* acks are tiny and latency is the point */
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0) {
    conn_fail(c, rc, "cannot read: %s", uv_strerror(rc));
    return;
  }
  if (c->r->ssl_ctx != NULL)
    tls_start(c);
  else
    send_upgrade(c);
}

/* connect_to and connect_next call each other, at most once: connect_to sets tcp_used before
** it may call connect_next, which then closes the handle and returns instead of calling back. */
static void connect_to(rx_conn *c, const struct sockaddr *sa) // NOLINT(misc-no-recursion): see above
{
  c->tcp_used = true;
  int rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
  if (rc < 0) {
    c->connect_err = rc;
    connect_next(c);
  }
}

/* Tries the next resolved address, or fails with the last address's error. */
static void connect_next(rx_conn *c) // NOLINT(misc-no-recursion): bounded, see connect_to
{
  while (c->ai_next != NULL && c->ai_next->ai_family != AF_INET &&
         c->ai_next->ai_family != AF_INET6)
    c->ai_next = c->ai_next->ai_next;
  if (c->ai_next == NULL) {
    int err = c->connect_err ? c->connect_err : UV_EADDRNOTAVAIL;
    conn_fail(c, err, "cannot connect to %s:%u: %s", c->r->host, (unsigned)c->r->port,
              uv_strerror(err));
    return;
  }
  if (c->tcp_used) {
    c->tcp_retry = true; /* on_tcp_closed comes back here with a fresh handle */
    close_tcp(c);
    return;
  }
  struct addrinfo *ai = c->ai_next;
  c->ai_next = ai->ai_next;
  connect_to(c, ai->ai_addr);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  rx_conn *c = req->data;
  c->gai = NULL;
  free(req);
  if (dead(c)) {
    if (res != NULL)
      uv_freeaddrinfo(res);
  } else if (status < 0) {
    conn_fail(c, status, "cannot resolve %s: %s", c->r->host, uv_strerror(status));
  } else {
    c->ai_list = c->ai_next = res;
    connect_next(c);
  }
  conn_unref(c);
}

static void resolve(rx_conn *c)
{
  imcast_receiver *r = c->r;
  uv_getaddrinfo_t *req = malloc(sizeof *req);
  if (req == NULL) {
    conn_fail(c, UV_ENOMEM, "out of memory");
    return;
  }
  req->data = c;
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)r->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(r->loop, req, on_resolved, r->host, port, &hints);
  if (rc < 0) {
    free(req);
    conn_fail(c, rc, "cannot resolve %s: %s", r->host, uv_strerror(rc));
    return;
  }
  c->gai = req;
  c->refs++;
}

static int attempt_start(imcast_receiver *r)
{
  rx_conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return UV_ENOMEM;
  int rc = uv_tcp_init(r->loop, &c->tcp);
  if (rc < 0) {
    free(c);
    return rc;
  }
  c->tcp.data = c;
  c->r = r;
  c->refs = 1;
  c->ack_pending = c->ack_sent = -1;
  c->phase = PH_CONNECT;
  r->conn = c;
  timer_set(r, T_CONNECT, r->connect_timeout_ms, 0);
  if (!r->host_is_ip) {
    resolve(c);
    return 0;
  }
  struct sockaddr_storage ss;
  if (r->host_is_ip6)
    uv_ip6_addr(r->host, r->port, (struct sockaddr_in6 *)&ss);
  else
    uv_ip4_addr(r->host, r->port, (struct sockaddr_in *)&ss);
  connect_to(c, (struct sockaddr *)&ss);
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* TLS (memory BIOs: libuv moves the ciphertext, OpenSSL never touches the socket)      */
/* ------------------------------------------------------------------------------------ */

static void tls_fail(rx_conn *c, const char *what)
{
  char detail[160] = "";
  long vr = SSL_get_verify_result(c->ssl);
  unsigned long e = ERR_get_error();
  if (vr != X509_V_OK)
    snprintf(detail, sizeof detail, "certificate: %s", X509_verify_cert_error_string(vr));
  else if (e != 0)
    ERR_error_string_n(e, detail, sizeof detail);
  else
    snprintf(detail, sizeof detail, "connection closed");
  ERR_clear_error(); /* the error queue is per thread: leave it clean for others */
  conn_fail(c, IMCAST_RX_ETLS, "%s: %s", what, detail);
}

static void tls_handshake(rx_conn *c)
{
  int rc = SSL_do_handshake(c->ssl);
  int wrc = tls_drain(c);
  if (wrc < 0) {
    conn_fail(c, wrc, "write failed: %s", uv_strerror(wrc));
    return;
  }
  if (rc == 1) {
    send_upgrade(c);
    return;
  }
  if (SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ)
    tls_fail(c, "TLS handshake failed");
}

static void tls_start(rx_conn *c)
{
  imcast_receiver *r = c->r;
  SSL *ssl = SSL_new(r->ssl_ctx);
  BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
  if (ssl == NULL || rb == NULL || wb == NULL) {
    SSL_free(ssl);
    BIO_free(rb);
    BIO_free(wb);
    ERR_clear_error();
    conn_fail(c, UV_ENOMEM, "cannot create a TLS session");
    return;
  }
  SSL_set_bio(ssl, rb, wb);
  SSL_set_connect_state(ssl);
  SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS); /* idle connections give buffers back */
  SSL_set_verify(ssl, r->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  if (!r->host_is_ip)
    SSL_set_tlsext_host_name(ssl, r->host);
  if (r->tls_verify) {
    if (r->host_is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), r->host);
    else
      SSL_set1_host(ssl, r->host);
  }
  c->ssl = ssl;
  c->phase = PH_TLS;
  tls_handshake(c);
}

static void tls_input(rx_conn *c, const char *data, size_t len)
{
  if (BIO_write(SSL_get_rbio(c->ssl), data, (int)len) != (int)len) {
    ERR_clear_error();
    conn_fail(c, UV_ENOMEM, "out of memory");
    return;
  }
  if (c->phase == PH_TLS) {
    tls_handshake(c);
    if (c->phase == PH_TLS || dead(c))
      return;
  }
  for (;;) {
    int n = SSL_read(c->ssl, tl_scratch->plain, sizeof tl_scratch->plain);
    if (n > 0) {
      plain_input(c, tl_scratch->plain, (size_t)n);
      if (dead(c))
        return;
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ)
      break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      on_eof(c);
      return;
    }
    tls_fail(c, "TLS read failed");
    return;
  }
  int rc = tls_drain(c); /* post-handshake messages may need an answer */
  if (rc < 0)
    conn_fail(c, rc, "write failed: %s", uv_strerror(rc));
}

/* ------------------------------------------------------------------------------------ */
/* HTTP upgrade                                                                         */
/* ------------------------------------------------------------------------------------ */

static void ws_open(rx_conn *c, const char *rest, size_t rest_len);

static void send_upgrade(rx_conn *c)
{
  char key[25];
  if (imcast_rx_ws_key(key) != 0 || imcast_rx_ws_accept(key, c->accept) != 0) {
    ERR_clear_error();
    conn_fail(c, IMCAST_RX_EHANDSHAKE, "cannot make a Sec-WebSocket-Key");
    return;
  }
  c->phase = PH_UPGRADE;
  static const char kh[] = "Sec-WebSocket-Key: ", end[] = "\r\n\r\n";
  int rc = out_append(c, c->r->head, strlen(c->r->head));
  if (rc == 0)
    rc = out_append(c, kh, sizeof kh - 1);
  if (rc == 0)
    rc = out_append(c, key, 24);
  if (rc == 0)
    rc = out_append(c, end, sizeof end - 1);
  int frc = out_flush(c);
  if (rc == 0)
    rc = frc;
  if (rc < 0)
    conn_fail(c, rc, "cannot send the upgrade request: %s", imcast_receiver_strerror(rc));
}

static int hs_keep(rx_conn *c, const char *data, size_t len)
{
  if (len == 0)
    return 0;
  char *p = realloc(c->hs, c->hs_len + len);
  if (p == NULL)
    return UV_ENOMEM;
  memcpy(p + c->hs_len, data, len);
  c->hs = p;
  c->hs_len += len;
  return 0;
}

/* The server said no: wait for the body (the JSON envelope), then report it. Returns
 * false while more bytes are needed. */
static bool upgrade_refused(rx_conn *c, const imcast_rx_http_head *h, char *buf, size_t n,
                            bool eof)
{
  char *body = buf + h->head_len;
  size_t blen = 0;
  int rc = imcast_rx_http_body(h, body, n - h->head_len, eof, &blen);
  if (rc == 0)
    return false;
  if (rc < 0)
    blen = n - h->head_len; /* badly framed: show what came */
  char *copy = malloc(blen + 1);
  if (copy != NULL) {
    // False positive: buf (so body) is NULL only for an EOF with nothing kept (n == 0),
    // and imcast_rx_http_parse_head, in another file, never finds a whole head (rc 1, the
    // only way here) in 0 bytes.
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): see above
    memcpy(copy, body, blen);
    copy[blen] = '\0';
  }
  c->http_status = h->status;
  char reason[32];
  int rn = snprintf(reason, sizeof reason, "HTTP %d", h->status);
  set_reason(c, reason, (size_t)rn);
  imcast_receiver *r = c->r;
  conn_abort(c);
  emit_error(r, IMCAST_RX_EHTTP, h->status, copy ? copy : "", copy ? blen : 0);
  free(copy);
  return true;
}

static const char *upgrade_problem(const rx_conn *c, const imcast_rx_http_head *h)
{
  if (!h->upgrade_websocket)
    return "101 without Upgrade: websocket";
  if (!h->connection_upgrade)
    return "101 without Connection: Upgrade";
  if (h->accept == NULL || h->accept_len != 28 || memcmp(h->accept, c->accept, 28) != 0)
    return "wrong Sec-WebSocket-Accept";
  if (h->has_extensions || h->has_protocol)
    return "101 with an extension or subprotocol we did not offer";
  return NULL;
}

/* Handles response bytes; eof says the server has closed. */
static void upgrade_input(rx_conn *c, char *data, size_t len, bool eof)
{
  char *buf = data;
  size_t n = len;
  if (c->hs_len > 0) {
    if (hs_keep(c, data, len) < 0) {
      conn_fail(c, UV_ENOMEM, "out of memory");
      return;
    }
    buf = c->hs;
    n = c->hs_len;
  }
  imcast_rx_http_head h;
  int rc = imcast_rx_http_parse_head(buf, n, &h);
  if (rc < 0) {
    conn_fail(c, IMCAST_RX_EHANDSHAKE, "malformed HTTP response to the upgrade");
    return;
  }
  bool done = false;
  if (rc == 1 && h.status == 101) {
    const char *problem = upgrade_problem(c, &h);
    if (problem != NULL) {
      conn_fail(c, IMCAST_RX_EHANDSHAKE, "%s", problem);
      return;
    }
    char *held = c->hs; /* the bytes after the head may already be frames */
    c->hs = NULL;
    c->hs_len = 0;
    ws_open(c, buf + h.head_len, n - h.head_len);
    free(held);
    return;
  }
  if (rc == 1)
    done = upgrade_refused(c, &h, buf, n, eof);
  if (done)
    return;
  if (eof) {
    conn_fail(c, IMCAST_RX_EHANDSHAKE, "server closed the connection during the upgrade");
    return;
  }
  if (buf == data && hs_keep(c, data, len) < 0)
    conn_fail(c, UV_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------------------ */
/* WebSocket (wslay event API)                                                          */
/* ------------------------------------------------------------------------------------ */

static ssize_t ws_recv_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, int flags,
                          void *ud)
{
  rx_conn *c = ud;
  if (c->in_len == 0 || dead(c)) {
    wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < c->in_len ? len : c->in_len;
  memcpy(buf, c->in, n);
  c->in += n;
  c->in_len -= n;
  return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ws, const uint8_t *data, size_t len,
                          int flags, void *ud)
{
  if (out_append(ud, data, len) < 0) {
    wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return (ssize_t)len;
}

static int ws_genmask_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, void *ud)
{
  rx_conn *c = ud;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t x = rng_next(&c->r->rng);
    memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
  }
  return 0;
}

/* Queues an Ack for the highest Seq not yet acknowledged. */
static void queue_ack(rx_conn *c)
{
  if (c->ack_pending <= c->ack_sent || c->ws == NULL)
    return;
  char text[64];
  int n = snprintf(text, sizeof text, "{\"Event\":\"Ack\",\"Seq\":%lld}",
                   (long long)c->ack_pending);
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, (size_t)n};
  if (wslay_event_queue_msg(c->ws, &m) == 0)
    c->ack_sent = c->ack_pending;
}

static void ws_frame_start_cb(wslay_event_context_ptr ws,
                              const struct wslay_event_on_frame_recv_start_arg *a, void *ud)
{
  rx_conn *c = ud;
  if (a->opcode == WSLAY_CONNECTION_CLOSE && !dead(c) && c->ack_pending > c->ack_sent) {
    /* wslay is about to queue its close reply, which jumps ahead of queued data: send
     * the Ack for what we received before the server's close first. */
    queue_ack(c);
    ws_send(c);
  }
}

static void dispatch_event(rx_conn *c, const char *text, size_t len);

static void ws_msg_cb(wslay_event_context_ptr ws, const struct wslay_event_on_msg_recv_arg *a,
                      void *ud)
{
  rx_conn *c = ud;
  if (dead(c))
    return;
  if (a->opcode == WSLAY_TEXT_FRAME) {
    dispatch_event(c, (const char *)a->msg, a->msg_length);
  } else if (a->opcode == WSLAY_BINARY_FRAME) {
    proto_error(c, "server sent a binary frame (%zu bytes); ignored", a->msg_length);
  } else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
    c->close_received = true;
    c->close_code = a->status_code ? a->status_code : 1005;
    if (a->msg_length > 2)
      set_reason(c, (const char *)a->msg + 2, a->msg_length - 2);
    else
      c->reason[0] = '\0';
  }
  if (dead(c))
    wslay_event_shutdown_read(ws); /* the application freed or closed us: stop parsing */
}

/* Sends whatever wslay has queued, as one write. */
static void ws_send(rx_conn *c)
{
  if (c->ws == NULL || dead(c))
    return;
  int rc = wslay_event_send(c->ws);
  int frc = out_flush(c);
  if (rc != 0 || frc < 0) {
    conn_fail(c, frc < 0 ? frc : IMCAST_RX_EWS, "write failed: %s",
              imcast_receiver_strerror(frc < 0 ? frc : IMCAST_RX_EWS));
    return;
  }
  if (c->phase == PH_WS && wslay_event_get_close_sent(c->ws)) {
    /* Our close frame is out (an answer or our own): wait for the server's close and for
     * it to end the TCP connection, which leaves TIME_WAIT on its side, not ours. */
    c->phase = PH_CLOSING;
    timer_set(c->r, T_CLOSE, RX_CLOSE_WAIT_MS, 0);
  }
}

static void ws_feed(rx_conn *c, const char *data, size_t len)
{
  c->in = data;
  c->in_len = len;
  int rc = wslay_event_recv(c->ws);
  c->in = NULL;
  c->in_len = 0;
  if (dead(c))
    return;
  if (rc != 0) {
    conn_fail(c, IMCAST_RX_EWS, "cannot process server frames (wslay %d)", rc);
    return;
  }
  bool refused = !wslay_event_get_read_enabled(c->ws) && !c->close_received &&
                 c->phase == PH_WS;
  ws_send(c);
  if (refused && !dead(c))
    proto_error(c, "server broke the WebSocket framing; closing with %u",
                (unsigned)wslay_event_get_status_code_sent(c->ws));
}

static void ws_open(rx_conn *c, const char *rest, size_t rest_len)
{
  struct wslay_event_callbacks cbs = {
      .recv_callback = ws_recv_cb,
      .send_callback = ws_send_cb,
      .genmask_callback = ws_genmask_cb,
      .on_frame_recv_start_callback = ws_frame_start_cb,
      .on_msg_recv_callback = ws_msg_cb,
  };
  if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0) {
    c->ws = NULL;
    conn_fail(c, UV_ENOMEM, "out of memory");
    return;
  }
  wslay_event_config_set_max_recv_msg_length(c->ws, RX_MAX_MSG);
  c->phase = PH_WS;
  c->last_rx_ms = uv_now(c->r->loop);
  if (rest_len > 0)
    ws_feed(c, rest, rest_len);
}

static void plain_input(rx_conn *c, char *data, size_t len)
{
  if (c->phase == PH_UPGRADE)
    upgrade_input(c, data, len, false);
  else if (c->phase == PH_WS || c->phase == PH_CLOSING)
    ws_feed(c, data, len);
}

static void on_eof(rx_conn *c)
{
  switch (c->phase) {
  case PH_UPGRADE:
    upgrade_input(c, NULL, 0, true);
    break;
  case PH_WS:
    if (!c->close_received) {
      static const char why[] = "connection closed without a close frame";
      set_reason(c, why, sizeof why - 1);
    }
    conn_abort(c);
    break;
  case PH_CLOSING:
    conn_abort(c);
    break;
  default:
    conn_fail(c, UV_EOF, "server closed the connection during the %s",
              c->phase == PH_TLS ? "TLS handshake" : "connect");
    break;
  }
}

/* ------------------------------------------------------------------------------------ */
/* Events                                                                               */
/* ------------------------------------------------------------------------------------ */

static bool get_int(json_t *ev, const char *key, int64_t min, int64_t max, int64_t *out)
{
  json_t *v = json_object_get(ev, key);
  if (!json_is_integer(v))
    return false;
  json_int_t x = json_integer_value(v);
  if (x < min || x > max)
    return false;
  *out = x;
  return true;
}

static void on_hello_event(rx_conn *c, json_t *ev)
{
  imcast_receiver *r = c->r;
  const char *uid = json_string_value(json_object_get(ev, "UserID"));
  int64_t t, ping;
  if (uid == NULL || !get_int(ev, "ServerTime", INT64_MIN, INT64_MAX, &t) ||
      !get_int(ev, "PingSec", 0, 86400, &ping)) {
    proto_error(c, "Hello needs UserID, ServerTime and PingSec (0..86400)");
    return;
  }
  c->hello = true;
  r->failures = 0;
  c->ping_ms = (uint32_t)ping * 1000;
  if (c->phase == PH_WS && c->ping_ms > 0)
    timer_set(r, T_PING, c->ping_ms, c->ping_ms);
  else if (c->phase == PH_WS)
    timer_stop(r); /* the connect timeout is over */
  if (r->cb.on_hello && !r->freeing)
    r->cb.on_hello(r->user, uid, t, (int)ping);
}

static void on_msg_event(rx_conn *c, json_t *ev, const char *text, size_t len)
{
  imcast_receiver *r = c->r;
  imcast_msg m = {.json = text, .json_len = len};
  int64_t rnd;
  json_t *to = json_object_get(ev, "To_Account");
  m.task_id = json_string_value(json_object_get(ev, "TaskId"));
  m.from_account = json_string_value(json_object_get(ev, "From_Account"));
  m.to_account = json_string_value(to);
  int has_body = imcast_rx_json_member(text, len, "MsgBody", &m.body_json, &m.body_json_len);
  if (!get_int(ev, "Seq", 0, INT64_MAX, &m.seq) || m.task_id == NULL ||
      m.from_account == NULL || (to != NULL && !json_is_null(to) && m.to_account == NULL) ||
      !get_int(ev, "MsgRandom", 0, UINT32_MAX, &rnd) ||
      !get_int(ev, "MsgTime", INT64_MIN, INT64_MAX, &m.msg_time) || has_body != 1 ||
      m.body_json[0] != '[') {
    proto_error(c, "Msg needs Seq, TaskId, From_Account, MsgRandom, MsgTime and a MsgBody "
                   "array: %.*s", len > 120 ? 120 : (int)len, text);
    return;
  }
  m.msg_random = (uint32_t)rnd;
  if (imcast_rx_json_member(text, len, "OfflinePushInfo", &m.offline_push_json,
                            &m.offline_push_json_len) != 1)
    m.offline_push_json = NULL;
  m.maybe_duplicate = m.seq <= r->max_seq;
  if (m.seq > r->max_seq)
    r->max_seq = m.seq;
  if (r->cb.on_msg && !r->freeing)
    r->cb.on_msg(r->user, &m);
  if (!r->manual_ack && c->phase == PH_WS && m.seq > c->ack_pending) {
    c->ack_pending = m.seq;
    ack_later(r);
  }
}

static void on_revoke_event(rx_conn *c, json_t *ev)
{
  imcast_receiver *r = c->r;
  int64_t seq;
  const char *task = json_string_value(json_object_get(ev, "TaskId"));
  if (!get_int(ev, "Seq", 0, INT64_MAX, &seq) || task == NULL) {
    proto_error(c, "Revoke needs Seq and TaskId");
    return;
  }
  if (r->cb.on_revoke && !r->freeing)
    r->cb.on_revoke(r->user, seq, task);
}

static void on_kicked_event(rx_conn *c, json_t *ev)
{
  imcast_receiver *r = c->r;
  const char *reason = json_string_value(json_object_get(ev, "Reason"));
  c->kicked = true; /* whatever follows, do not come back */
  if (r->cb.on_kicked && !r->freeing)
    r->cb.on_kicked(r->user, reason ? reason : "");
}

static void dispatch_event(rx_conn *c, const char *text, size_t len)
{
  json_error_t jerr;
  json_t *ev = json_loadb(text, len, 0, &jerr);
  const char *name = json_string_value(json_object_get(ev, "Event"));
  if (name == NULL)
    proto_error(c, "not a JSON event (%s): %.*s", ev ? "no Event" : jerr.text,
                len > 120 ? 120 : (int)len, text);
  else if (strcmp(name, "Msg") == 0)
    on_msg_event(c, ev, text, len);
  else if (strcmp(name, "Hello") == 0)
    on_hello_event(c, ev);
  else if (strcmp(name, "Revoke") == 0)
    on_revoke_event(c, ev);
  else if (strcmp(name, "Kicked") == 0)
    on_kicked_event(c, ev);
  /* Other events are ignored: a newer server may add some. */
  json_decref(ev);
}

/* ------------------------------------------------------------------------------------ */
/* Timers and the per-turn flush                                                        */
/* ------------------------------------------------------------------------------------ */

static void ping_tick(rx_conn *c)
{
  uint64_t now = uv_now(c->r->loop);
  if (now - c->last_rx_ms >= 3ull * c->ping_ms) {
    conn_fail(c, IMCAST_RX_ESILENT, "nothing from the server for %u s",
              (unsigned)(3 * (c->ping_ms / 1000)));
    return;
  }
  struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
  if (wslay_event_queue_msg(c->ws, &m) == 0)
    ws_send(c);
}

static void on_timer(uv_timer_t *t)
{
  imcast_receiver *r = t->data;
  rx_conn *c = r->conn;
  rx_timer_use use = r->timer_use;
  if (use != T_PING)
    r->timer_use = T_NONE;
  if (use == T_BACKOFF) {
    int rc = attempt_start(r);
    if (rc < 0) {
      rx_end e = {.code = 1006};
      snprintf(e.reason, sizeof e.reason, "%s", uv_strerror(rc));
      emit_error(r, rc, 0, e.reason, strlen(e.reason));
      attempt_ended(r, &e);
    }
  } else if (c == NULL || dead(c)) {
    return;
  } else if (use == T_CONNECT) {
    conn_fail(c, UV_ETIMEDOUT, "no Hello within %u ms", (unsigned)r->connect_timeout_ms);
  } else if (use == T_PING) {
    ping_tick(c);
  } else if (use == T_CLOSE) {
    if (!c->close_received) {
      static const char why[] = "close handshake timed out";
      set_reason(c, why, sizeof why - 1);
    }
    conn_abort(c);
  }
}

/* Once per loop turn: the Ack for everything received this turn, frames the
 * application queued, and then its close request (after them, not before). */
static void on_flush(uv_check_t *h)
{
  imcast_receiver *r = h->data;
  rx_conn *c = r->conn;
  uv_check_stop(h);
  if (c == NULL || c->phase != PH_WS)
    return;
  queue_ack(c);
  ws_send(c);
  if (c->phase == PH_WS && c->close_req != 0) {
    wslay_event_queue_close(c->ws, (uint16_t)c->close_req, NULL, 0);
    c->close_req = 0;
    ws_send(c);
  }
}

static void flush_soon(imcast_receiver *r)
{
  if (!r->freeing)
    uv_check_start(&r->flush, on_flush);
}

/* Sends now: a uv_check armed from a timer would wait for the next I/O event, as the
 * loop does not leave its poll for an active check handle. */
static void on_ack_timer(uv_timer_t *t)
{
  imcast_receiver *r = t->data;
  on_flush(&r->flush);
}

/* An automatic Ack: with the turn's other frames, or once ack_delay_ms has passed since
 * the first push it covers (later pushes ride on the same Ack). */
static void ack_later(imcast_receiver *r)
{
  if (r->ack_delay_ms == IMCAST_RX_ACK_NOW)
    flush_soon(r);
  else if (!r->freeing && !uv_is_active((uv_handle_t *)&r->ack_timer))
    uv_timer_start(&r->ack_timer, on_ack_timer, r->ack_delay_ms, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Public API                                                                           */
/* ------------------------------------------------------------------------------------ */

static int tls_setup(imcast_receiver *r, const imcast_receiver_options *o)
{
  r->tls_verify = !o->tls_insecure;
  if (o->ssl_ctx != NULL) {
    r->ssl_ctx = o->ssl_ctx;
    return SSL_CTX_up_ref(r->ssl_ctx) == 1 ? 0 : -1;
  }
  r->ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (r->ssl_ctx == NULL)
    return -1;
  SSL_CTX_set_min_proto_version(r->ssl_ctx, TLS1_2_VERSION);
  int ok = o->ca_file ? SSL_CTX_load_verify_locations(r->ssl_ctx, o->ca_file, NULL)
                      : SSL_CTX_set_default_verify_paths(r->ssl_ctx);
  return ok == 1 ? 0 : -1;
}

static uint64_t seed(const void *p)
{
  uint64_t s = 0;
  if (RAND_bytes((unsigned char *)&s, sizeof s) != 1) {
    ERR_clear_error();
    s = (uint64_t)(uintptr_t)p ^ uv_hrtime();
  }
  return s ? s : 0x9E3779B97F4A7C15ULL; /* xorshift must not start at 0 */
}

imcast_receiver *imcast_receiver_new(uv_loop_t *loop, const imcast_receiver_options *o)
{
  imcast_rx_url u;
  if (loop == NULL || o == NULL || o->identifier == NULL || o->identifier[0] == '\0' ||
      o->usersig == NULL || o->usersig[0] == '\0' || imcast_rx_url_parse(o->url, &u) != 0)
    return NULL;
  if (scratch_acquire() != 0)
    return NULL;
  imcast_receiver *r = calloc(1, sizeof *r);
  if (r == NULL) {
    scratch_release();
    return NULL;
  }
  r->head = imcast_rx_request_head(&u, o->sdkappid, o->identifier, o->usersig);
  r->host = strdup(u.host);
  if (r->head == NULL || r->host == NULL || (u.tls && tls_setup(r, o) != 0)) {
    ERR_clear_error();
    receiver_destroy(r);
    return NULL;
  }
  r->loop = loop;
  r->cb = o->cb;
  r->user = o->user;
  r->port = u.port;
  r->host_is_ip = u.host_is_ip;
  r->host_is_ip6 = u.host_is_ip6;
  r->manual_ack = o->manual_ack != 0;
  r->ack_delay_ms = o->ack_delay_ms ? o->ack_delay_ms : IMCAST_RX_DEFAULT_ACK_DELAY_MS;
  r->backoff_initial_ms = o->reconnect_initial_ms;
  r->backoff_max_ms = o->reconnect_max_ms ? o->reconnect_max_ms : RX_DEFAULT_BACKOFF_MAX_MS;
  if (r->backoff_max_ms < r->backoff_initial_ms)
    r->backoff_max_ms = r->backoff_initial_ms;
  r->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
                                                : RX_DEFAULT_CONNECT_TIMEOUT_MS;
  r->rng = seed(r);
  r->max_seq = -1;
  r->state = IMCAST_RX_IDLE;
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  uv_check_init(loop, &r->flush);
  r->flush.data = r;
  uv_timer_init(loop, &r->ack_timer);
  r->ack_timer.data = r;
  return r;
}

int imcast_receiver_start(imcast_receiver *r)
{
  if (r->freeing)
    return UV_EINVAL;
  if (r->conn != NULL || r->state == IMCAST_RX_WAITING)
    return UV_EALREADY;
  r->stopped = false;
  r->failures = 0;
  r->state = IMCAST_RX_WAITING;
  timer_set(r, T_BACKOFF, 0, 0); /* connect from the loop: no callback runs inside start */
  return 0;
}

int imcast_receiver_ack(imcast_receiver *r, int64_t seq)
{
  rx_conn *c = r->conn;
  if (seq < 0)
    return UV_EINVAL;
  if (c == NULL || c->phase != PH_WS)
    return UV_ENOTCONN;
  if (seq > c->ack_pending) {
    c->ack_pending = seq;
    flush_soon(r);
  }
  return 0;
}

int imcast_receiver_send_text(imcast_receiver *r, const char *text, size_t len)
{
  rx_conn *c = r->conn;
  if (c == NULL || c->phase != PH_WS || c->close_req != 0)
    return UV_ENOTCONN;
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
  if (wslay_event_queue_msg(c->ws, &m) != 0)
    return IMCAST_RX_EWS;
  flush_soon(r);
  return 0;
}

int imcast_receiver_close(imcast_receiver *r, int code)
{
  if (code == 0)
    code = 1000;
  if (code != 1000 && code != 1001 && (code < 3000 || code > 4999))
    return UV_EINVAL;
  if (r->freeing)
    return 0;
  r->stopped = true;
  rx_conn *c = r->conn;
  if (c == NULL) {
    if (r->state == IMCAST_RX_WAITING) {
      timer_stop(r);
      r->state = IMCAST_RX_STOPPED;
    }
    return 0;
  }
  if (c->phase == PH_WS) {
    if (c->close_req == 0)
      c->close_req = code;
    flush_soon(r);
  } else if (c->phase < PH_WS) {
    static const char why[] = "closed by the application before the upgrade";
    set_reason(c, why, sizeof why - 1);
    conn_abort(c);
  }
  return 0;
}

void imcast_receiver_free(imcast_receiver *r)
{
  if (r == NULL || r->freeing)
    return;
  r->freeing = true;
  r->stopped = true;
  r->closing = 3;
  if (r->conn != NULL) {
    r->closing++; /* released in attempt_ended once its handle has closed */
    conn_abort(r->conn);
  }
  uv_close((uv_handle_t *)&r->timer, on_handle_closed);
  uv_close((uv_handle_t *)&r->flush, on_handle_closed);
  uv_close((uv_handle_t *)&r->ack_timer, on_handle_closed);
}

imcast_receiver_state imcast_receiver_get_state(const imcast_receiver *r)
{
  const rx_conn *c = r->conn;
  if (c == NULL)
    return r->freeing ? IMCAST_RX_STOPPED : r->state;
  if (c->phase >= PH_CLOSING)
    return IMCAST_RX_CLOSING;
  return c->phase == PH_WS && c->hello ? IMCAST_RX_OPEN : IMCAST_RX_CONNECTING;
}

const char *imcast_receiver_strerror(int err)
{
  switch (err) {
  case IMCAST_RX_EHTTP:
    return "the server refused the WebSocket upgrade";
  case IMCAST_RX_EHANDSHAKE:
    return "invalid WebSocket upgrade response";
  case IMCAST_RX_EPROTO:
    return "protocol error in a server frame or event";
  case IMCAST_RX_ETLS:
    return "TLS failure";
  case IMCAST_RX_ESILENT:
    return "the server went silent";
  case IMCAST_RX_EWS:
    return "WebSocket layer failure";
  default:
    return err < 0 ? uv_strerror(err) : "no error";
  }
}
