/*
** test_ws.c — black-box tests of the WebSocket server (net/ws.h) over real sockets.
**
** Each test starts an http_server on 127.0.0.1, port 0, whose on_request hands /ws to
** ws_accept() (404 otherwise); its loop runs on its own thread with a uv_check calling
** http_server_flush, as imcastd does (support/loop_thread.h). The test thread is a client
** speaking raw RFC 6455 over blocking sockets, OpenSSL for wss (support/net_client.h): it
** builds masked frames byte by byte, so the server sees exactly what a test means
** (unmasked, fragmented, oversized, split reads).
** The server echoes text; a few text commands make it broadcast one shared frame, close,
** abort or close everything, so the tests can watch ordering and on_close codes.
** The memory test opens 1,000 idle connections and reports bytes per connection.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/conn.h"
#include "net/http.h"
#include "net/ws.h"

#include "support/loop_thread.h"
#include "support/net_client.h"
#include "support/test_certs.h"
#include "support/timing.h"

#include <malloc.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Present when built with AddressSanitizer; then mallinfo2() does not see its heap. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

extern char **environ;

#define MAX_CONNS 1100
#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 1.3's worked example */

/* ---------- the server side (loop thread) ---------- */

typedef struct server_fx {
  loop_thread lt;
  http_server *http;
  ws_server *ws;
  int port, tls_port;
  atomic_int opened, closed, last_code, reentered, bcast_refs;
  ws_conn *conns[MAX_CONNS]; /* loop thread only, like everything below */
  int nconns;
  net_buf *shared;           /* the last broadcast frame; the test holds one reference */
  bool inside_ws_call;       /* on_close must never run while this is set */
} server_fx;

static test_certs certs;

static void fx_forget(server_fx *fx, ws_conn *ws) {
  for (int i = 0; i < fx->nconns; i++)
    if (fx->conns[i] == ws) fx->conns[i] = fx->conns[--fx->nconns];
}

/* "BCAST:<text>": one frame encoded once, queued on every connection. */
static void broadcast(server_fx *fx, const char *text, size_t len) {
  net_buf *f = ws_frame_text(text, len);
  assert_non_null(f);
  for (int i = 0; i < fx->nconns; i++) ws_send_frame(fx->conns[i], net_buf_ref(f));
  atomic_store(&fx->bcast_refs, (int)f->refs); /* nothing was flushed yet: 1 + receivers */
  net_buf_unref(fx->shared);
  fx->shared = f; /* our reference: checked once the receivers have read it */
}

static void send_big(ws_conn *ws, size_t n, bool shared_frame) {
  char *p = malloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (char)('a' + i % 26);
  if (shared_frame) ws_send_frame(ws, ws_frame_text(p, n));
  else ws_send_text(ws, p, n);
  free(p);
}

static bool is_cmd(const char *text, size_t len, const char *cmd) {
  size_t n = strlen(cmd);
  return len >= n && memcmp(text, cmd, n) == 0;
}

static void on_text(ws_conn *ws, const char *text, size_t len) {
  server_fx *fx = ws_data(ws);
  char arg[128] = ""; /* what follows the command's colon */
  const char *colon = memchr(text, ':', len);
  size_t alen = colon ? len - (size_t)(colon + 1 - text) : 0;
  if (colon && alen < sizeof arg) memcpy(arg, colon + 1, alen);
  fx->inside_ws_call = true;
  if (is_cmd(text, len, "BCAST:")) {
    broadcast(fx, text + 6, len - 6);
  } else if (is_cmd(text, len, "CLOSE:")) { /* CLOSE:<code>:<reason> */
    char *reason = strchr(arg, ':');
    ws_send_text(ws, "before", 6);
    ws_close(ws, (uint16_t)atoi(arg), reason ? reason + 1 : NULL);
    ws_send_text(ws, "after", 5);                   /* must be dropped */
    ws_send_frame(ws, ws_frame_text("after", 5));   /* likewise */
  } else if (is_cmd(text, len, "ABORT")) {
    ws_abort(ws);
  } else if (is_cmd(text, len, "CLOSEALL")) {
    ws_server_close_all(fx->ws, 1001, "going away");
  } else if (is_cmd(text, len, "BIGT:")) {
    send_big(ws, (size_t)atol(arg), false);
  } else if (is_cmd(text, len, "BIGF:")) {
    send_big(ws, (size_t)atol(arg), true);
  } else {
    ws_send_text(ws, text, len);
  }
  fx->inside_ws_call = false;
}

static void on_ws_close(ws_conn *ws, uint16_t code) {
  server_fx *fx = ws_data(ws);
  if (fx->inside_ws_call) atomic_fetch_add(&fx->reentered, 1);
  fx_forget(fx, ws);
  atomic_store(&fx->last_code, code);
  atomic_fetch_add(&fx->closed, 1);
}

static const ws_handler handler = {.on_text = on_text, .on_close = on_ws_close};

static void on_request(http_request *req, void *ctx) {
  server_fx *fx = ctx;
  if (strcmp(http_request_path(req), "/ws") != 0) {
    http_respond(req, 404, "text/plain", "not here\n", 9);
    return;
  }
  ws_conn *ws = ws_accept(fx->ws, req, &handler, fx);
  if (!ws) return;
  assert_true(fx->nconns < MAX_CONNS);
  fx->conns[fx->nconns++] = ws;
  atomic_fetch_add(&fx->opened, 1);
}

static server_fx *server_start(ws_options wo, bool tls) {
  server_fx *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  loop_thread_init(&fx->lt, fx);
  http_server_options o = {.loop = &fx->lt.loop, .on_request = on_request, .ctx = fx};
  assert_int_equal(http_server_new(&fx->http, &o), 0);
  fx->ws = ws_server_new(fx->http, &wo);
  assert_non_null(fx->ws);
  listen_local(fx->http, tls ? certs.cert : NULL, certs.key, &fx->port, &fx->tls_port);
  loop_thread_start(&fx->lt, fx->http);
  return fx;
}

/* imcastd's SIGTERM path: receivers get 1001, then HTTP drains and everything closes. */
static void do_shutdown(void *ctx, void *arg) {
  server_fx *fx = ctx;
  ws_server_close_all(fx->ws, 1001, "server shutting down");
  net_buf_unref(fx->shared);
  fx->shared = NULL;
  http_server_shutdown(fx->http, loop_thread_done, &fx->lt);
}

/* server_stop's second half, once do_shutdown has run. */
static void server_free(server_fx *fx) {
  loop_thread_join(&fx->lt);
  assert_int_equal(ws_server_count(fx->ws), 0);
  assert_int_equal(atomic_load(&fx->reentered), 0);
  assert_int_equal(atomic_load(&fx->opened), atomic_load(&fx->closed));
  ws_server_free(fx->ws);
  http_server_free(fx->http);
  loop_thread_destroy(&fx->lt);
  free(fx);
}

static void server_stop(server_fx *fx) {
  loop_thread_call(&fx->lt, do_shutdown, NULL);
  server_free(fx);
}

/* Closes are asynchronous: waits until n connections have had on_close. */
static void wait_closed(server_fx *fx, int n) {
  WAIT_UNTIL(atomic_load(&fx->closed) >= n, 5000);
  assert_int_equal(atomic_load(&fx->closed), n);
}

static void get_count(void *ctx, void *arg) {
  server_fx *fx = ctx;
  *(size_t *)arg = ws_server_count(fx->ws);
}

static size_t ws_count(server_fx *fx) {
  size_t n;
  loop_thread_call(&fx->lt, get_count, &n);
  return n;
}

static const ws_options defaults;

/* ---------- the client side (test thread): support/net_client.h, and frames ---------- */

typedef struct frame {
  int fin, op;
  size_t head_len; /* 2, 4 or 10: which length form the server used */
  uint8_t *data;
  size_t len;
} frame;

static const char upgrade_head[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void expect_101(net_client *cl) {
  net_response r;
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, 101);
  assert_non_null(strcasestr(r.head, "\r\nUpgrade: websocket\r\n"));
  assert_non_null(strcasestr(r.head, "\r\nConnection: Upgrade\r\n"));
  assert_non_null(strstr(r.head, "\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"));
  resp_clear(&r);
}

static net_client *ws_open(int port) {
  net_client *cl = cl_connect(port);
  cl_sends(cl, upgrade_head);
  expect_101(cl);
  return cl;
}

/* Encodes one client frame into out (room for n + 14); returns its size. */
static size_t frame_build(uint8_t *out, int fin, int op, const void *payload, size_t n,
                          bool masked) {
  static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  const uint8_t *p = payload;
  uint8_t m = masked ? 0x80 : 0;
  size_t h = 0;
  out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
  if (n < 126) {
    out[h++] = (uint8_t)(m | n);
  } else if (n <= 0xFFFF) {
    out[h++] = m | 126;
    out[h++] = (uint8_t)(n >> 8);
    out[h++] = (uint8_t)n;
  } else {
    out[h++] = m | 127;
    for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  if (masked) {
    memcpy(out + h, key, 4);
    h += 4;
  }
  for (size_t i = 0; i < n; i++) out[h + i] = masked ? p[i] ^ key[i & 3] : p[i];
  return h + n;
}

static void cl_frame_send(net_client *cl, int fin, int op, const void *p, size_t n) {
  uint8_t *f = malloc(n + 14);
  cl_send(cl, f, frame_build(f, fin, op, p, n, true));
  free(f);
}

static void cl_text(net_client *cl, const char *s) { cl_frame_send(cl, 1, 0x1, s, strlen(s)); }

/* Reads one server frame; -1 if the connection ended first. */
static int cl_frame(net_client *cl, frame *f) {
  for (;;) {
    if (cl->len >= 2) {
      const uint8_t *b = (const uint8_t *)cl->buf;
      assert_int_equal(b[1] & 0x80, 0); /* server frames are never masked */
      uint64_t n = b[1] & 0x7F;
      size_t h = n == 126 ? 4 : n == 127 ? 10 : 2;
      if (cl->len >= h) {
        if (n == 126) n = (uint64_t)b[2] << 8 | b[3];
        if (h == 10)
          for (int i = 0; i < 8; i++) n = (i ? n << 8 : 0) | b[2 + i];
        if (cl->len >= h + n) {
          f->fin = b[0] >> 7;
          f->op = b[0] & 0x0F;
          f->head_len = h;
          f->len = (size_t)n;
          f->data = malloc(f->len + 1);
          memcpy(f->data, b + h, f->len);
          f->data[f->len] = '\0';
          cl_drop(cl, h + f->len);
          return 0;
        }
      }
    }
    if (cl_fill(cl) <= 0) return -1;
  }
}

static void expect_frame(net_client *cl, int op, const char *payload) {
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.fin, 1);
  assert_int_equal(f.op, op);
  assert_int_equal(f.len, strlen(payload));
  assert_memory_equal(f.data, payload, f.len);
  free(f.data);
}

static void expect_text(net_client *cl, const char *s) { expect_frame(cl, 0x1, s); }

/* A close frame with code, then the end of the connection. */
static void expect_close(net_client *cl, int code) {
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.op, 0x8);
  if (code == 1005) {
    assert_int_equal(f.len, 0);
  } else {
    assert_true(f.len >= 2);
    assert_int_equal(f.data[0] << 8 | f.data[1], code);
  }
  free(f.data);
  assert_true(cl_eof(cl));
}

static void cl_close_frame(net_client *cl, int code, const char *reason) {
  uint8_t p[125] = {(uint8_t)(code >> 8), (uint8_t)code};
  size_t n = strlen(reason);
  memcpy(p + 2, reason, n);
  cl_frame_send(cl, 1, 0x8, p, 2 + n);
}

/* ---------- tests ---------- */

static void test_handshake_and_echo(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  assert_int_equal(atomic_load(&fx->opened), 1);
  cl_text(cl, "hello");
  expect_text(cl, "hello");
  cl_text(cl, "");
  expect_text(cl, "");
  assert_int_equal(ws_count(fx), 1);
  cl_close(cl); /* vanishes without a close frame: 1006 */
  wait_closed(fx, 1);
  assert_int_equal(atomic_load(&fx->last_code), 1006);
  assert_int_equal(ws_count(fx), 0);
  server_stop(fx);
}

/* Browsers send token lists and any case. */
static void test_handshake_token_lists(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = cl_connect(fx->port);
  cl_sends(cl, "GET /ws?x=1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
               "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
               "sec-websocket-version: 13\r\n\r\n");
  expect_101(cl);
  cl_text(cl, "ok");
  expect_text(cl, "ok");
  cl_close(cl);
  wait_closed(fx, 1);
  server_stop(fx);
}

/* Lengths at every boundary of the 7/16/64-bit forms, both ways. */
static void test_length_forms(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  static const size_t sizes[] = {125, 126, 127, 65535, 65536};
  char *p = malloc(65536 + 1);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    for (size_t k = 0; k < n; k++) p[k] = (char)('A' + (k * 7 + i) % 26);
    cl_frame_send(cl, 1, 0x1, p, n);
    frame f;
    assert_int_equal(cl_frame(cl, &f), 0);
    assert_int_equal(f.len, n);
    assert_int_equal(f.head_len, n < 126 ? 2 : n <= 65535 ? 4 : 10);
    assert_memory_equal(f.data, p, n);
    free(f.data);
  }
  free(p);
  cl_text(cl, "BIGT:70000"); /* ws_send_text with a 64-bit length */
  cl_text(cl, "BIGF:300");   /* ws_frame_text with a 16-bit length */
  size_t want[2] = {70000, 300};
  for (int i = 0; i < 2; i++) {
    frame f;
    assert_int_equal(cl_frame(cl, &f), 0);
    assert_int_equal(f.op, 0x1);
    assert_int_equal(f.len, want[i]);
    assert_int_equal(f.head_len, want[i] > 65535 ? 10 : 4);
    for (size_t k = 0; k < f.len; k++) assert_int_equal(f.data[k], 'a' + k % 26);
    free(f.data);
  }
  cl_close(cl);
  wait_closed(fx, 1);
  server_stop(fx);
}

/* A message in three fragments with a ping between them: the pong comes at once, the
** message whole; UTF-8 split across fragments is fine. */
static void test_fragmented_message(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  cl_frame_send(cl, 0, 0x1, "Hel", 3);
  cl_frame_send(cl, 1, 0x9, "p1", 2);
  expect_frame(cl, 0xA, "p1");
  cl_frame_send(cl, 0, 0x0, "lo \xc3", 4);
  cl_frame_send(cl, 0, 0x0, "", 0);
  cl_frame_send(cl, 1, 0x0, "\xa9!", 2);
  expect_text(cl, "Hello \xc3\xa9!");
  cl_text(cl, "next");
  expect_text(cl, "next");
  cl_close(cl);
  wait_closed(fx, 1);
  server_stop(fx);
}

static void test_ping_pong(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  cl_frame_send(cl, 1, 0x9, "", 0);
  expect_frame(cl, 0xA, "");
  char p[125];
  memset(p, 'z', sizeof p);
  cl_frame_send(cl, 1, 0x9, p, sizeof p);
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.op, 0xA);
  assert_int_equal(f.len, 125);
  assert_memory_equal(f.data, p, 125);
  free(f.data);
  cl_frame_send(cl, 1, 0xA, "unsolicited", 11); /* ignored */
  cl_text(cl, "still here");
  expect_text(cl, "still here");
  cl_close(cl);
  wait_closed(fx, 1);
  server_stop(fx);
}

/* Frames sent one byte at a time: headers, masks and payloads split at every offset. */
static void test_split_reads(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  uint8_t buf[600];
  char text[200];
  memset(text, 'q', sizeof text);
  size_t n = frame_build(buf, 1, 0x9, "ping!", 5, true);
  n += frame_build(buf + n, 1, 0x1, text, sizeof text, true); /* 16-bit length */
  for (size_t i = 0; i < n; i++) {
    cl_send(cl, buf + i, 1);
    sleep_ms(1);
  }
  expect_frame(cl, 0xA, "ping!");
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.len, sizeof text);
  assert_memory_equal(f.data, text, sizeof text);
  free(f.data);
  cl_close(cl);
  wait_closed(fx, 1);
  server_stop(fx);
}

static void test_close_handshake(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  cl_close_frame(cl, 1000, "bye");
  expect_close(cl, 1000);
  cl_close(cl);
  wait_closed(fx, 1);
  assert_int_equal(atomic_load(&fx->last_code), 1000);

  cl = ws_open(fx->port); /* a close frame without a code: answered empty, 1005 */
  cl_frame_send(cl, 1, 0x8, "", 0);
  expect_close(cl, 1005);
  cl_close(cl);
  wait_closed(fx, 2);
  assert_int_equal(atomic_load(&fx->last_code), 1005);

  cl = ws_open(fx->port); /* an application code is echoed */
  cl_close_frame(cl, 4321, "");
  expect_close(cl, 4321);
  cl_close(cl);
  wait_closed(fx, 3);
  assert_int_equal(atomic_load(&fx->last_code), 4321);
  server_stop(fx);
}

/* Opens a connection, sends raw frame bytes, expects a close with code. */
static void expect_failure(server_fx *fx, const void *bytes, size_t n, int code) {
  int before = atomic_load(&fx->closed);
  net_client *cl = ws_open(fx->port);
  cl_send(cl, bytes, n);
  expect_close(cl, code);
  cl_close(cl);
  wait_closed(fx, before + 1);
  assert_int_equal(atomic_load(&fx->last_code), code);
}

static void expect_frame_failure(server_fx *fx, int fin, int op, const void *p, size_t n,
                                 bool masked, int code) {
  uint8_t *f = malloc(n + 14);
  expect_failure(fx, f, frame_build(f, fin, op, p, n, masked), code);
  free(f);
}

static void test_binary_1003(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  expect_frame_failure(fx, 1, 0x2, "\x01\x02", 2, true, 1003);
  server_stop(fx);
}

static void test_oversized_1009(void **state) {
  (void)state;
  ws_options wo = {.max_message_bytes = 1000};
  server_fx *fx = server_start(wo, false);
  char *p = calloc(1, 70000);
  memset(p, 'x', 70000);
  net_client *cl = ws_open(fx->port); /* exactly the limit passes */
  cl_frame_send(cl, 1, 0x1, p, 1000);
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.len, 1000);
  free(f.data);
  cl_close(cl);
  wait_closed(fx, 1);
  /* one byte over; refused from the header alone (the payload never comes) */
  uint8_t head[8] = {0x81, 0x80 | 126, 1001 >> 8, 1001 & 0xFF, 1, 2, 3, 4};
  expect_failure(fx, head, sizeof head, 1009);
  /* two fragments that together pass the limit */
  uint8_t *buf = malloc(2000);
  size_t n = frame_build(buf, 0, 0x1, p, 600, true);
  n += frame_build(buf + n, 1, 0x0, p, 600, true);
  expect_failure(fx, buf, n, 1009);
  free(buf);
  /* a 64-bit length */
  cl = ws_open(fx->port);
  cl_frame_send(cl, 1, 0x1, p, 70000);
  expect_close(cl, 1009);
  cl_close(cl);
  wait_closed(fx, 4);
  free(p);
  server_stop(fx);
}

static void test_invalid_utf8_1007(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  static const char *const bad[] = {
      "\xc3\x28",         /* broken continuation */
      "\xc0\xaf",         /* overlong '/' */
      "\xed\xa0\x80",     /* a surrogate */
      "\xf4\x90\x80\x80", /* past U+10FFFF */
      "ok\xe2\x82",       /* truncated at the end */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_frame_failure(fx, 1, 0x1, bad[i], strlen(bad[i]), true, 1007);
  /* a close reason that is not UTF-8 */
  expect_frame_failure(fx, 1, 0x8, "\x03\xe8\xff", 3, true, 1007);
  net_client *cl = ws_open(fx->port); /* NUL and 4-byte sequences are valid text */
  cl_frame_send(cl, 1, 0x1, "a\0\xf0\x9f\x98\x80", 6);
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.len, 6);
  assert_memory_equal(f.data, "a\0\xf0\x9f\x98\x80", 6);
  free(f.data);
  cl_close(cl);
  wait_closed(fx, 7);
  server_stop(fx);
}

static void test_protocol_errors_1002(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  expect_frame_failure(fx, 1, 0x1, "hi", 2, false, 1002);  /* unmasked */
  expect_frame_failure(fx, 1, 0x0, "hi", 2, true, 1002);   /* continuation, no message */
  expect_frame_failure(fx, 0, 0x9, "hi", 2, true, 1002);   /* fragmented ping */
  expect_frame_failure(fx, 1, 0x3, "hi", 2, true, 1002);   /* reserved opcode */
  expect_frame_failure(fx, 1, 0x41, "hi", 2, true, 1002);  /* RSV1 set */
  expect_frame_failure(fx, 1, 0x8, "\x03", 1, true, 1002); /* 1-byte close payload */
  expect_frame_failure(fx, 1, 0x8, "\x03\xed", 2, true, 1002); /* close code 1005 */
  char p[126] = {0};
  expect_frame_failure(fx, 1, 0x9, p, 126, true, 1002); /* control frame over 125 */
  uint8_t buf[64];
  size_t n = frame_build(buf, 0, 0x1, "a", 1, true);
  n += frame_build(buf + n, 1, 0x1, "b", 1, true); /* a new message inside one */
  expect_failure(fx, buf, n, 1002);
  uint8_t huge[14] = {0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}; /* top bit */
  expect_failure(fx, huge, sizeof huge, 1002);
  server_stop(fx);
}

/* The idle deadline moves with every frame; silence past it gets 1001. */
static void test_idle_timeout(void **state) {
  (void)state;
  ws_options wo = {.idle_timeout_ms = 300};
  server_fx *fx = server_start(wo, false);
  net_client *cl = ws_open(fx->port);
  for (int i = 0; i < 3; i++) { /* 600 ms alive in total, twice the timeout */
    sleep_ms(200);
    cl_frame_send(cl, 1, 0x9, "", 0);
    expect_frame(cl, 0xA, "");
  }
  int64_t t0 = now_ms();
  expect_close(cl, 1001);
  int64_t waited = now_ms() - t0;
  assert_true(waited >= 250 && waited < 3000);
  cl_close(cl);
  wait_closed(fx, 1);
  assert_int_equal(atomic_load(&fx->last_code), 1001);
  server_stop(fx);
}

/* Requests that are not valid upgrades are answered by HTTP and not taken over. */
static void expect_refused(server_fx *fx, const char *request, int status, bool closes) {
  net_client *cl = cl_connect(fx->port);
  net_response r;
  cl_sends(cl, request);
  assert_int_equal(cl_response(cl, &r), 0);
  assert_int_equal(r.status, status);
  if (status == 426) assert_non_null(strcasestr(r.head, "\r\nSec-WebSocket-Version: 13\r\n"));
  resp_clear(&r);
  if (closes) {
    assert_true(cl_eof(cl));
  } else { /* still HTTP on this connection */
    cl_sends(cl, "GET /else HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(cl_response(cl, &r), 0);
    assert_int_equal(r.status, 404);
    resp_clear(&r);
  }
  cl_close(cl);
}

static void test_bad_upgrades(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  expect_refused(fx,
                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 400, true); /* no key */
  expect_refused(fx,
                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 400, true); /* key not 16 bytes of base64 */
  expect_refused(fx,
                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 400, true); /* non-canonical padding bits */
  expect_refused(fx,
                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
                 426, true); /* wrong version */
  expect_refused(fx,
                 "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                 "Content-Length: 0\r\n\r\n",
                 400, true); /* not a GET */
  expect_refused(fx, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, false); /* plain GET */
  expect_refused(fx,
                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 400, true); /* another protocol */
  assert_int_equal(atomic_load(&fx->opened), 0);
  assert_int_equal(ws_count(fx), 0);
  server_stop(fx);
}

static void check_shared_released(void *ctx, void *arg) {
  server_fx *fx = ctx;
  /* every receiver's reference went when its bytes were written; ours is the last */
  *(int *)arg = (int)fx->shared->refs;
  net_buf_unref(fx->shared);
  fx->shared = NULL;
}

static void test_shared_frame_fanout(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl[3];
  for (int i = 0; i < 3; i++) cl[i] = ws_open(fx->port);
  char msg[2000] = "BCAST:";
  for (size_t k = 6; k < sizeof msg - 1; k++) msg[k] = (char)('0' + k % 10);
  cl_text(cl[1], msg);
  for (int i = 0; i < 3; i++) expect_text(cl[i], msg + 6);
  assert_int_equal(atomic_load(&fx->bcast_refs), 4);
  int refs = 0;
  loop_thread_call(&fx->lt, check_shared_released, &refs);
  assert_int_equal(refs, 1);
  for (int i = 0; i < 3; i++) cl_close(cl[i]);
  wait_closed(fx, 3);
  server_stop(fx);
}

static void test_close_all_1001(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl[3];
  for (int i = 0; i < 3; i++) cl[i] = ws_open(fx->port);
  cl_text(cl[0], "CLOSEALL");
  for (int i = 0; i < 3; i++) {
    expect_close(cl[i], 1001);
    cl_close(cl[i]);
  }
  wait_closed(fx, 3);
  assert_int_equal(atomic_load(&fx->last_code), 1001);
  /* and at shutdown, from outside any callback */
  for (int i = 0; i < 2; i++) cl[i] = ws_open(fx->port);
  loop_thread_call(&fx->lt, do_shutdown, NULL);
  for (int i = 0; i < 2; i++) {
    expect_close(cl[i], 1001);
    cl_close(cl[i]);
  }
  server_free(fx); /* all 5 closed (opened == closed), none from inside a ws_ call */
}

/* Output keeps call order, and nothing follows a close frame. */
static void test_server_close_and_abort(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = ws_open(fx->port);
  uint8_t buf[128];
  size_t n = frame_build(buf, 1, 0x1, "first", 5, true);
  n += frame_build(buf + n, 1, 0x1, "CLOSE:4001:kicked", 17, true);
  n += frame_build(buf + n, 1, 0x1, "ignored", 7, true);
  cl_send(cl, buf, n);
  expect_text(cl, "first");
  expect_text(cl, "before");
  frame f;
  assert_int_equal(cl_frame(cl, &f), 0);
  assert_int_equal(f.op, 0x8);
  assert_int_equal(f.len, 8);
  assert_memory_equal(f.data, "\x0f\xa1kicked", 8);
  free(f.data);
  assert_true(cl_eof(cl));
  cl_close(cl);
  wait_closed(fx, 1);
  assert_int_equal(atomic_load(&fx->last_code), 4001);

  cl = ws_open(fx->port);
  cl_text(cl, "ABORT");
  assert_true(cl_eof(cl)); /* no close frame: the connection just ends */
  cl_close(cl);
  wait_closed(fx, 2);
  assert_int_equal(atomic_load(&fx->last_code), 1006);
  server_stop(fx);
}

static void test_tls(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, true);
  net_client *cl = cl_connect_tls(fx->tls_port, certs.cert);
  cl_sends(cl, upgrade_head);
  expect_101(cl);
  cl_text(cl, "over tls");
  expect_text(cl, "over tls");
  cl_frame_send(cl, 1, 0x9, "tp", 2);
  expect_frame(cl, 0xA, "tp");
  cl_close_frame(cl, 1000, "done");
  expect_close(cl, 1000); /* the close frame, then close_notify */
  cl_close(cl);
  wait_closed(fx, 1);
  assert_int_equal(atomic_load(&fx->last_code), 1000);
  server_stop(fx);
}

/* The upgrade request and the first frames in one write: the bytes after the request go
** to the WebSocket side, in order. */
static void test_frames_pipelined_after_upgrade(void **state) {
  (void)state;
  server_fx *fx = server_start(defaults, false);
  net_client *cl = cl_connect(fx->port);
  uint8_t buf[512];
  size_t n = strlen(upgrade_head);
  memcpy(buf, upgrade_head, n);
  n += frame_build(buf + n, 1, 0x1, "pipelined", 9, true);
  n += frame_build(buf + n, 1, 0x9, "pp", 2, true);
  n += frame_build(buf + n, 0, 0x1, "tw", 2, true);
  cl_send(cl, buf, n);
  expect_101(cl);
  expect_text(cl, "pipelined");
  expect_frame(cl, 0xA, "pp");
  cl_frame_send(cl, 1, 0x0, "o", 1); /* the rest of the message split by the upgrade */
  expect_text(cl, "two");
  cl_close(cl);
  wait_closed(fx, 1);
  server_stop(fx);
}

/* ---------- memory per idle connection ---------- */

static size_t heap_in_use(void) {
  if (__sanitizer_get_current_allocated_bytes) return __sanitizer_get_current_allocated_bytes();
  return mallinfo2().uordblks;
}

static void measure_heap(void *ctx, void *arg) {
  *(size_t *)arg = heap_in_use();
}

static size_t server_heap(server_fx *fx) {
  size_t n;
  loop_thread_call(&fx->lt, measure_heap, &n);
  return n;
}

static void wait_count(server_fx *fx, size_t n) {
  WAIT_UNTIL(ws_count(fx) == n, 20000);
  assert_int_equal(ws_count(fx), n);
}

/* Plain connections: the clients are raw fds in this process and allocate nothing (no
** net_client, no heap), so the heap growth is the server's. */
static void test_memory_per_idle_connection(void **state) {
  (void)state;
  enum { N = 1000 };
  static int fds[N];
  static const char ping[] = {(char)0x89, (char)0x80, 1, 2, 3, 4};
  server_fx *fx = server_start(defaults, false);
  net_client *warm = ws_open(fx->port); /* first-use allocations are not per connection */
  cl_close(warm);
  wait_closed(fx, 1);
  size_t before = server_heap(fx);
  for (int i = 0; i < N; i++) {
    int fd = fds[i] = tcp_connect(fx->port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, upgrade_head, strlen(upgrade_head), 0),
                     (ssize_t)strlen(upgrade_head));
    char head[512];
    size_t got = 0;
    while (!memmem(head, got, "\r\n\r\n", 4)) {
      ssize_t r = recv(fd, head + got, sizeof head - got, 0);
      assert_true(r > 0);
      got += (size_t)r;
    }
    assert_int_equal(memcmp(head, "HTTP/1.1 101 ", 13), 0);
    /* a ping answered proves the connection is past the handshake and idle again */
    assert_int_equal(send(fd, ping, sizeof ping, 0), (ssize_t)sizeof ping);
    uint8_t pong[2];
    assert_int_equal(recv(fd, pong, 2, MSG_WAITALL), 2);
    assert_int_equal(pong[0], 0x8A);
  }
  wait_count(fx, N);
  size_t after = server_heap(fx);
  double per = ((double)after - (double)before) / N;
  print_message("      idle ws connection (plain): %.0f bytes of heap each (%s)\n", per,
                __sanitizer_get_current_allocated_bytes ? "ASan: bytes requested"
                                                        : "mallinfo2: incl. malloc overhead");
  assert_true(per <= 2048);
  for (int i = 0; i < N; i++) close(fds[i]);
  wait_closed(fx, N + 1);
  size_t end = server_heap(fx);
  /* everything went back (a little slack for libuv's fd-indexed watcher array) */
  assert_true(end <= before + 64 * 1024);
  server_stop(fx);
}

/* TLS clients live in a child process (this same binary, --tls-clients) so their OpenSSL
** state is not counted as the server's. */
static int tls_clients_main(int port, int n, const char *ca_file) {
  SSL_CTX *ctx = tls_client_ctx(ca_file);
  for (int i = 0; i < n; i++) {
    int fd = tcp_connect(port);
    SSL *ssl = fd >= 0 ? tls_client(ctx, fd) : NULL;
    if (!ssl) return 1;
    if (SSL_write(ssl, upgrade_head, (int)strlen(upgrade_head)) <= 0) return 1;
    char head[512];
    int got = 0;
    while (!memmem(head, (size_t)got, "\r\n\r\n", 4)) {
      int r = SSL_read(ssl, head + got, (int)sizeof head - got);
      if (r <= 0) return 1;
      got += r;
    }
    if (memcmp(head, "HTTP/1.1 101 ", 13) != 0) return 1;
  }
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  _exit(0); /* the connections die with the process; no leak report for them */
}

static void test_memory_per_idle_tls_connection(void **state) {
  (void)state;
  enum { N = 200 };
  server_fx *fx = server_start(defaults, true);
  net_client *warm = cl_connect_tls(fx->tls_port, certs.cert);
  cl_sends(warm, upgrade_head);
  expect_101(warm);
  cl_close(warm);
  wait_closed(fx, 1);
  size_t before = server_heap(fx);
  int in[2], out[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  char port[16], count[16];
  snprintf(port, sizeof port, "%d", fx->tls_port);
  snprintf(count, sizeof count, "%d", N);
  char *argv[] = {"test_ws", "--tls-clients", port, count, certs.cert, NULL};
  pid_t pid;
  /* The path of this program, not /proc/self/exe itself: under valgrind that is valgrind's
  ** tool binary, while readlink() of it gives the test's own path either way. */
  char self[4096];
  ssize_t self_len = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(self_len > 0);
  self[self_len] = '\0';
  assert_int_equal(posix_spawn(&pid, self, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  char ready[8] = "";
  assert_int_equal(read(out[0], ready, 6), 6);
  assert_memory_equal(ready, "ready\n", 6);
  wait_count(fx, N);
  sleep_ms(50); /* the last session tickets are written */
  size_t after = server_heap(fx);
  print_message("      idle wss connection (TLS):  %.0f bytes of heap each (OpenSSL's SSL "
                "object and BIOs included)\n",
                ((double)after - (double)before) / N);
  close(in[1]); /* the children's clients exit */
  int st;
  waitpid(pid, &st, 0);
  close(out[0]);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  wait_closed(fx, N + 1);
  server_stop(fx);
}

/* ---------- setup ---------- */

static int make_certs(void **state) { return test_certs_make(&certs, "ws", false); }

static int remove_certs(void **state) { return test_certs_remove(&certs); }

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 5 && strcmp(argv[1], "--tls-clients") == 0) {
    return tls_clients_main(atoi(argv[2]), atoi(argv[3]), argv[4]);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_echo),
      cmocka_unit_test(test_handshake_token_lists),
      cmocka_unit_test(test_length_forms),
      cmocka_unit_test(test_fragmented_message),
      cmocka_unit_test(test_ping_pong),
      cmocka_unit_test(test_split_reads),
      cmocka_unit_test(test_close_handshake),
      cmocka_unit_test(test_binary_1003),
      cmocka_unit_test(test_oversized_1009),
      cmocka_unit_test(test_invalid_utf8_1007),
      cmocka_unit_test(test_protocol_errors_1002),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_bad_upgrades),
      cmocka_unit_test(test_shared_frame_fanout),
      cmocka_unit_test(test_close_all_1001),
      cmocka_unit_test(test_server_close_and_abort),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_frames_pipelined_after_upgrade),
      cmocka_unit_test(test_memory_per_idle_connection),
      cmocka_unit_test(test_memory_per_idle_tls_connection),
  };
  return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
