/*
** rxchild.c — one receiver process: many receivers on one libuv loop.
**
** Per receiver the process keeps one small struct (the uv_tcp_t, a few counters) and,
** only while a frame is split across reads, the partial bytes. All reads go into one
** process-wide buffer and are parsed at once: a Msg is found by its prefix, its Seq and
** the payload marker read in place; nothing is decoded as JSON.
**
** Acks are coalesced: a receiver that got Msgs during a loop turn is put on the dirty
** list, and a uv_check handle (end of the turn) writes one Ack for its highest Seq; with
** ack_delay_ms, each receiver Acks that long after its first unacknowledged Msg, as the
** receiver library does by default (imcast_receiver_options.ack_delay_ms): the list is
** then a FIFO by due time, drained by one timer.
** Writes go out with uv_try_write; only what the socket refuses is copied and queued.
**
** UserSigs are made before the first connect (an app's client has its sig before it
** logs in), so a login storm times logins, not HMAC and zlib in the bench; each is freed
** once its receiver is open.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common/usersig.h"
#include "resp.h"
#include "rx_internal.h"
#include "wsc.h"

#define READ_BUF_BYTES (256 * 1024)
#define MAX_TRIES 8
#define MAX_HEAD_BYTES 16384

enum { RX_IDLE, RX_CONNECTING, RX_UPGRADING, RX_WAIT_HELLO, RX_OPEN, RX_CLOSING, RX_DEAD };

typedef struct rx {
  uv_tcp_t tcp;
  struct rx *next_dirty;
  char *partial;           /* unparsed bytes of a split frame, or NULL */
  uint32_t partial_len;
  uint32_t idx;            /* account index */
  uint32_t got;            /* messages received */
  uint64_t seq;            /* highest Seq received */
  uint64_t acked;          /* highest Seq acknowledged */
  uint64_t t_start;        /* first connect attempt */
  uint64_t ack_due;        /* loop time (ms) its Ack is due, while on the dirty list */
  uint8_t state, dirty, tries, wrote, was_open;
} rx;

typedef struct proc {
  uv_loop_t *loop;
  const rx_conf *c;
  char host_hdr[96];
  struct sockaddr_in dst;
  bool loopback;
  rx *rx;
  uint32_t first, count;
  char **sigs;             /* per receiver until it is open: its UserSig (imcast) */
  rx **todo;               /* ring of receivers waiting to connect */
  uint32_t todo_head, todo_len;
  uint32_t in_flight, open, failed, lost, caught_up;
  bool open_reported, caught_reported;
  rx *dirty, *dirty_tail;  /* FIFO: receivers with an Ack to write, earliest due first */
  uint64_t *count_k, *last_k;
  hist latency, login;
  uint64_t t_first_start, t_all_open, t_caught_up;
  uint64_t cpu_us_at_open;
  uv_check_t check;
  uv_timer_t ping, ack_timer;
  uv_pipe_t ctl;
} proc;

static proc P;
static char read_buf[READ_BUF_BYTES];

static void drop(rx *r);
static void pump(void);

/* ------------------------------------------------------------------ reports */

static void report(uint32_t type, uint32_t a, uint64_t b, uint64_t c, uint64_t d)
{
  rx_event ev = {type, a, b, c, d};
  if (rx_write_all(RX_CTL_OUT, &ev, sizeof ev) != 0) _exit(1);
}

static uint64_t cpu_us(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void check_all_open(void)
{
  if (P.open_reported || P.open + P.failed + P.lost < P.count) return;
  P.open_reported = true;
  P.cpu_us_at_open = cpu_us();
  P.t_all_open = uv_hrtime();
  report(RX_EV_OPEN, 0, P.open, P.failed, P.t_all_open);
}

/* Counters and histograms to the parent, then exit resetting every connection. */
static void send_stats_and_exit(void)
{
  rx_child_stats st = {P.open, P.failed, P.lost, P.caught_up, P.t_first_start,
                       P.t_all_open, P.t_caught_up, rss_kib(getpid()),
                       P.open_reported ? cpu_us() - P.cpu_us_at_open : 0};
  report(RX_EV_STATS, P.c->max_pushes, 0, 0, 0);
  if (rx_write_all(RX_CTL_OUT, &st, sizeof st) != 0 ||
      rx_write_all(RX_CTL_OUT, P.count_k, P.c->max_pushes * sizeof *P.count_k) != 0 ||
      rx_write_all(RX_CTL_OUT, P.last_k, P.c->max_pushes * sizeof *P.last_k) != 0 ||
      rx_write_all(RX_CTL_OUT, &P.latency, sizeof P.latency) != 0 ||
      rx_write_all(RX_CTL_OUT, &P.login, sizeof P.login) != 0)
    _exit(1);
  struct linger lg = {1, 0};
  for (uint32_t i = 0; i < P.count; i++) {
    uv_os_fd_t fd;
    if (P.rx[i].state != RX_DEAD && P.rx[i].state != RX_IDLE &&
        uv_fileno((uv_handle_t *)&P.rx[i].tcp, &fd) == 0)
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  _exit(0);
}

/* ------------------------------------------------------------------ writing */

typedef struct queued_write {
  uv_write_t req;
  char bytes[];
} queued_write;

static void on_written(uv_write_t *req, int status)
{
  free(req);
}

/* Sends bytes now if the socket takes them, else copies the rest into a queued write. */
static void send_bytes(rx *r, const char *buf, size_t len)
{
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int n = r->tcp.write_queue_size ? UV_EAGAIN : uv_try_write((uv_stream_t *)&r->tcp, &b, 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) return;          /* the read side sees the error and drops the receiver */
  r->wrote = 1;
  if ((size_t)n == len) return;
  queued_write *w = xmalloc(sizeof *w + len - (size_t)n);
  memcpy(w->bytes, buf + n, len - (size_t)n);
  b = uv_buf_init(w->bytes, (unsigned)(len - (size_t)n));
  if (uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, on_written) != 0) free(w);
}

static void send_ws(rx *r, int opcode, const char *payload, size_t len)
{
  char frame[256];
  if (len > sizeof frame - 14) len = sizeof frame - 14;
  size_t n = wsc_frame(frame, sizeof frame, opcode, payload, len, rand32());
  send_bytes(r, frame, n);
}

/* ------------------------------------------------------------------ arrivals */

static void opened(rx *r)
{
  if (P.sigs) {
    free(P.sigs[r->idx - P.first]);
    P.sigs[r->idx - P.first] = NULL;
  }
  r->state = RX_OPEN;
  r->was_open = 1;
  P.in_flight--;
  P.open++;
  check_all_open();
  pump();
}

static void mark_dirty(rx *r)
{
  if (r->dirty || !P.c->ack) return;
  r->dirty = 1;
  r->ack_due = uv_now(P.loop) + (uint64_t)P.c->ack_delay_ms;
  r->next_dirty = NULL;
  if (P.dirty_tail) P.dirty_tail->next_dirty = r;
  else P.dirty = r;
  P.dirty_tail = r;
}

/* A push arrived at r at time now: counts it against the index in its payload (pushes of
** other runs are acknowledged but not counted). */
static void on_message(rx *r, const char *msg, size_t len, uint64_t now)
{
  uint32_t k;
  uint64_t sent;
  if (!payload_find(msg, len, P.c->run, &k, &sent)) return;   /* another run's push */
  r->got++;
  if (k < P.c->max_pushes) {
    hist_add(&P.latency, now > sent ? (now - sent) / 1000 : 0);
    if (now > P.last_k[k]) P.last_k[k] = now;
    if (++P.count_k[k] == P.open && P.open_reported)
      report(RX_EV_PUSH_DONE, k, P.count_k[k], P.last_k[k], 0);
  }
  if (P.c->expect && r->got == P.c->expect) {
    hist_add(&P.login, (now - r->t_start) / 1000);
    if (++P.caught_up == P.count) P.t_caught_up = now;   /* reported after the Acks */
  }
}

static uint64_t parse_seq(const char *text, size_t len)
{
  const char *p = memmem(text, len, "\"Seq\":", 6);
  uint64_t v = 0;
  if (!p) return 0;
  for (p += 6; p < text + len && *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
  return v;
}

static void on_ws_text(rx *r, const char *text, size_t len, uint64_t now)
{
  static const char msg[] = "{\"Event\":\"Msg\"", hello[] = "{\"Event\":\"Hello\"";
  if (len >= sizeof msg - 1 && memcmp(text, msg, sizeof msg - 1) == 0) {
    uint64_t seq = parse_seq(text, len);
    if (seq <= r->seq) return;              /* a duplicate (at-least-once) */
    r->seq = seq;
    on_message(r, text, len, now);
    mark_dirty(r);
  } else if (len >= sizeof hello - 1 && memcmp(text, hello, sizeof hello - 1) == 0) {
    if (r->state == RX_WAIT_HELLO) opened(r);
  }
}

/* Parses an imcast connection's input; returns the bytes used or -1 to drop it. */
static ssize_t feed_ws(rx *r, const char *data, size_t len, uint64_t now)
{
  size_t off = 0;
  if (r->state == RX_UPGRADING) {
    size_t head = wsc_head_length(data, len);
    if (!head) return len > MAX_HEAD_BYTES ? -1 : 0;
    if (!wsc_head_ok(data, head)) {
      const char *eol = memchr(data, '\r', head);
      fprintf(stderr, "imcast-bench: upgrade refused: %.*s\n", (int)(eol ? eol - data : 0), data);
      return -1;
    }
    r->state = RX_WAIT_HELLO;
    off = head;
  }
  for (;;) {
    int op, fin;
    const char *payload;
    size_t plen;
    ssize_t n = wsc_parse(data + off, len - off, &op, &fin, &payload, &plen);
    if (n < 0) return -1;
    if (n == 0) break;
    off += (size_t)n;
    if (op == WS_TEXT) on_ws_text(r, payload, plen, now);
    else if (op == WS_PING) send_ws(r, WS_PONG, payload, plen);
    else if (op == WS_CLOSE) return -1;
  }
  return (ssize_t)off;
}

/* Parses a Redis subscriber's input; returns the bytes used or -1 to drop it. */
static ssize_t feed_redis(rx *r, const char *data, size_t len, uint64_t now)
{
  size_t off = 0;
  for (;;) {
    resp_reply m;
    ssize_t n = resp_parse(data + off, len - off, &m);
    if (n < 0) return -1;
    if (n == 0) break;
    if (data[off] == '-') {
      fprintf(stderr, "imcast-bench: redis refused a subscriber: %.*s\n", (int)n - 2, data + off);
      return -1;
    }
    off += (size_t)n;
    if (m.n >= 3 && m.len[0] == 7 && memcmp(m.s[0], "message", 7) == 0)
      on_message(r, m.s[2], m.len[2], now);
    else if (m.n >= 1 && m.len[0] == 9 && memcmp(m.s[0], "subscribe", 9) == 0 &&
             r->state == RX_UPGRADING)
      opened(r);
  }
  return (ssize_t)off;
}

/* Keeps the unparsed tail of data (which may be r->partial itself). */
static void keep_rest(rx *r, const char *rest, size_t len)
{
  if (len == 0) {
    free(r->partial);
    r->partial = NULL;
    r->partial_len = 0;
    return;
  }
  if (r->partial && rest >= r->partial && rest < r->partial + r->partial_len) {
    memmove(r->partial, rest, len);
  } else {
    free(r->partial);
    r->partial = xmalloc(len);
    memcpy(r->partial, rest, len);
  }
  r->partial_len = (uint32_t)len;
}

static void feed(rx *r, const char *data, size_t len, uint64_t now)
{
  if (r->partial) {
    char *joined = realloc(r->partial, r->partial_len + len);
    if (!joined) die("out of memory");
    memcpy(joined + r->partial_len, data, len);
    r->partial = joined;
    r->partial_len += (uint32_t)len;
    data = joined;
    len = r->partial_len;
  }
  ssize_t used = P.c->target == TARGET_REDIS ? feed_redis(r, data, len, now)
                                             : feed_ws(r, data, len, now);
  if (used < 0) drop(r);
  else keep_rest(r, data + used, len - (size_t)used);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  rx *r = s->data;
  if (n < 0) drop(r);
  else if (n > 0) feed(r, buf->base, (size_t)n, uv_hrtime());
}

/* ------------------------------------------------------------------ connecting */

static void todo_push(rx *r)
{
  P.todo[(P.todo_head + P.todo_len++) % P.count] = r;
}

static void on_closed(uv_handle_t *h)
{
  rx *r = h->data;
  if (!r->was_open && r->tries < MAX_TRIES) {
    r->state = RX_IDLE;
    todo_push(r);
  } else {
    r->state = RX_DEAD;
    if (!r->was_open) P.failed++;
    check_all_open();
  }
  pump();
}

static void drop(rx *r)
{
  if (r->state == RX_CLOSING || r->state == RX_DEAD) return;
  if (r->state == RX_OPEN) {
    P.open--;
    P.lost++;
  } else if (r->state != RX_IDLE) {
    P.in_flight--;
  }
  r->state = RX_CLOSING;
  free(r->partial);
  r->partial = NULL;
  r->partial_len = 0;
  uv_close((uv_handle_t *)&r->tcp, on_closed);
}

static void send_login(rx *r)
{
  char buf[2048];
  size_t n;
  if (P.c->target == TARGET_REDIS) {
    n = resp_subscribe_cmd(buf, sizeof buf, P.c->channel);
  } else {
    char id[64];
    account_name(P.c->prefix, r->idx, id, sizeof id);
    n = wsc_upgrade_request(buf, sizeof buf, P.host_hdr, P.c->sdkappid, id, P.sigs[r->idx - P.first]);
  }
  send_bytes(r, buf, n);
}

static void on_connect(uv_connect_t *req, int status)
{
  rx *r = req->data;
  free(req);
  if (r->state != RX_CONNECTING) return;
  if (status < 0 || uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read) != 0) {
    if (r->tries == MAX_TRIES)
      fprintf(stderr, "imcast-bench: receiver %u: connect: %s\n", r->idx, uv_strerror(status));
    drop(r);
    return;
  }
  r->state = RX_UPGRADING;
  send_login(r);
}

/* Binds to 127.0.0.<1 + idx % src_addrs>, leaving the port to connect(). */
static void bind_source(rx *r)
{
  uv_os_fd_t fd;
  int one = 1;
  if (!P.loopback || P.c->src_addrs <= 1) return;
  if (uv_fileno((uv_handle_t *)&r->tcp, &fd) == 0)
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET};
  src.sin_addr.s_addr = htonl(0x7f000001u + r->idx % (uint32_t)P.c->src_addrs);
  uv_tcp_bind(&r->tcp, (struct sockaddr *)&src, 0);
}

static void start_connect(rx *r)
{
  uint64_t now = uv_hrtime();
  if (!P.t_first_start) P.t_first_start = now;
  if (!r->tries++) r->t_start = now;
  r->state = RX_CONNECTING;
  P.in_flight++;
  uv_tcp_init_ex(P.loop, &r->tcp, AF_INET);
  r->tcp.data = r;
  bind_source(r);
  uv_tcp_nodelay(&r->tcp, 1);
  uv_connect_t *req = xmalloc(sizeof *req);
  req->data = r;
  int rc = uv_tcp_connect(req, &r->tcp, (struct sockaddr *)&P.dst, on_connect);
  if (rc != 0) {
    free(req);
    if (r->tries == MAX_TRIES) fprintf(stderr, "imcast-bench: connect: %s\n", uv_strerror(rc));
    drop(r);
  }
}

static void pump(void)
{
  while (P.in_flight < (uint32_t)P.c->window && P.todo_len > 0) {
    rx *r = P.todo[P.todo_head];
    P.todo_head = (P.todo_head + 1) % P.count;
    P.todo_len--;
    start_connect(r);
  }
}

/* ------------------------------------------------------------------ loop turn, pings, control */

static void on_ack_timer(uv_timer_t *t);

/* One Ack per receiver whose Ack is due (every one when `all`), then the catch-up report. */
static void flush_acks(bool all)
{
  char text[64];
  uint64_t now = uv_now(P.loop);
  while (P.dirty && (all || P.dirty->ack_due <= now)) {
    rx *r = P.dirty;
    P.dirty = r->next_dirty;
    r->dirty = 0;
    if (r->state == RX_OPEN && r->seq > r->acked) {
      int n = snprintf(text, sizeof text, "{\"Event\":\"Ack\",\"Seq\":%llu}", (unsigned long long)r->seq);
      send_ws(r, WS_TEXT, text, (size_t)n);
      r->acked = r->seq;
    }
  }
  if (!P.dirty) P.dirty_tail = NULL;
  else uv_timer_start(&P.ack_timer, on_ack_timer, P.dirty->ack_due - now, 0);
  if (P.c->expect && !P.caught_reported && P.caught_up == P.count) {
    P.caught_reported = true;
    report(RX_EV_CAUGHT_UP, 0, P.caught_up, P.t_caught_up, 0);
  }
}

static void on_ack_timer(uv_timer_t *t) { flush_acks(false); }

/* End of a loop turn: the Acks now, or when the ack timer fires. */
static void on_check(uv_check_t *h)
{
  if (!P.c->ack_delay_ms ||
      (!P.dirty && P.c->expect && !P.caught_reported && P.caught_up == P.count))
    flush_acks(true);
  else if (P.dirty && !uv_is_active((uv_handle_t *)&P.ack_timer))
    uv_timer_start(&P.ack_timer, on_ack_timer,
                   P.dirty->ack_due > uv_now(P.loop) ? P.dirty->ack_due - uv_now(P.loop) : 0, 0);
}

/* A receiver that wrote nothing for a ping period pings (the server closes a receiver
** silent for 3 x PingSec). */
static void on_ping(uv_timer_t *t)
{
  for (uint32_t i = 0; i < P.count; i++) {
    rx *r = &P.rx[i];
    if (r->state == RX_OPEN && !r->wrote) send_ws(r, WS_PING, "", 0);
    r->wrote = 0;
  }
}

static void on_ctl(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  if (n < 0) _exit(1);                      /* the parent is gone */
  for (ssize_t i = 0; i < n; i++)
    if (buf->base[i] == RX_CMD_STATS) send_stats_and_exit();
}

/* Every receiver's UserSig, made up front. */
static void make_sigs(void)
{
  char id[64], sig[1024];
  int64_t now = (int64_t)time(NULL);
  P.sigs = xcalloc(P.count, sizeof *P.sigs);
  for (uint32_t i = 0; i < P.count; i++) {
    account_name(P.c->prefix, P.first + i, id, sizeof id);
    int n = usersig_gen(P.c->key, P.c->sdkappid, id, now, (int64_t)7 * 86400, sig, sizeof sig);
    if (n < 0) die("cannot make a UserSig for %s", id);
    P.sigs[i] = xmalloc((size_t)n + 1);
    memcpy(P.sigs[i], sig, (size_t)n + 1);
  }
}

static void init_proc(const rx_conf *conf, uint32_t first, uint32_t count)
{
  P.c = conf;
  P.loop = uv_default_loop();
  P.first = first;
  P.count = count;
  snprintf(P.host_hdr, sizeof P.host_hdr, "%s:%d", conf->host, conf->port);
  uv_ip4_addr(conf->host, conf->port, &P.dst);
  P.loopback = (ntohl(P.dst.sin_addr.s_addr) >> 24) == 127;
  P.rx = xcalloc(count, sizeof *P.rx);
  P.todo = xcalloc(count, sizeof(rx *));
  P.count_k = xcalloc(conf->max_pushes, sizeof *P.count_k);
  P.last_k = xcalloc(conf->max_pushes, sizeof *P.last_k);
  for (uint32_t i = 0; i < count; i++) {
    P.rx[i].idx = first + i;
    todo_push(&P.rx[i]);
  }
  if (conf->target == TARGET_IMCAST) make_sigs();
}

void rx_child_main(const rx_conf *conf, uint32_t first, uint32_t count)
{
  init_proc(conf, first, count);
  uv_timer_init(P.loop, &P.ack_timer);
  uv_check_init(P.loop, &P.check);
  uv_check_start(&P.check, on_check);
  if (conf->target == TARGET_IMCAST && conf->ping_ms > 0) {
    uv_timer_init(P.loop, &P.ping);
    uv_timer_start(&P.ping, on_ping, (uint64_t)conf->ping_ms, (uint64_t)conf->ping_ms);
  }
  uv_pipe_init(P.loop, &P.ctl, 0);
  uv_pipe_open(&P.ctl, RX_CTL_IN);
  uv_read_start((uv_stream_t *)&P.ctl, on_alloc, on_ctl);
  if (count == 0) check_all_open();
  pump();
  uv_run(P.loop, UV_RUN_DEFAULT);
  _exit(1);
}
