/*
** test_http.c — black-box tests of the HTTP server (net/http.h) over real sockets.
**
** Each test starts a server on 127.0.0.1, port 0, whose loop runs on its own thread with
** a uv_check handle calling http_server_flush, as imcastd does (support/loop_thread.h). The
** test thread speaks HTTP with blocking sockets, and OpenSSL for TLS (support/net_client.h).
** The owner answers with a JSON echo of what it saw; some paths answer later from a timer,
** hold the request, trigger shutdown or take the connection over, to exercise ordering,
** abandonment and hand-off.
** Everything that touches the loop runs on the loop thread (via loop_thread_call).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/conn.h"
#include "net/http.h"

#include "support/loop_thread.h"
#include "support/net_client.h"
#include "support/test_certs.h"
#include "support/timing.h"

#include <openssl/ssl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- the server side (loop thread) ---------- */

typedef struct server_fx {
  loop_thread lt;
  http_server *srv;
  int port, tls_port;
  atomic_int requests, abandoned, echo_closed;
  http_request *held[16]; /* loop thread only */
  int nheld;
} server_fx;

typedef struct deferred {
  uv_timer_t timer;
  http_request *req; /* NULL once abandoned */
  server_fx *fx;
  bool takeover;     /* take the connection over instead of echoing */
} deferred;

static test_certs certs;

/* Appends a JSON string (or null) for s; test inputs need no escaping beyond quotes. */
static int jstr(char *out, size_t cap, const char *s) {
  return s ? snprintf(out, cap, "\"%s\"", s) : snprintf(out, cap, "null");
}

static void echo(http_request *req) {
  char buf[8192], a[512], b[512], x[512];
  size_t blen;
  const char *body = http_request_body(req, &blen);
  jstr(a, sizeof a, http_request_query(req, "a"));
  jstr(b, sizeof b, http_request_query(req, "b"));
  jstr(x, sizeof x, http_request_header(req, "X-Test"));
  int n = snprintf(buf, sizeof buf,
                   "{\"method\":\"%s\",\"path\":\"%s\",\"a\":%s,\"b\":%s,\"x\":%s,\"peer\":\"%s\","
                   "\"tls\":%d,\"body\":\"%.*s\"}",
                   http_request_method(req), http_request_path(req), a, b, x,
                   http_request_peer(req), http_request_is_tls(req) ? 1 : 0,
                   (int)(blen < 4096 ? blen : 4096), body);
  http_respond(req, 200, "application/json", buf, (size_t)n);
}

static void deferred_closed(uv_handle_t *h) { free(h->data); }

static const conn_handler raw_echo;

/* One buffer, one reference per receiving connection: how a frame will be fanned out. */
static void broadcast(conn_hub *hub, const char *text) {
  net_buf *b = net_buf_copy(text, strlen(text));
  for (conn *c = conn_hub_first(hub); c; c = conn_next(c))
    if (conn_get_handler(c) == &raw_echo) conn_write_buf(c, net_buf_ref(b));
  net_buf_unref(b);
}

/* A protocol that echoes raw bytes: what a WebSocket module will be after a takeover.
** "BCAST" is instead written once to every such connection. */
static size_t raw_echo_data(conn *c, const char *data, size_t len) {
  if (len == 5 && memcmp(data, "BCAST", 5) == 0) broadcast(conn_get_hub(c), "[shared frame]");
  else conn_write(c, data, len);
  return len;
}

static void raw_echo_close(conn *c) {
  server_fx *fx = conn_data(c);
  atomic_fetch_add(&fx->echo_closed, 1);
}

static const conn_handler raw_echo = {.on_data = raw_echo_data, .on_close = raw_echo_close};

static void take_over(server_fx *fx, http_request *req) {
  static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n";
  conn *c = http_takeover(req, head, sizeof head - 1);
  if (!c) {
    http_respond(req, 400, NULL, "{}", 2);
    return;
  }
  conn_set_handler(c, &raw_echo, fx);
  conn_read_start(c);
}

static void deferred_fire(uv_timer_t *t) {
  deferred *d = t->data;
  if (d->req) {
    http_request_set_data(d->req, NULL);
    if (d->takeover) take_over(d->fx, d->req);
    else echo(d->req);
  }
  uv_close((uv_handle_t *)t, deferred_closed);
}

static void defer(server_fx *fx, http_request *req, uint64_t ms, bool takeover) {
  deferred *d = calloc(1, sizeof *d);
  d->req = req;
  d->fx = fx;
  d->takeover = takeover;
  d->timer.data = d;
  http_request_set_data(req, d);
  uv_timer_init(&fx->lt.loop, &d->timer);
  uv_timer_start(&d->timer, deferred_fire, ms, 0);
}

static void defer_answer(server_fx *fx, http_request *req, uint64_t ms) {
  defer(fx, req, ms, false);
}

static void on_request(http_request *req, void *ctx) {
  server_fx *fx = ctx;
  const char *path = http_request_path(req);
  atomic_fetch_add(&fx->requests, 1);
  if (strncmp(path, "/defer/", 7) == 0) {
    defer_answer(fx, req, (uint64_t)atoi(path + 7));
  } else if (strcmp(path, "/hold") == 0) {
    fx->held[fx->nheld++] = req;
  } else if (strcmp(path, "/shutdown") == 0) {
    defer_answer(fx, req, 100);
    http_server_shutdown(fx->srv, loop_thread_done, &fx->lt);
  } else if (strcmp(path, "/upgrade") == 0) {
    take_over(fx, req);
  } else if (strcmp(path, "/upgrade-later") == 0) {
    defer(fx, req, 50, true);
  } else if (strcmp(path, "/refuse-upgrade") == 0) {
    http_respond(req, 403, NULL, "{\"no\":1}", 8);
  } else if (strncmp(path, "/big/", 5) == 0) {
    size_t n = (size_t)atol(path + 5);
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++) body[i] = (char)('a' + i % 26);
    http_respond(req, 200, "text/plain", body, n);
    free(body);
  } else {
    echo(req);
  }
}

/* The rule of http.h: after on_abandon the owner forgets the request. */
static void on_abandon(http_request *req, void *ctx) {
  server_fx *fx = ctx;
  deferred *d = http_request_get_data(req);
  if (d) d->req = NULL;
  for (int i = 0; i < fx->nheld; i++)
    if (fx->held[i] == req) fx->held[i] = fx->held[--fx->nheld];
  atomic_fetch_add(&fx->abandoned, 1);
}

static server_fx *server_start(http_limits limits, bool tls) {
  server_fx *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  loop_thread_init(&fx->lt, fx);
  http_server_options o = {.loop = &fx->lt.loop, .limits = limits, .on_request = on_request,
                           .on_abandon = on_abandon, .ctx = fx};
  assert_int_equal(http_server_new(&fx->srv, &o), 0);
  listen_local(fx->srv, tls ? certs.cert : NULL, certs.key, &fx->port, &fx->tls_port);
  loop_thread_start(&fx->lt, fx->srv);
  return fx;
}

static void do_shutdown(void *ctx, void *arg) {
  server_fx *fx = ctx;
  http_server_shutdown(fx->srv, loop_thread_done, &fx->lt);
}

static void server_stop(server_fx *fx) {
  if (!atomic_load(&fx->lt.done)) loop_thread_call(&fx->lt, do_shutdown, NULL);
  loop_thread_join(&fx->lt);
  http_server_free(fx->srv);
  loop_thread_destroy(&fx->lt);
  free(fx);
}

static void count_conns(void *ctx, void *arg) {
  server_fx *fx = ctx;
  *(size_t *)arg = http_server_connections(fx->srv);
}

static size_t server_conns(server_fx *fx) {
  size_t n;
  loop_thread_call(&fx->lt, count_conns, &n);
  return n;
}

/* Waits until the server has n connections (closes are asynchronous). */
static void wait_conns(server_fx *fx, size_t n) {
  WAIT_UNTIL(server_conns(fx) == n, 3000);
  assert_int_equal(server_conns(fx), n);
}


/* ---------- the client side (test thread): support/net_client.h ---------- */

static void expect_error(net_client *cl, int status, const char *why) {
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, status);
  assert_string_equal(r.connection, "close");
  assert_non_null(strstr(r.body, "\"ActionStatus\":\"FAIL\""));
  assert_non_null(strstr(r.body, "\"ErrorCode\":60002"));
  if (why && !strstr(r.body, why)) fail_msg("ErrorInfo lacks \"%s\": %s", why, r.body);
  resp_clear(&r);
  assert_true(cl_eof(cl));
}

static const http_limits no_limits;

/* ---------- tests ---------- */

static void test_plain_request(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GET /hello?a=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.connection, "keep-alive");
  assert_string_equal(r.content_type, "application/json");
  assert_non_null(strstr(r.body, "\"method\":\"GET\""));
  assert_non_null(strstr(r.body, "\"path\":\"/hello\""));
  assert_non_null(strstr(r.body, "\"a\":\"1\""));
  assert_non_null(strstr(r.body, "\"b\":null"));
  assert_non_null(strstr(r.body, "\"peer\":\"127.0.0.1\""));
  assert_non_null(strstr(r.body, "\"tls\":0"));
  resp_clear(&r);
  cl_close(cl);
  server_stop(fx);
}

static void test_keepalive_two_requests(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  net_response r;
  cl_sends(cl, "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"k\":1}");
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"path\":\"/one\""));
  assert_non_null(strstr(r.body, "\"body\":\"{\"k\":1}\""));
  resp_clear(&r);
  cl_sends(cl, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cl_response(cl, &r), 0);
  assert_non_null(strstr(r.body, "\"path\":\"/two\""));
  assert_string_equal(r.connection, "keep-alive");
  resp_clear(&r);
  assert_int_equal(atomic_load(&fx->requests), 2);
  assert_int_equal(server_conns(fx), 1);
  cl_close(cl);
  server_stop(fx);
}

static void expect_paths(net_client *cl, const char *const *paths, int n) {
  for (int i = 0; i < n; i++) {
    net_response r;
    char want[128];
    assert_int_equal(cl_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof want, "\"path\":\"%s\"", paths[i]);
    if (!strstr(r.body, want)) fail_msg("response %d: want %s in %s", i, want, r.body);
    resp_clear(&r);
  }
}

static void test_pipelined_in_order(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  /* answered now, then the other two out of order (120 ms and 40 ms later) */
  cl_sends(cl, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /third HTTP/1.1\r\nHost: x\r\n\r\n");
  static const char *const now[] = {"/first", "/second", "/third"};
  expect_paths(cl, now, 3);
  cl_sends(cl, "GET /defer/120 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /defer/40 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
  static const char *const later[] = {"/defer/120", "/defer/40", "/now"};
  expect_paths(cl, later, 3);
  cl_close(cl);
  server_stop(fx);
}

static void test_pipeline_limit(void **state) {
  (void)state;
  http_limits lim = {.max_pipelined = 2};
  server_fx *fx = server_start(lim, false);
  net_client *cl = cl_connect(fx->port);
  char reqs[2048] = "";
  static const char *const paths[] = {"/defer/30", "/defer/10", "/a",      "/defer/20",
                                      "/b",        "/c",        "/defer/5"};
  for (int i = 0; i < 7; i++) {
    char one[128];
    snprintf(one, sizeof one, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[i]);
    strcat(reqs, one);
  }
  cl_sends(cl, reqs);
  expect_paths(cl, paths, 7);
  cl_close(cl);
  server_stop(fx);
}

static void test_query_decoding(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GET /q?z&a=%2A%41b+c%zz%4&b=&a=second HTTP/1.1\r\nHost: x\r\n\r\n");
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  if (!strstr(r.body, "\"a\":\"*Ab+c%zz%4\"")) fail_msg("a: %s", r.body);
  assert_non_null(strstr(r.body, "\"b\":\"\""));
  assert_non_null(strstr(r.body, "\"path\":\"/q\""));
  resp_clear(&r);
  cl_close(cl);
  server_stop(fx);
}

static void test_header_case_insensitive(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GET / HTTP/1.1\r\nhost: x\r\nx-tEsT:   Hello World  \r\n\r\n");
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  if (!strstr(r.body, "\"x\":\"Hello World\"")) fail_msg("x: %s", r.body);
  resp_clear(&r);
  cl_close(cl);
  server_stop(fx);
}

static char *big_header_request(size_t value_len) {
  char *req = malloc(value_len + 128);
  int n = sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(req + n, 'a', value_len);
  strcpy(req + n + value_len, "\r\n\r\n");
  return req;
}

static void test_431_headers_too_large(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  /* 15 KiB of headers pass */
  net_client *cl = cl_connect(fx->port);
  char *req = big_header_request(15 * 1024);
  cl_sends(cl, req);
  free(req);
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, 200);
  resp_clear(&r);
  cl_close(cl);
  /* exactly 16384 bytes of head (request line, headers, blank line) pass; one more fails */
  size_t base = strlen("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \r\n\r\n");
  for (int extra = 0; extra < 2; extra++) {
    cl = cl_connect(fx->port);
    req = big_header_request(16384 - base + (size_t)extra);
    assert_int_equal(strlen(req), 16384 + (size_t)extra);
    cl_sends(cl, req);
    free(req);
    if (extra) {
      expect_error(cl, 431, "exceed 16384 bytes");
    } else {
      assert_int_equal(cl_response(cl, &r), 0);
      assert_int_equal(r.status, 200);
      resp_clear(&r);
    }
    cl_close(cl);
  }
  /* 17 KiB in one write */
  cl = cl_connect(fx->port);
  req = big_header_request(17 * 1024);
  cl_sends(cl, req);
  expect_error(cl, 431, "exceed 16384 bytes");
  cl_close(cl);
  /* 17 KiB in 1 KiB pieces: counted across reads */
  cl = cl_connect(fx->port);
  size_t len = strlen(req);
  for (size_t off = 0; off < len; off += 1024) {
    cl_send(cl, req + off, len - off < 1024 ? len - off : 1024);
    sleep_ms(2);
  }
  free(req);
  expect_error(cl, 431, "exceed 16384 bytes");
  cl_close(cl);
  assert_int_equal(atomic_load(&fx->requests), 2);
  server_stop(fx);
}

static void test_413_content_length(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  /* the body is never sent: the answer must come from the headers alone */
  cl_sends(cl, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
  expect_error(cl, 413, "2097152 bytes exceeds the 1048576-byte limit");
  cl_close(cl);
  assert_int_equal(atomic_load(&fx->requests), 0);
  server_stop(fx);
}

static void test_413_chunked(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  size_t chunk = 256 * 1024;
  char *data = malloc(chunk);
  memset(data, 'z', chunk);
  for (int i = 0; i < 5; i++) { /* 1.25 MiB in total */
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%zx\r\n", chunk);
    cl_sends(cl, hdr);
    cl_send(cl, data, chunk);
    cl_sends(cl, "\r\n");
  }
  free(data);
  expect_error(cl, 413, "request body exceeds 1048576 bytes");
  cl_close(cl);
  /* a chunked body within the limit is accepted and reassembled */
  cl = cl_connect(fx->port);
  cl_sends(cl, "POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  assert_non_null(strstr(r.body, "\"body\":\"abcdefg\""));
  resp_clear(&r);
  cl_close(cl);
  server_stop(fx);
}

static void test_400_garbage(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GARBAGE\r\n\r\n");
  expect_error(cl, 400, "malformed HTTP request");
  cl_close(cl);
  /* a bad request after a good pipelined one: the good answer first */
  cl = cl_connect(fx->port);
  cl_sends(cl, "GET /defer/50 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9\r\n\r\n");
  static const char *const first[] = {"/defer/50"};
  expect_paths(cl, first, 1);
  expect_error(cl, 400, "malformed HTTP request");
  cl_close(cl);
  server_stop(fx);
}

static void test_408_request_timeout(void **state) {
  (void)state;
  http_limits lim = {.request_timeout_ms = 200};
  server_fx *fx = server_start(lim, false);
  net_client *cl = cl_connect(fx->port);
  int64_t t0 = now_ms();
  cl_sends(cl, "GET / HTTP/1.1\r\nHost: x\r\n");
  expect_error(cl, 408, "not complete within 200 ms");
  int64_t dt = now_ms() - t0;
  assert_true(dt >= 190 && dt < 2000);
  cl_close(cl);
  server_stop(fx);
}

static void test_idle_timeout(void **state) {
  (void)state;
  http_limits lim = {.idle_timeout_ms = 200};
  server_fx *fx = server_start(lim, false);
  net_client *cl = cl_connect(fx->port);
  net_response r;
  cl_sends(cl, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cl_response(cl, &r), 0);
  resp_clear(&r);
  int64_t t0 = now_ms();
  assert_true(cl_eof(cl)); /* silently: no bytes before EOF */
  int64_t dt = now_ms() - t0;
  assert_true(dt >= 150 && dt < 2000);
  cl_close(cl);
  wait_conns(fx, 0);
  server_stop(fx);
}

static void test_max_connections(void **state) {
  (void)state;
  http_limits lim = {.max_connections = 2};
  server_fx *fx = server_start(lim, false);
  net_client *c1 = cl_connect(fx->port), *c2 = cl_connect(fx->port);
  net_response r;
  for (int i = 0; i < 2; i++) {
    net_client *c = i ? c2 : c1;
    cl_sends(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(cl_response(c, &r), 0);
    resp_clear(&r);
  }
  net_client *c3 = cl_connect(fx->port);
  assert_true(cl_eof(c3));
  cl_close(c3);
  cl_close(c1);
  wait_conns(fx, 1);
  net_client *c4 = cl_connect(fx->port);
  cl_sends(c4, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cl_response(c4, &r), 0);
  assert_int_equal(r.status, 200);
  resp_clear(&r);
  cl_close(c4);
  cl_close(c2);
  server_stop(fx);
}

static void test_http10(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_response r;
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GET /old HTTP/1.0\r\n\r\n");
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.connection, "close");
  resp_clear(&r);
  assert_true(cl_eof(cl));
  cl_close(cl);
  cl = cl_connect(fx->port);
  for (int i = 0; i < 2; i++) {
    cl_sends(cl, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(cl_response(cl, &r), 0);
    assert_string_equal(r.connection, "keep-alive");
    resp_clear(&r);
  }
  cl_sends(cl, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_int_equal(cl_response(cl, &r), 0);
  assert_string_equal(r.connection, "close");
  resp_clear(&r);
  assert_true(cl_eof(cl));
  cl_close(cl);
  server_stop(fx);
}

static void test_head_and_expect_continue(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_client *cl = cl_connect(fx->port);
  net_response r;
  cl_sends(cl, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cl_response_ex(cl, &r, true), 0);
  assert_int_equal(r.status, 200);
  resp_clear(&r);
  cl_sends(cl, "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  while (!strstr(cl->buf, "\r\n\r\n")) assert_true(cl_fill(cl) > 0);
  assert_memory_equal(cl->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  cl_drop(cl, cl->len);
  cl_sends(cl, "hello");
  assert_int_equal(cl_response(cl, &r), 0);
  assert_non_null(strstr(r.body, "\"body\":\"hello\""));
  resp_clear(&r);
  cl_close(cl);
  server_stop(fx);
}

static void test_large_response(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, true);
  for (int tls = 0; tls < 2; tls++) {
    net_client *cl = tls ? cl_connect_tls(fx->tls_port, certs.cert) : cl_connect(fx->port);
    cl_sends(cl, "GET /big/6000000 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    sleep_ms(100); /* let the socket buffer fill: the rest waits in a uv_write */
    net_response r;
    assert_int_equal(cl_response(cl, &r), 0);
    assert_int_equal(r.body_len, 6000000);
    for (size_t i = 0; i < r.body_len; i += 4999) assert_int_equal(r.body[i], 'a' + i % 26);
    resp_clear(&r);
    static const char *const after[] = {"/after"};
    expect_paths(cl, after, 1);
    cl_close(cl);
  }
  server_stop(fx);
}

static void test_tls(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, true);
  net_client *cl = cl_connect_tls(fx->tls_port, certs.cert);
  net_response r;
  for (int i = 0; i < 2; i++) {
    cl_sends(cl, "POST /secure?a=%2A HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}");
    assert_int_equal(cl_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"tls\":1"));
    assert_non_null(strstr(r.body, "\"a\":\"*\""));
    resp_clear(&r);
  }
  cl_sends(cl, "GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  assert_int_equal(cl_response(cl, &r), 0);
  assert_string_equal(r.connection, "close");
  resp_clear(&r);
  assert_true(cl_eof(cl)); /* close_notify */
  cl_close(cl);
  /* plain HTTP on the TLS port fails the handshake and is closed */
  cl = cl_connect(fx->tls_port);
  cl_sends(cl, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  while (cl_fill(cl) > 0) {
  }
  cl_close(cl);
  wait_conns(fx, 0);
  assert_int_equal(atomic_load(&fx->requests), 3);
  server_stop(fx);
}

static void test_tls_context_errors(void **state) {
  (void)state;
  char err[512];
  assert_null(http_tls_context("/nonexistent/cert.pem", certs.key, err, sizeof err));
  assert_non_null(strstr(err, "/nonexistent/cert.pem"));
  assert_null(http_tls_context(certs.cert, certs.other_key, err, sizeof err));
  if (!strstr(err, "does not match")) fail_msg("%s", err);
  SSL_CTX *ctx = http_tls_context(certs.cert, certs.key, err, sizeof err);
  assert_non_null(ctx);
  assert_string_equal(err, "");
  SSL_CTX_free(ctx);
}

static void test_peer_closes_mid_request(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  /* half a head, then gone: never reaches the owner */
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Le");
  sleep_ms(20);
  cl_close(cl);
  /* a head and half a body, then gone */
  cl = cl_connect(fx->port);
  cl_sends(cl, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
  sleep_ms(20);
  cl_close(cl);
  wait_conns(fx, 0);
  assert_int_equal(atomic_load(&fx->requests), 0);
  /* complete requests the owner holds or defers, then gone: on_abandon for each */
  cl = cl_connect(fx->port);
  cl_sends(cl, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /defer/300 HTTP/1.1\r\nHost: x\r\n\r\n");
  WAIT_UNTIL(atomic_load(&fx->requests) >= 2, 3000);
  cl_close(cl);
  wait_conns(fx, 0);
  assert_int_equal(atomic_load(&fx->abandoned), 2);
  sleep_ms(350); /* the deferred timer fires and must not touch the freed request */
  server_stop(fx);
}

static void test_shutdown_answers_in_flight(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, false);
  net_response r;
  net_client *idle = cl_connect(fx->port);
  cl_sends(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(cl_response(idle, &r), 0);
  resp_clear(&r);
  net_client *busy = cl_connect(fx->port);
  cl_sends(busy, "GET /shutdown HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(cl_eof(idle)); /* idle connections close at once */
  assert_int_equal(cl_response(busy, &r), 0); /* answered 100 ms later */
  assert_int_equal(r.status, 200);
  assert_string_equal(r.connection, "close");
  assert_non_null(strstr(r.body, "\"path\":\"/shutdown\""));
  resp_clear(&r);
  assert_true(cl_eof(busy));
  cl_close(busy);
  cl_close(idle);
  WAIT_UNTIL(atomic_load(&fx->lt.done), 3000);
  assert_int_equal(atomic_load(&fx->lt.done), 1);
  assert_int_equal(tcp_connect(fx->port), -1); /* the listener is gone */
  server_stop(fx);
}

static void cl_expect(net_client *cl, const char *want) {
  while (cl->len < strlen(want)) assert_true(cl_fill(cl) > 0);
  assert_string_equal(cl->buf, want);
  cl_drop(cl, cl->len);
}

static net_client *upgraded_client(server_fx *fx, bool tls, const char *path) {
  char req[256];
  net_client *cl = tls ? cl_connect_tls(fx->tls_port, certs.cert) : cl_connect(fx->port);
  /* the bytes after the request belong to the next protocol */
  snprintf(req, sizeof req,
           "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nHELLO", path);
  cl_sends(cl, req);
  cl_expect(cl, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\nHELLO");
  return cl;
}

static void test_upgrade_takeover(void **state) {
  (void)state;
  server_fx *fx = server_start(no_limits, true);
  /* taken over inside on_request (plain, TLS) and from a timer 50 ms later */
  net_client *cls[3] = {upgraded_client(fx, false, "/upgrade"),
                        upgraded_client(fx, true, "/upgrade"),
                        upgraded_client(fx, false, "/upgrade-later")};
  for (int i = 0; i < 3; i++) {
    cl_sends(cls[i], "more bytes");
    cl_expect(cls[i], "more bytes");
  }
  /* one shared buffer written to every taken-over connection */
  cl_sends(cls[1], "BCAST");
  for (int i = 0; i < 3; i++) cl_expect(cls[i], "[shared frame]");
  for (int i = 0; i < 3; i++) cl_close(cls[i]);
  WAIT_UNTIL(atomic_load(&fx->echo_closed) >= 3, 3000);
  assert_int_equal(atomic_load(&fx->echo_closed), 3);
  /* a refused upgrade is answered and closed */
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GET /refuse-upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"
               "Connection: Upgrade\r\n\r\nJUNK");
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, 403);
  assert_string_equal(r.connection, "close");
  resp_clear(&r);
  assert_true(cl_eof(cl));
  cl_close(cl);
  server_stop(fx);
}

/* ---------- setup ---------- */

static int make_certs(void **state) { return test_certs_make(&certs, "http", true); }

static int remove_certs(void **state) { return test_certs_remove(&certs); }

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_request),
      cmocka_unit_test(test_keepalive_two_requests),
      cmocka_unit_test(test_pipelined_in_order),
      cmocka_unit_test(test_pipeline_limit),
      cmocka_unit_test(test_query_decoding),
      cmocka_unit_test(test_header_case_insensitive),
      cmocka_unit_test(test_431_headers_too_large),
      cmocka_unit_test(test_413_content_length),
      cmocka_unit_test(test_413_chunked),
      cmocka_unit_test(test_400_garbage),
      cmocka_unit_test(test_408_request_timeout),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_max_connections),
      cmocka_unit_test(test_http10),
      cmocka_unit_test(test_head_and_expect_continue),
      cmocka_unit_test(test_large_response),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_tls_context_errors),
      cmocka_unit_test(test_peer_closes_mid_request),
      cmocka_unit_test(test_shutdown_answers_in_flight),
      cmocka_unit_test(test_upgrade_takeover),
  };
  return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
