/*
** conn.c — accepted connections: libuv TCP, optional TLS over memory BIOs, batched output,
** input hand-off between protocol handlers, and one sweep timer for every deadline.
**
** What it guarantees is stated in conn.h. How:
** - Reads land in one 64 KiB buffer per hub (libuv calls read_cb right after alloc_cb on
**   the same loop, and every byte is consumed or copied before read_cb returns), so an
**   idle connection owns no read buffer. Bytes a handler leaves unconsumed are copied to
**   a per-connection "kept" buffer until it resumes.
** - Output is a queue of (net_buf, offset, length) segments. One segment is stored inline,
**   so one response or frame per turn costs no queue allocation. A flush hands up to
**   CONN_IOV_BATCH segments to a single uv_try_write (writev); what the kernel leaves is
**   passed to one uv_write whose segments stay referenced until its callback.
** - TLS: SSL reads ciphertext from an rbio and writes to a wbio, both BIO_s_mem. Socket
**   bytes go into the rbio; SSL_read drains plaintext into the handler; everything SSL
**   wants sent (handshake, tickets, alerts, records) is collected from the wbio at flush.
** - Timers: a uv_timer_t per connection would cost 152 bytes each and a heap operation per
**   request. Instead each conn_tq is a FIFO of connections with the same timeout length,
**   hence sorted by deadline; one hub timer is armed for the earliest head and a sweep
**   pops only what expired. Re-arming a connection is an O(1) list move.
** Out-of-memory policy: a connection whose state cannot be allocated is closed; the
** server and every other connection go on.
*/
#include "net/conn.h"
#include "net/ipcount.h"
#include "net/workers.h"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define CONN_READ_BUF (64 * 1024)
#define CONN_IOV_BATCH 64
#define CONN_MIN_COPY_BUF 512
/* A TLS memory BIO that grew past this (a burst) is replaced once empty, so an idle TLS
** connection does not keep its peak buffer. */
#define CONN_TLS_BIO_KEEP ((size_t)16 * 1024)

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---------- intrusive lists ---------- */

static void link_init(net_link *h) { h->prev = h->next = h; }
static bool link_empty(const net_link *h) { return h->next == h; }
static bool link_linked(const net_link *n) { return n->next != NULL; }

static void link_append(net_link *h, net_link *n) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}

static void link_remove(net_link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}

/* ---------- segment queues ---------- */

typedef struct conn_seg {
  net_buf *b;
  uint32_t off, len;
} conn_seg;

/* Segments [head, n) are queued; while heap is NULL the capacity is the inline one. */
typedef struct segq {
  conn_seg *heap;
  conn_seg one;
  uint32_t head, n, cap;
} segq;

static conn_seg *segq_base(segq *q) { return q->heap ? q->heap : &q->one; }
static uint32_t segq_cap(const segq *q) { return q->heap ? q->cap : 1; }
static bool segq_empty(const segq *q) { return q->head == q->n; }
static conn_seg *segq_front(segq *q) { return &segq_base(q)[q->head]; }

static int segq_push(segq *q, net_buf *b, uint32_t len) {
  if (q->n == segq_cap(q)) {
    conn_seg *base = segq_base(q);
    if (q->head > 0) { /* reuse the consumed front */
      memmove(base, base + q->head, (q->n - q->head) * sizeof *base);
      q->n -= q->head;
      q->head = 0;
    } else {
      uint32_t cap = segq_cap(q) < 8 ? 8 : segq_cap(q) * 2; /* the inline one, then doubling */
      conn_seg *v = malloc(cap * sizeof *v);
      if (!v) return -1;
      memcpy(v, base, q->n * sizeof *v);
      free(q->heap);
      q->heap = v;
      q->cap = cap;
    }
  }
  segq_base(q)[q->n++] = (conn_seg){b, 0, len};
  return 0;
}

/* Drops the front segment (its reference); an emptied queue gives back its heap array. */
static void segq_pop(segq *q) {
  net_buf_unref(segq_front(q)->b);
  if (++q->head == q->n) {
    q->head = q->n = 0;
    free(q->heap);
    q->heap = NULL;
    q->cap = 0;
  }
}

static void segq_clear(segq *q) {
  while (!segq_empty(q)) segq_pop(q);
}

/* ---------- structures ---------- */

typedef struct listener {
  uv_tcp_t tcp;
  conn_hub *hub;
  SSL_CTX *tls;
  struct listener *next;
} listener;

struct conn_hub {
  conn_hub_options o;
  uv_timer_t sweep;          /* armed for the earliest deadline of any conn_tq */
  uv_idle_t kick;            /* active while connections are dirty: keeps poll from sleeping */
  bool started;              /* sweep and kick are initialised (first successful listen) */
  bool timer_armed, kick_active, stopping, finished;
  uint64_t armed_at;
  unsigned handles_closing;  /* listeners, sweep and kick being closed during shutdown */
  unsigned delivering;       /* inside on_data: rbuf may be in use, no flush now */
  net_link conns, dirty, tqs;
  size_t count;
  listener *listeners;
  void (*done)(void *);
  void *done_ctx;
  conn_tq linger;
  workers *pool;             /* shares the write syscalls of large flushes; NULL: serial */
  ipcount *per_ip;           /* connections per peer address (with max_per_ip) */
  uint64_t refused_total, refused_per_ip;
  conn **par;                /* the connections of one parallel pass */
  size_t par_n, par_cap;
  char rbuf[CONN_READ_BUF];
};

struct conn {
  uv_tcp_t tcp;
  conn_hub *hub;
  const conn_handler *h;
  void *hdata;
  SSL *ssl;
  segq wire;                 /* bytes for the socket (ciphertext under TLS) */
  segq plain;                /* TLS: plaintext to encrypt at the next flush */
  size_t queued;             /* bytes in wire + plain */
  size_t out_limit;          /* conn_set_output_limit(); 0: none */
  uint32_t inflight;         /* wire segments [head, head + inflight) belong to wreq */
  uv_write_t *wreq;          /* allocated only while a write waits for the kernel */
  char *kept;                /* input a handler left unconsumed */
  uint32_t kept_off, kept_len;
  uint32_t gen;              /* bumped by conn_read_start and conn_set_handler */
  net_link all, dlink, tlink;
  conn_tq *tq;
  uint64_t deadline;
  bool reading;              /* uv_read_start is in effect */
  bool paused;               /* the handler asked not to get input */
  bool resume;               /* kept or TLS-buffered input waits for the next flush */
  bool tls_more;             /* SSL may hold more input than was delivered */
  bool tls_failed, tls_bye;  /* fatal TLS error seen / close_notify queued */
  bool closing_after, lingering, peer_eof, closed;
  bool par_done;             /* a parallel pass wrote for it: par_written is the result */
  bool counted_ip;           /* counted in hub->per_ip */
  int par_written;
  char peer[INET6_ADDRSTRLEN];
};

static void conn_update_reading(conn *c);
static void tls_pump(conn *c);

/* ---------- timeouts ---------- */

void conn_tq_init(conn_hub *hub, conn_tq *q, uint64_t timeout_ms) {
  q->timeout_ms = timeout_ms ? timeout_ms : 1;
  link_init(&q->conns);
  link_append(&hub->tqs, &q->link);
}

static void sweep_cb(uv_timer_t *t);

/* Makes the hub timer fire no later than deadline. */
static void hub_arm(conn_hub *hub, uint64_t deadline) {
  if (!hub->started || hub->finished) return;
  if (hub->timer_armed && hub->armed_at <= deadline) return;
  uint64_t now = uv_now(hub->o.loop);
  uv_timer_start(&hub->sweep, sweep_cb, deadline > now ? deadline - now : 0, 0);
  hub->timer_armed = true;
  hub->armed_at = deadline;
}

static void tq_leave(conn *c) {
  if (!c->tq) return;
  link_remove(&c->tlink);
  c->tq = NULL;
}

static void tq_enter(conn *c, conn_tq *q) {
  tq_leave(c);
  if (!q) return;
  c->tq = q;
  c->deadline = uv_now(c->hub->o.loop) + q->timeout_ms;
  link_append(&q->conns, &c->tlink);
  hub_arm(c->hub, c->deadline);
}

void conn_set_timeout(conn *c, conn_tq *q) {
  if (c->closed || c->closing_after) return; /* the linger deadline rules now */
  tq_enter(c, q);
}

static void expire(conn *c, conn_tq *q) {
  if (q == &c->hub->linger || !c->h || !c->h->on_timeout) conn_close(c);
  else c->h->on_timeout(c);
}

static void sweep_cb(uv_timer_t *t) {
  conn_hub *hub = t->data;
  uint64_t now = uv_now(hub->o.loop);
  hub->timer_armed = false;
  for (net_link *l = hub->tqs.next; l != &hub->tqs; l = l->next) {
    conn_tq *q = CONTAINER(l, conn_tq, link);
    while (!link_empty(&q->conns)) {
      conn *c = CONTAINER(q->conns.next, conn, tlink);
      if (c->deadline > now) break;
      tq_leave(c);
      expire(c, q);
    }
  }
  for (net_link *l = hub->tqs.next; l != &hub->tqs; l = l->next) {
    conn_tq *q = CONTAINER(l, conn_tq, link);
    if (!link_empty(&q->conns)) hub_arm(hub, CONTAINER(q->conns.next, conn, tlink)->deadline);
  }
}

/* ---------- the dirty list ---------- */

static void kick_cb(uv_idle_t *h) {
  (void)h; /* its being active is the point: the loop polls without sleeping */
}

static void mark_dirty(conn *c) {
  conn_hub *hub = c->hub;
  if (c->closed || link_linked(&c->dlink)) return;
  link_append(&hub->dirty, &c->dlink);
  if (hub->started && !hub->kick_active) {
    uv_idle_start(&hub->kick, kick_cb);
    hub->kick_active = true;
  }
}

/* ---------- hub ---------- */

int conn_hub_new(conn_hub **out, const conn_hub_options *opts) {
  conn_hub *hub = calloc(1, sizeof *hub);
  if (!hub) return UV_ENOMEM;
  hub->o = *opts;
  link_init(&hub->conns);
  link_init(&hub->dirty);
  link_init(&hub->tqs);
  conn_tq_init(hub, &hub->linger, opts->linger_ms ? opts->linger_ms : 2000);
  hub->pool = workers_new(opts->io_threads);
  if (opts->max_per_ip && !(hub->per_ip = ipcount_new())) {
    workers_free(hub->pool);
    free(hub);
    return UV_ENOMEM;
  }
  *out = hub;
  return 0;
}

void conn_hub_free(conn_hub *hub) {
  if (!hub) return;
  /* Freeing with open handles would leave libuv pointing into freed memory. */
  if (hub->started && !hub->finished) abort();
  workers_free(hub->pool);
  ipcount_free(hub->per_ip);
  free(hub->par);
  free(hub);
}

size_t conn_hub_count(const conn_hub *hub) { return hub->count; }

void conn_hub_refused(const conn_hub *hub, uint64_t *over_total, uint64_t *over_per_ip) {
  *over_total = hub->refused_total;
  *over_per_ip = hub->refused_per_ip;
}

/* Counts the connection against its address; false when that passes max_per_ip. */
static bool within_per_ip(conn *c) {
  conn_hub *hub = c->hub;
  if (!hub->per_ip || !c->peer[0]) return true;
  uint32_t n = ipcount_add(hub->per_ip, c->peer);
  if (n == 0) return false;
  c->counted_ip = true;
  if (n <= hub->o.max_per_ip) return true;
  hub->refused_per_ip++;
  return false;
}

conn *conn_hub_first(conn_hub *hub) {
  return link_empty(&hub->conns) ? NULL : CONTAINER(hub->conns.next, conn, all);
}

conn *conn_next(conn *c) {
  return c->all.next == &c->hub->conns ? NULL : CONTAINER(c->all.next, conn, all);
}

/* A peer that resets must not kill the process: writes to it get EPIPE instead. */
static void ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);
  }
}

static void hub_start(conn_hub *hub) {
  if (hub->started) return;
  uv_timer_init(hub->o.loop, &hub->sweep);
  hub->sweep.data = hub;
  uv_unref((uv_handle_t *)&hub->sweep); /* deadlines alone do not keep the loop alive */
  uv_idle_init(hub->o.loop, &hub->kick);
  hub->kick.data = hub;
  hub->started = true;
  ignore_sigpipe();
  /* Connections may already sit in queues only if started; nothing to re-arm here. */
}

static void hub_handle_closed(uv_handle_t *h) {
  conn_hub *hub = h->data;
  if (--hub->handles_closing == 0 && hub->finished && hub->done) {
    void (*done)(void *) = hub->done;
    hub->done = NULL;
    done(hub->done_ctx); /* may free the hub: nothing after this */
  }
}

/* Finishes a shutdown once the last connection and listener are gone. */
static void hub_maybe_done(conn_hub *hub) {
  if (!hub->stopping || hub->finished || hub->count > 0 || hub->handles_closing > 0) return;
  hub->finished = true;
  if (hub->started) {
    hub->handles_closing = 2;
    uv_close((uv_handle_t *)&hub->sweep, hub_handle_closed);
    uv_close((uv_handle_t *)&hub->kick, hub_handle_closed);
    return;
  }
  if (hub->done) {
    void (*done)(void *) = hub->done;
    hub->done = NULL;
    done(hub->done_ctx);
  }
}

static void listener_closed(uv_handle_t *h) {
  listener *l = h->data;
  conn_hub *hub = l->hub;
  SSL_CTX_free(l->tls);
  free(l);
  if (hub) {
    hub->handles_closing--;
    hub_maybe_done(hub);
  }
}

int conn_hub_replace_tls(conn_hub *hub, SSL_CTX *tls) {
  int replaced = 0;
  for (listener *l = hub->listeners; l; l = l->next) {
    if (!l->tls) continue;
    SSL_CTX_up_ref(tls);
    SSL_CTX_free(l->tls); /* connections already open keep the context they started with */
    l->tls = tls;
    replaced++;
  }
  return replaced;
}

void conn_hub_shutdown(conn_hub *hub, void (*done)(void *ctx), void *ctx) {
  if (hub->stopping) return;
  hub->stopping = true;
  hub->done = done;
  hub->done_ctx = ctx;
  while (hub->listeners) {
    listener *l = hub->listeners;
    hub->listeners = l->next;
    hub->handles_closing++;
    uv_close((uv_handle_t *)&l->tcp, listener_closed);
  }
  hub_maybe_done(hub);
}

/* ---------- accept ---------- */

static void conn_closed_cb(uv_handle_t *h);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_set_peer(conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  c->peer[0] = '\0';
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET6)
    uv_ip6_name((const struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
  else
    uv_ip4_name((const struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
}

static int conn_tls_init(conn *c, SSL_CTX *ctx) {
  BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
  c->ssl = SSL_new(ctx);
  if (!c->ssl || !rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    ERR_clear_error();
    return -1;
  }
  SSL_set_bio(c->ssl, rbio, wbio); /* SSL owns both now */
  SSL_set_accept_state(c->ssl);
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  listener *l = server->data;
  conn_hub *hub = l->hub;
  if (status < 0) return;
  conn *c = calloc(1, sizeof *c);
  if (!c) return; /* the connection waits in the backlog; we retry on the next one */
  uv_tcp_init(hub->o.loop, &c->tcp);
  c->tcp.data = c;
  c->hub = hub;
  link_append(&hub->conns, &c->all);
  hub->count++;
  bool over = hub->o.max_connections && hub->count > hub->o.max_connections;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || hub->stopping || over) {
    if (over) hub->refused_total++;
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  conn_set_peer(c);
  if (!within_per_ip(c)) {
    conn_close(c);
    return;
  }
  if (l->tls && conn_tls_init(c, l->tls) != 0) {
    conn_close(c);
    return;
  }
  hub->o.on_accept(c, hub->o.ctx);
  if (!c->h) conn_close(c);
  conn_update_reading(c);
}

int conn_hub_listen(conn_hub *hub, const char *host, int port, SSL_CTX *tls, int *bound_port) {
  struct sockaddr_storage ss;
  int r = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (r != 0) r = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
  if (r != 0) return r;
  if (hub->stopping) return UV_ECANCELED;
  listener *l = calloc(1, sizeof *l);
  if (!l) return UV_ENOMEM;
  r = uv_tcp_init(hub->o.loop, &l->tcp);
  if (r != 0) {
    free(l);
    return r;
  }
  l->tcp.data = l;
  r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0);
  if (r == 0) r = uv_listen((uv_stream_t *)&l->tcp, SOMAXCONN, on_connection);
  if (r == 0 && bound_port) {
    int len = sizeof ss;
    r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    if (r == 0)
      *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
  }
  if (r != 0) {
    /* l->hub stays NULL: this close concerns no hub, so the hub may be freed before it. */
    uv_close((uv_handle_t *)&l->tcp, listener_closed);
    return r;
  }
  hub_start(hub);
  if (tls) SSL_CTX_up_ref(tls);
  l->tls = tls;
  l->hub = hub;
  l->next = hub->listeners;
  hub->listeners = l;
  return 0;
}

/* ---------- connection accessors ---------- */

void conn_set_handler(conn *c, const conn_handler *h, void *data) {
  c->h = h;
  c->hdata = data;
  c->gen++;
}

const conn_handler *conn_get_handler(const conn *c) { return c->h; }
void *conn_data(const conn *c) { return c->hdata; }
conn_hub *conn_get_hub(const conn *c) { return c->hub; }
const char *conn_peer(const conn *c) { return c->peer; }
bool conn_is_tls(const conn *c) { return c->ssl != NULL; }
bool conn_is_closing(const conn *c) { return c->closed || c->closing_after; }
size_t conn_pending_output(const conn *c) { return c->queued; }
void conn_set_output_limit(conn *c, size_t bytes) { c->out_limit = bytes; }
bool conn_output_full(const conn *c) { return c->out_limit && c->queued > c->out_limit; }

/* ---------- closing ---------- */

void conn_close(conn *c) {
  if (c->closed) return;
  c->closed = true;
  tq_leave(c);
  if (link_linked(&c->dlink)) link_remove(&c->dlink);
  c->reading = false;
  uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

/* Pending writes and shutdowns get their callbacks (UV_ECANCELED) before this one. */
static void conn_closed_cb(uv_handle_t *h) {
  conn *c = h->data;
  conn_hub *hub = c->hub;
  link_remove(&c->all);
  hub->count--;
  if (c->counted_ip) ipcount_remove(hub->per_ip, c->peer);
  if (c->h && c->h->on_close) c->h->on_close(c);
  segq_clear(&c->wire);
  segq_clear(&c->plain);
  free(c->kept);
  SSL_free(c->ssl);
  free(c);
  hub_maybe_done(hub);
}

static void drop_kept(conn *c) {
  free(c->kept);
  c->kept = NULL;
  c->kept_off = c->kept_len = 0;
}

void conn_close_after_flush(conn *c) {
  if (c->closed || c->closing_after) return;
  c->closing_after = true;
  c->resume = false;
  drop_kept(c);
  tq_enter(c, &c->hub->linger);
  mark_dirty(c); /* the flush writes what is queued, then half-closes */
  conn_update_reading(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  conn *c = req->handle->data;
  free(req);
  if (status < 0) conn_close(c); /* no-op when already closing */
}

/* All output is written: half-close and drain the peer's input, or close if it is gone. */
static void finish_close(conn *c) {
  if (c->peer_eof) {
    conn_close(c);
    return;
  }
  c->lingering = true;
  tq_enter(c, &c->hub->linger);
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
    free(req);
    conn_close(c);
    return;
  }
  conn_update_reading(c);
}

/* ---------- reading ---------- */

static void conn_update_reading(conn *c) {
  if (c->closed) return;
  bool want;
  if (c->closing_after) want = !c->peer_eof; /* drain and discard, watch for EOF */
  else want = !c->paused && !c->kept && !c->resume && !c->tls_more && !conn_output_full(c);
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
      conn_close(c);
      return;
    }
    c->reading = true;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
}

void conn_read_stop(conn *c) {
  c->paused = true;
  conn_update_reading(c);
}

void conn_read_start(conn *c) {
  c->gen++;
  c->paused = false;
  if (c->closed || c->closing_after) return;
  if (c->kept || c->tls_more) {
    c->resume = true; /* delivered at the next flush, before any new socket input */
    mark_dirty(c);
  }
  conn_update_reading(c);
}

static void keep_input(conn *c, const char *p, size_t n) {
  size_t have = c->kept ? c->kept_len - c->kept_off : 0;
  char *k = malloc(have + n);
  if (!k || have + n > UINT32_MAX) {
    free(k);
    conn_close(c);
    return;
  }
  if (have) memcpy(k, c->kept + c->kept_off, have);
  memcpy(k + have, p, n);
  free(c->kept);
  c->kept = k;
  c->kept_off = 0;
  c->kept_len = (uint32_t)(have + n);
}

/* Hands bytes to the handler and keeps what it leaves. */
static void deliver(conn *c, const char *p, size_t n) {
  uint32_t gen = c->gen;
  c->hub->delivering++;
  size_t used = c->h->on_data(c, p, n);
  c->hub->delivering--;
  if (c->closed || c->closing_after || used >= n) return;
  keep_input(c, p + used, n - used);
  if (c->closed) return;
  if (gen == c->gen && !conn_output_full(c)) {
    c->paused = true; /* an unchanged handler that stops short waits for read_start */
  } else if (!c->paused) {
    /* a new handler or a restart: the rest goes at the next flush; a handler that
    ** stopped at its output limit: at the first flush after the output drained */
    c->resume = true;
    mark_dirty(c);
  }
}

/* At flush: the kept bytes first, then anything SSL still buffers. A handler swapped
** meanwhile sets resume again, and its share is delivered in this same pass. */
static void deliver_kept(conn *c) {
  while (c->resume && !conn_is_closing(c) && !conn_output_full(c)) {
    c->resume = false;
    while (c->kept && !c->paused && !conn_is_closing(c) && !conn_output_full(c)) {
      char *k = c->kept;
      size_t off = c->kept_off, n = c->kept_len - off;
      c->kept = NULL; /* detached: deliver() may keep a new remainder */
      c->kept_off = c->kept_len = 0;
      deliver(c, k + off, n);
      free(k);
    }
    if (c->ssl && c->tls_more && !c->paused && !c->kept && !conn_is_closing(c)) tls_pump(c);
  }
  if (!conn_output_full(c)) c->resume = false; /* else output_room() takes it up */
  conn_update_reading(c);
}

/* The output drained to the limit or under it: input held back goes on. */
static void output_room(conn *c) {
  if (!c->out_limit || conn_output_full(c) || conn_is_closing(c) || c->paused) return;
  if (c->kept || c->tls_more) c->resume = true;
  if (c->resume) mark_dirty(c);
  else conn_update_reading(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->hub->rbuf, CONN_READ_BUF);
}

/* The peer closed its side (EOF) or the socket failed. */
static void on_read_end(conn *c, ssize_t err) {
  if (c->closing_after && !c->lingering && err == UV_EOF) {
    c->peer_eof = true; /* it may still read: finish writing, then close */
    conn_update_reading(c);
    return;
  }
  conn_close(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn *c = s->data;
  if (nread == 0 || c->closed) return;
  if (nread < 0) {
    on_read_end(c, nread);
    return;
  }
  if (c->closing_after) return; /* draining: the protocol is done with this peer */
  if (c->ssl) {
    if (BIO_write(SSL_get_rbio(c->ssl), buf->base, (int)nread) != (int)nread) {
      conn_close(c);
      return;
    }
    tls_pump(c);
  } else {
    deliver(c, buf->base, (size_t)nread);
  }
  conn_update_reading(c);
}

/* ---------- TLS ---------- */

/* Replaces a drained memory BIO that grew large, so idle connections stay small. */
static void tls_trim(conn *c, bool rbio) {
  BIO *b = rbio ? SSL_get_rbio(c->ssl) : SSL_get_wbio(c->ssl);
  BUF_MEM *m = NULL;
  if (BIO_ctrl_pending(b) != 0) return;
  BIO_get_mem_ptr(b, &m);
  if (!m || m->max <= CONN_TLS_BIO_KEEP) return;
  BIO *nb = BIO_new(BIO_s_mem());
  if (!nb) return;
  if (rbio) SSL_set0_rbio(c->ssl, nb);
  else SSL_set0_wbio(c->ssl, nb);
}

static void drop_plain(conn *c) {
  while (!segq_empty(&c->plain)) {
    c->queued -= segq_front(&c->plain)->len;
    segq_pop(&c->plain);
  }
}

static void tls_fail(conn *c) {
  ERR_clear_error();
  c->tls_failed = true;
  drop_plain(c);
  conn_close_after_flush(c); /* sends the alert SSL left in the wbio, if any */
}

/* Decrypts what the rbio holds and delivers it; drives the handshake on the way. */
static void tls_pump(conn *c) {
  c->tls_more = false;
  for (;;) {
    if (conn_is_closing(c)) return;
    if (c->paused || c->kept || conn_output_full(c)) {
      c->tls_more = true;
      break;
    }
    int r = SSL_read(c->ssl, c->hub->rbuf, CONN_READ_BUF);
    if (r > 0) {
      deliver(c, c->hub->rbuf, (size_t)r);
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: same as EOF */
      on_read_end(c, UV_EOF);
      return;
    }
    tls_fail(c);
    break;
  }
  if (c->closed) return;
  if (BIO_ctrl_pending(SSL_get_wbio(c->ssl)) > 0) mark_dirty(c); /* handshake, tickets */
  if (!segq_empty(&c->plain) && SSL_is_init_finished(c->ssl)) mark_dirty(c);
  tls_trim(c, true);
}

/* At flush: plaintext -> records in the wbio -> one ciphertext buffer on the wire queue. */
static void tls_encrypt(conn *c) {
  SSL *ssl = c->ssl;
  if (!c->tls_failed && SSL_is_init_finished(ssl)) {
    while (!segq_empty(&c->plain)) {
      conn_seg *s = segq_front(&c->plain);
      size_t w = 0;
      if (SSL_write_ex(ssl, s->b->data + s->off, s->len, &w) != 1 || w != s->len) {
        ERR_clear_error();
        conn_close(c);
        return;
      }
      c->queued -= s->len;
      segq_pop(&c->plain);
    }
    if (c->closing_after && !c->tls_bye) {
      c->tls_bye = true;
      SSL_shutdown(ssl); /* queues close_notify; we do not wait for the peer's */
      ERR_clear_error();
    }
  } else if (c->closing_after) {
    drop_plain(c); /* no session to send it in */
  }
  BIO *wbio = SSL_get_wbio(ssl);
  size_t pend = BIO_ctrl_pending(wbio);
  if (pend == 0) return;
  net_buf *b = net_buf_new(pend);
  if (!b || BIO_read(wbio, b->data, (int)pend) != (int)pend ||
      segq_push(&c->wire, b, (uint32_t)pend) != 0) {
    net_buf_unref(b);
    conn_close(c);
    return;
  }
  b->len = (uint32_t)pend;
  c->queued += pend;
  tls_trim(c, false);
}

/* ---------- output ---------- */

static void push_buf(conn *c, net_buf *b) {
  segq *q = c->ssl ? &c->plain : &c->wire;
  uint32_t len = b->len;
  if (segq_push(q, b, len) != 0) {
    net_buf_unref(b);
    conn_close(c);
    return;
  }
  c->queued += len;
  mark_dirty(c);
}

void conn_write_buf(conn *c, net_buf *b) {
  if (!b) return;
  if (b->len == 0 || conn_is_closing(c)) {
    net_buf_unref(b);
    return;
  }
  push_buf(c, b);
}

/* The queue's last segment, if bytes can be appended to its buffer in place: we hold the
** only reference, it ends at the buffer's end, and no uv_write is using it. */
static conn_seg *appendable_tail(conn *c, segq *q, size_t len) {
  if (segq_empty(q)) return NULL;
  uint32_t last = q->n - 1;
  if (q == &c->wire && last < q->head + c->inflight) return NULL;
  conn_seg *s = &segq_base(q)[last];
  if (s->b->refs != 1 || s->off + s->len != s->b->len || s->b->cap - s->b->len < len) return NULL;
  return s;
}

void conn_write(conn *c, const void *p, size_t len) {
  if (len == 0 || conn_is_closing(c)) return;
  segq *q = c->ssl ? &c->plain : &c->wire;
  conn_seg *s = appendable_tail(c, q, len);
  if (s) {
    memcpy(s->b->data + s->b->len, p, len);
    s->b->len += (uint32_t)len;
    s->len += (uint32_t)len;
    c->queued += len;
    mark_dirty(c);
    return;
  }
  net_buf *b = net_buf_new(len < CONN_MIN_COPY_BUF ? CONN_MIN_COPY_BUF : len);
  if (!b) {
    conn_close(c);
    return;
  }
  memcpy(b->data, p, len);
  b->len = (uint32_t)len;
  push_buf(c, b);
}

/* Fills iov from the wire queue's front; returns the count and the byte total. */
static unsigned wire_iov(conn *c, uv_buf_t *iov, size_t *total) {
  segq *q = &c->wire;
  conn_seg *base = segq_base(q);
  unsigned k = 0;
  *total = 0;
  for (uint32_t i = q->head; i < q->n && k < CONN_IOV_BATCH; i++, k++) {
    iov[k] = uv_buf_init(base[i].b->data + base[i].off, base[i].len);
    *total += base[i].len;
  }
  return k;
}

/* The kernel took n bytes from the front of the wire queue. */
static void wire_consumed(conn *c, size_t n) {
  while (n > 0) {
    conn_seg *s = segq_front(&c->wire);
    if (n < s->len) {
      s->off += (uint32_t)n;
      s->len -= (uint32_t)n;
      c->queued -= n;
      return;
    }
    n -= s->len;
    c->queued -= s->len;
    segq_pop(&c->wire);
  }
}

static void write_cb(uv_write_t *req, int status) {
  conn *c = req->data;
  free(req);
  c->wreq = NULL;
  for (uint32_t k = c->inflight; k > 0; k--) {
    c->queued -= segq_front(&c->wire)->len;
    segq_pop(&c->wire);
  }
  c->inflight = 0;
  if (status < 0) {
    conn_close(c); /* no-op for UV_ECANCELED: we are closing */
    return;
  }
  if (!segq_empty(&c->wire) || c->closing_after) mark_dirty(c); /* the next flush goes on */
  output_room(c);
}

/* Hands what the kernel did not take to uv_write; the segments stay until write_cb. */
static void start_uv_write(conn *c) {
  uv_buf_t iov[CONN_IOV_BATCH];
  size_t total;
  unsigned k = wire_iov(c, iov, &total);
  uv_write_t *req = malloc(sizeof *req);
  if (!req) {
    conn_close(c);
    return;
  }
  req->data = c;
  c->wreq = req;
  c->inflight = k;
  if (uv_write(req, (uv_stream_t *)&c->tcp, iov, k, write_cb) != 0) {
    free(req);
    c->wreq = NULL;
    c->inflight = 0;
    conn_close(c);
  }
}

static void write_out(conn *c) {
  while (!c->wreq && !segq_empty(&c->wire)) {
    uv_buf_t iov[CONN_IOV_BATCH];
    size_t total;
    unsigned k = wire_iov(c, iov, &total);
    int r;
    if (c->par_done) { /* a worker already wrote these very bytes (parallel_writes) */
      c->par_done = false;
      r = c->par_written;
    } else {
      r = uv_try_write((uv_stream_t *)&c->tcp, iov, k);
    }
    if (r == UV_EAGAIN) r = 0;
    if (r < 0) {
      conn_close(c);
      return;
    }
    wire_consumed(c, (size_t)r);
    if ((size_t)r < total) start_uv_write(c);
  }
}

/* Input waits for nothing but output the kernel has now taken: it may go on at once. */
static bool held_back(const conn *c) {
  return c->out_limit && !c->wreq && !conn_output_full(c) && !c->paused &&
         !conn_is_closing(c) && (c->resume || c->kept || c->tls_more);
}

static void flush_one(conn *c) {
  for (;;) {
    if (c->resume) deliver_kept(c);
    if (c->closed) return;
    if (c->ssl) tls_encrypt(c);
    if (c->closed) return;
    write_out(c);
    if (c->closed) return;
    if (!held_back(c)) break;
    c->resume = true;
  }
  if (c->out_limit) conn_update_reading(c);
  if (c->closing_after && !c->lingering && !c->wreq && segq_empty(&c->wire) &&
      segq_empty(&c->plain))
    finish_close(c);
}

/* A worker's share of a parallel pass: one writev, result kept for the serial pass.
** It reads the connection's queue and nothing else; nothing else runs meanwhile. */
static void par_write(void *item, void *ctx) {
  (void)ctx;
  conn *c = item;
  uv_buf_t iov[CONN_IOV_BATCH];
  size_t total;
  unsigned k = wire_iov(c, iov, &total);
  c->par_written = uv_try_write((uv_stream_t *)&c->tcp, iov, k);
  c->par_done = true;
}

/* A connection whose flush is just a write of what it has queued. */
static bool plain_write_only(const conn *c) {
  return !c->ssl && !c->closed && !c->resume && !c->wreq && !segq_empty(&c->wire);
}

/*
** When a flush has many connections to write (a push fanned out to thousands), their
** writev syscalls, the bulk of the cost, run first on every core at once; the serial pass
** below then only does the bookkeeping (queues, refcounts, uv_write for what the kernel
** did not take), which is not thread-safe and stays on the loop thread.
*/
#define CONN_PARALLEL_MIN 64

static void parallel_writes(conn_hub *hub) {
  size_t n = 0;
  for (net_link *l = hub->dirty.next; l != &hub->dirty; l = l->next) {
    conn *c = CONTAINER(l, conn, dlink);
    if (!plain_write_only(c)) continue;
    if (n == hub->par_cap) {
      size_t cap = hub->par_cap ? hub->par_cap * 2 : 1024;
      conn **grown = realloc(hub->par, cap * sizeof(conn *));
      if (!grown) break; /* the serial pass writes the rest */
      hub->par = grown;
      hub->par_cap = cap;
    }
    hub->par[n++] = c;
  }
  hub->par_n = 0;
  if (n < CONN_PARALLEL_MIN) return;
  workers_run(hub->pool, (void **)hub->par, n, par_write, NULL);
  hub->par_n = n;
}

/* Every result of the parallel pass was used by the serial one, unless its connection
** closed first; none may be taken for a later flush's write. (Closed connections are
** freed from libuv's close callbacks, never during a flush, so the pointers are valid.) */
static void forget_parallel_results(conn_hub *hub) {
  for (size_t i = 0; i < hub->par_n; i++) hub->par[i]->par_done = false;
  hub->par_n = 0;
}

void conn_hub_flush(conn_hub *hub) {
  /* Called from inside on_data, a flush could decrypt into the shared read buffer the
  ** caller is still parsing; the dirty connections wait for the owner's next flush. */
  if (hub->delivering) return;
  if (hub->pool) parallel_writes(hub);
  /* A connection stays listed while it is flushed, so output it queues meanwhile is
  ** written by this same pass; connections dirtied by it are appended and seen too. */
  while (!link_empty(&hub->dirty)) {
    conn *c = CONTAINER(hub->dirty.next, conn, dlink);
    flush_one(c);
    if (link_linked(&c->dlink)) link_remove(&c->dlink);
  }
  forget_parallel_results(hub);
  if (hub->kick_active) {
    uv_idle_stop(&hub->kick);
    hub->kick_active = false;
  }
}
