/*
** fake_conn.c — net/conn.h without sockets, for the fuzz targets that drive the HTTP and
** WebSocket layers (and the api above them) in process.
**
** Why: http.c and ws.c only talk to the network through conn.h. Linking this file instead
** of src/net/conn.c lets a target hand any bytes, cut at any points, to the real
** http_on_data / ws_on_data through the handler they install, with no port, no timing and
** no kernel buffering in the way: every run is deterministic and a crash replays exactly.
** What it keeps of conn.c's contract (conn.h), because http.c and ws.c rely on it:
**  - on_data gets bytes in order, never re-entered; what it does not consume is kept and
**    delivered again at the first flush after conn_read_start() (to the handler installed
**    by then), before any new input; an unchanged handler that stops short is paused;
**  - output is only queued by conn_write/conn_write_buf and "sent" at flush;
**    conn_close_after_flush sends what is queued, then closes;
**  - on_close runs once, later, from fake_hub_turn (as conn.c runs it from libuv's close
**    callback), never from inside a call the handler made;
**  - a flush called from inside on_data does nothing.
** What it leaves out: TLS, lingering and real timers (fake_hub_expire fires every armed
** deadline at once, as if enough time had passed).
*/
#include "fake_conn.h"

#include <stdlib.h>
#include <string.h>

/* ---------- structures ---------- */

struct conn_hub {
  conn_hub_options o;
  net_link tqs;            /* conn_tq links (ws.c unlinks its queue by hand) */
  conn *conns;             /* every open or closing connection, newest first */
  size_t count;
  unsigned delivering;
  uint64_t activity;       /* bumped by every flush that did something */
  bool stopping;
  void (*done)(void *);
  void *done_ctx;
};

struct conn {
  conn_hub *hub;
  conn *next;
  const conn_handler *h;
  void *hdata;
  uint32_t gen;
  char *kept;
  size_t kept_len;
  char *backlog;           /* "in the socket": written by the peer, not read yet */
  size_t backlog_len, backlog_cap;
  char *outq;              /* queued output */
  size_t outq_len, outq_cap;
  char *sent;              /* what the peer received */
  size_t sent_len, sent_cap;
  conn_tq *tq;
  size_t out_limit;        /* conn_set_output_limit; 0: none */
  size_t drain;            /* the peer reads at most this much per turn; 0: everything */
  size_t sent_this_turn;
  bool paused, resume, dirty, closing_after, closed, peer_eof;
  bool held;               /* the harness holds it: freed by fake_conn_free */
  bool dropped;            /* closed with output the peer never read */
};

conn_hub *fake_last_hub;

static void append(char **buf, size_t *len, size_t *cap, const void *p, size_t n) {
  if (n == 0) return;
  if (*len + n > *cap) {
    size_t c = *cap ? *cap : 256;
    while (c < *len + n) c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb) abort();
    *buf = nb;
    *cap = c;
  }
  memcpy(*buf + *len, p, n);
  *len += n;
}

/* ---------- hub ---------- */

int conn_hub_new(conn_hub **out, const conn_hub_options *opts) {
  conn_hub *hub = calloc(1, sizeof *hub);
  if (!hub) return UV_ENOMEM;
  hub->o = *opts;
  hub->tqs.prev = hub->tqs.next = &hub->tqs;
  *out = hub;
  fake_last_hub = hub;
  return 0;
}

void conn_hub_free(conn_hub *hub) {
  if (!hub) return;
  if (hub->count) abort();
  if (fake_last_hub == hub) fake_last_hub = NULL;
  free(hub);
}

int conn_hub_listen(conn_hub *hub, const char *host, int port, SSL_CTX *tls, int *bound_port) {
  (void)hub, (void)host, (void)port, (void)tls, (void)bound_port;
  return UV_ENOTSUP;
}

int conn_hub_replace_tls(conn_hub *hub, SSL_CTX *tls) {
  (void)hub, (void)tls;
  return 0; /* no listener here has TLS */
}

static void maybe_done(conn_hub *hub) {
  if (hub->stopping && hub->count == 0 && hub->done) {
    void (*done)(void *) = hub->done;
    hub->done = NULL;
    done(hub->done_ctx);
  }
}

void conn_hub_shutdown(conn_hub *hub, void (*done)(void *ctx), void *ctx) {
  if (hub->stopping) return;
  hub->stopping = true;
  hub->done = done;
  hub->done_ctx = ctx;
  maybe_done(hub);
}

size_t conn_hub_count(const conn_hub *hub) { return hub->count; }

void conn_hub_refused(const conn_hub *hub, uint64_t *over_total, uint64_t *over_per_ip) {
  (void)hub;
  *over_total = *over_per_ip = 0; /* no cap is enforced here */
}

/* Open connections only (closed ones wait for their close callback). */
static conn *first_open(conn *c) {
  while (c && c->closed) c = c->next;
  return c;
}
conn *conn_hub_first(conn_hub *hub) { return first_open(hub->conns); }
conn *conn_next(conn *c) { return first_open(c->next); }

void conn_tq_init(conn_hub *hub, conn_tq *q, uint64_t timeout_ms) {
  q->timeout_ms = timeout_ms ? timeout_ms : 1;
  q->conns.prev = q->conns.next = &q->conns;
  q->link.prev = hub->tqs.prev;
  q->link.next = &hub->tqs;
  hub->tqs.prev->next = &q->link;
  hub->tqs.prev = &q->link;
}

/* ---------- one connection ---------- */

void conn_set_handler(conn *c, const conn_handler *h, void *data) {
  c->h = h;
  c->hdata = data;
  c->gen++;
}

const conn_handler *conn_get_handler(const conn *c) { return c->h; }
void *conn_data(const conn *c) { return c->hdata; }
conn_hub *conn_get_hub(const conn *c) { return c->hub; }
const char *conn_peer(const conn *c) { (void)c; return "127.0.0.1"; }
bool conn_is_tls(const conn *c) { (void)c; return false; }
bool conn_is_closing(const conn *c) { return c->closed || c->closing_after; }
size_t conn_pending_output(const conn *c) { return c->outq_len; }
void conn_set_output_limit(conn *c, size_t bytes) { c->out_limit = bytes; }
bool conn_output_full(const conn *c) { return c->out_limit && c->outq_len > c->out_limit; }

void conn_write(conn *c, const void *p, size_t len) {
  if (len == 0 || conn_is_closing(c)) return;
  append(&c->outq, &c->outq_len, &c->outq_cap, p, len);
  c->dirty = true;
}

void conn_write_buf(conn *c, net_buf *b) {
  if (!b) return;
  if (b->len && !conn_is_closing(c)) {
    append(&c->outq, &c->outq_len, &c->outq_cap, b->data, b->len);
    c->dirty = true;
  }
  net_buf_unref(b);
}

void conn_read_stop(conn *c) { c->paused = true; }

void conn_read_start(conn *c) {
  c->gen++;
  c->paused = false;
  if (c->closed || c->closing_after) return;
  if (c->kept) {
    c->resume = true;
    c->dirty = true;
  }
}

void conn_set_timeout(conn *c, conn_tq *q) {
  if (c->closed || c->closing_after) return;
  c->tq = q;
}

static void drop_kept(conn *c) {
  free(c->kept);
  c->kept = NULL;
  c->kept_len = 0;
}

void conn_close(conn *c) {
  if (c->closed) return;
  c->closed = true;
  if (c->outq_len) c->dropped = true;
  c->tq = NULL;
  c->dirty = false;
}

void conn_close_after_flush(conn *c) {
  if (c->closed || c->closing_after) return;
  c->closing_after = true;
  c->resume = false;
  drop_kept(c);
  c->tq = NULL;
  c->dirty = true;
}

/* ---------- input (as conn.c's deliver / deliver_kept) ---------- */

static void keep_input(conn *c, const char *p, size_t n) {
  char *k = malloc(c->kept_len + n);
  if (!k) abort();
  if (c->kept_len) memcpy(k, c->kept, c->kept_len);
  memcpy(k + c->kept_len, p, n);
  free(c->kept);
  c->kept = k;
  c->kept_len += n;
}

static void deliver(conn *c, const char *p, size_t n) {
  uint32_t gen = c->gen;
  c->hub->delivering++;
  size_t used = c->h->on_data(c, p, n);
  c->hub->delivering--;
  if (used > n) abort(); /* a handler claiming more than it was given */
  if (c->closed || c->closing_after || used >= n) return;
  keep_input(c, p + used, n - used);
  if (gen == c->gen && !conn_output_full(c)) {
    c->paused = true;
  } else if (!c->paused) { /* a new handler, a restart, or stopped at the output limit */
    c->resume = true;
    c->dirty = true;
  }
}

static void deliver_kept(conn *c) {
  while (c->resume && !conn_is_closing(c) && !conn_output_full(c)) {
    c->resume = false;
    while (c->kept && !c->paused && !conn_is_closing(c) && !conn_output_full(c)) {
      char *k = c->kept;
      size_t n = c->kept_len;
      c->kept = NULL;
      c->kept_len = 0;
      deliver(c, k, n);
      free(k);
    }
  }
  if (!conn_output_full(c)) c->resume = false; /* else the drain takes it up */
}

static bool reading(const conn *c) {
  return !c->closed && !c->closing_after && !c->paused && !c->kept && !c->resume && c->h &&
         !conn_output_full(c);
}

/* ---------- flush ---------- */

/* Writes what the peer reads this turn (all of it, or up to its drain rate); after a
** drain under the output limit, input held back goes on (conn.c's output_room). */
static bool flush_one(conn *c) {
  bool did = false;
  if (c->resume) {
    deliver_kept(c);
    did = true;
  }
  if (c->closed) return true;
  size_t room = c->drain ? (c->drain > c->sent_this_turn ? c->drain - c->sent_this_turn : 0)
                         : c->outq_len;
  size_t n = c->outq_len < room ? c->outq_len : room;
  if (n) {
    append(&c->sent, &c->sent_len, &c->sent_cap, c->outq, n);
    memmove(c->outq, c->outq + n, c->outq_len - n);
    c->outq_len -= n;
    c->sent_this_turn += n;
    did = true;
  }
  if (c->out_limit && !conn_output_full(c) && !c->paused && !conn_is_closing(c) &&
      (c->kept || c->resume) && n) {
    c->resume = true;
    c->dirty = true;
  }
  if (c->closing_after && c->outq_len == 0) {
    conn_close(c); /* the peer read our last bytes and went away */
    did = true;
  }
  return did;
}

/* Flushes dirty connections and those with output left from earlier turns. */
static bool hub_flush(conn_hub *hub) {
  bool did = false;
  for (int pass = 0; pass < 1000; pass++) {
    bool again = false;
    for (conn *c = hub->conns; c; c = c->next) {
      if (c->closed || !(c->dirty || (pass == 0 && c->outq_len))) continue;
      c->dirty = false;
      if (flush_one(c)) did = true, hub->activity++;
      if (c->dirty && !c->closed) again = true;
    }
    if (!again) return did;
  }
  abort(); /* a connection that stays dirty: a livelock */
}

void conn_hub_flush(conn_hub *hub) {
  if (hub->delivering) return;
  hub_flush(hub);
}

/* ---------- what the fuzz targets call ---------- */

static bool close_phase(conn_hub *hub);

conn *fake_conn_accept(conn_hub *hub) {
  conn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->hub = hub;
  c->held = true;
  c->next = hub->conns;
  hub->conns = c;
  hub->count++;
  if (hub->stopping) {
    conn_close(c);
    return c;
  }
  hub->o.on_accept(c, hub->o.ctx);
  if (!c->h) conn_close(c);
  return c;
}

void fake_conn_send(conn *c, const void *p, size_t n) {
  if (c->closed || c->peer_eof) return;
  append(&c->backlog, &c->backlog_len, &c->backlog_cap, p, n);
}

void fake_conn_eof(conn *c) { c->peer_eof = true; }

void fake_conn_set_drain(conn *c, size_t bytes_per_turn) { c->drain = bytes_per_turn; }

void fake_conn_free(conn *c) {
  if (!c) return;
  if (c->hub) { /* still open: the peer vanishes; its close callback runs now */
    conn_hub *hub = c->hub;
    conn_close(c);
    c->held = false;
    close_phase(hub);
    return;
  }
  free(c->outq);
  free(c->sent);
  free(c);
}

const char *fake_conn_received(const conn *c, size_t *len) {
  *len = c->sent_len;
  return c->sent ? c->sent : "";
}

void fake_conn_clear_received(conn *c) { c->sent_len = 0; }

const char *fake_conn_unsent(const conn *c, size_t *len) {
  *len = c->outq_len;
  return c->outq ? c->outq : "";
}

bool fake_conn_closed(const conn *c) { return c->closed; }
bool fake_conn_dropped_output(const conn *c) { return c->dropped; }

/* Reads what each readable connection has waiting (at most max bytes each: the size
** of one socket read), as conn.c's read_cb does. */
static bool read_phase(conn_hub *hub, size_t max) {
  bool did = false;
  for (conn *c = hub->conns; c; c = c->next) {
    if (c->closed) continue;
    if (c->closing_after) { /* draining: the protocol is done with this peer */
      if (c->backlog_len) did = true;
      c->backlog_len = 0;
      continue;
    }
    if (!reading(c)) continue;
    if (c->backlog_len == 0) {
      if (c->peer_eof) { /* EOF: the peer went away (no HTTP half-close) */
        conn_close(c);
        did = true;
      }
      continue;
    }
    size_t n = c->backlog_len < max ? c->backlog_len : max;
    char *chunk = malloc(n);
    if (!chunk) abort();
    memcpy(chunk, c->backlog, n);
    memmove(c->backlog, c->backlog + n, c->backlog_len - n);
    c->backlog_len -= n;
    deliver(c, chunk, n);
    free(chunk);
    did = true;
    /* libuv reads until EAGAIN: data and the EOF behind it come in the same poll phase */
    if (c->backlog_len == 0 && c->peer_eof && reading(c)) conn_close(c);
  }
  return did;
}

/* Runs the close callbacks of closed connections (libuv's closing phase). */
static bool close_phase(conn_hub *hub) {
  bool did = false;
  for (conn **pc = &hub->conns; *pc;) {
    conn *c = *pc;
    if (!c->closed) {
      pc = &c->next;
      continue;
    }
    *pc = c->next;
    hub->count--;
    if (c->h && c->h->on_close) c->h->on_close(c);
    c->h = NULL;
    c->hdata = NULL;
    c->hub = NULL;
    free(c->kept);
    free(c->backlog);
    c->kept = c->backlog = NULL;
    c->kept_len = c->backlog_len = 0;
    if (!c->held) { /* a held one keeps what it received and what it never got */
      free(c->outq);
      free(c->sent);
      free(c);
    }
    did = true;
  }
  if (did) maybe_done(hub);
  return did;
}

bool fake_hub_turn(conn_hub *hub, size_t read_max, void (*end_of_turn)(void *), void *ctx) {
  for (conn *c = hub->conns; c; c = c->next) c->sent_this_turn = 0;
  uint64_t before = hub->activity;
  bool did = read_phase(hub, read_max ? read_max : 64 * 1024);
  if (end_of_turn) end_of_turn(ctx); /* its flush counts too */
  if (hub_flush(hub) || hub->activity != before) did = true;
  if (close_phase(hub)) did = true;
  return did;
}

void fake_hub_expire(conn_hub *hub) {
  for (conn *c = hub->conns; c; c = c->next) {
    if (c->closed || !c->tq) continue;
    c->tq = NULL;
    if (!c->h || !c->h->on_timeout) conn_close(c);
    else c->h->on_timeout(c);
  }
}

void fake_hub_close_all(conn_hub *hub) {
  for (conn *c = hub->conns; c; c = c->next) conn_close(c);
  close_phase(hub);
}
