/*
** test_regress_catchup.c — regression for a finding of fuzz/fuzz_ws.c.
**
** At a login, catch-up calls send_deferred() before each pending push and at its end; with
** nothing deferred its memmove ran on r->deferred == NULL (NULL + 0 as the source, NULL as
** the destination): undefined behaviour that UBSan (gcc's and clang's) turns into an
** abort, so under `make test-asan` every login with a pending push stopped imcastd.
** The fuzzer's input (a login of an account with pending pushes, then one empty text
** frame) is replayed through the same entry point as imcastd's: an api over an http_server
** on 127.0.0.1, real sockets, one loop thread (this one). The check that matters runs in
** the ASan+UBSan build; both builds check what the receiver gets.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/log.h"
#include "common/usersig.h"

#define KEY "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
#define APPID 1400000000ull

typedef struct fixture {
  uv_loop_t loop;
  store *st;
  api *a;
  http_server *http;
  uv_check_t check;
  int port;
  bool drained;
  char dir[64];
  char sig[512];
} fixture;

static void on_check(uv_check_t *h)
{
  fixture *f = h->data;
  api_end_of_turn(f->a);
  http_server_flush(f->http);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  log_set_level(LOG_ERROR);
  snprintf(f->dir, sizeof f->dir, "/tmp/imcast-regress-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char err[256];
  assert_int_equal(store_open(&f->st, f->dir, NULL, err, sizeof err), 0);
  api_state st;
  assert_int_equal(api_load_state(f->st, &st), 0);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  http_server_options ho = {.loop = &f->loop, .on_request = api_on_request,
                            .on_abandon = api_on_abandon};
  assert_int_equal(http_server_new(&f->http, &ho), 0);
  api_options ao = {.sdkappid = APPID, .key = KEY, .admins = {"administrator"}, .n_admins = 1};
  f->a = api_new(&ao, &f->loop, f->http, &st, f->st);
  assert_non_null(f->a);
  http_server_set_context(f->http, f->a);
  assert_int_equal(http_server_listen(f->http, "127.0.0.1", 0, NULL, &f->port), 0);
  uv_check_init(&f->loop, &f->check);
  f->check.data = f;
  uv_check_start(&f->check, on_check);
  assert_true(usersig_gen(KEY, APPID, "administrator", (int64_t)time(NULL), 86400, f->sig,
                          sizeof f->sig) > 0);
  *state = f;
  return 0;
}

static void on_drained(void *ctx)
{
  fixture *f = ctx;
  f->drained = true;
  uv_check_stop(&f->check);
  uv_close((uv_handle_t *)&f->check, NULL);
}

static int teardown(void **state)
{
  fixture *f = *state;
  api_close_receivers(f->a);
  http_server_shutdown(f->http, on_drained, f);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_true(f->drained);
  api_free(f->a);
  http_server_free(f->http);
  store_close(f->st);
  uv_loop_close(&f->loop);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* Sends raw on a new connection and returns the first complete answer (head and body),
** running the loop on this thread meanwhile. */
static char *exchange(fixture *f, const char *raw, size_t len)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(send(fd, raw, len, 0), (ssize_t)len);
  char *buf = calloc(1, 65536);
  size_t n = 0;
  for (int turns = 0; turns < 5000; turns++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1) == 1) {
      ssize_t r = recv(fd, buf + n, 65535 - n, 0);
      if (r <= 0) break;
      n += (size_t)r;
    }
    char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
    if (end && cl && n >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10)) break;
  }
  close(fd);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return buf;
}

/* The server frames after the 101's head: counts the text frames holding `event`. */
static int count_events(const char *p, const char *end, const char *event)
{
  int k = 0;
  while (end - p >= 2) {
    size_t len = (uint8_t)p[1] & 0x7F, h = 2;
    if (len == 126) len = (size_t)((uint8_t)p[2] << 8 | (uint8_t)p[3]), h = 4;
    if ((size_t)(end - p) < h + len) break;
    if ((p[0] & 0x0F) == 1) {
      json_t *v = json_loadb(p + h, len, 0, NULL);
      const char *ev = json_string_value(json_object_get(v, "Event"));
      if (ev && strcmp(ev, event) == 0) k++;
      json_decref(v);
    }
    p += h + len;
  }
  return k;
}

static void login_with_pending_push(void **state)
{
  fixture *f = *state;
  char usig[512], raw[2048], buf[65536];
  assert_true(usersig_gen(KEY, APPID, "fuzzuser", (int64_t)time(NULL), 86400, usig,
                          sizeof usig) > 0);
  /* fuzzuser exists and has a stored push waiting */
  const char *calls[][2] = {
    {"im_open_login_svc/account_import", "{\"UserID\":\"fuzzuser\"}"},
    {"all_member_push/im_push", "{\"MsgRandom\":1,\"MsgLifeTime\":600,\"MsgBody\":[{\"MsgType\":"
                                "\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}"},
  };
  for (size_t i = 0; i < 2; i++) {
    int n = snprintf(raw, sizeof raw, "POST /v4/%s?sdkappid=1400000000&identifier=administrator&"
                     "usersig=%s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", calls[i][0], f->sig,
                     strlen(calls[i][1]), calls[i][1]);
    char *ans = exchange(f, raw, (size_t)n);
    assert_non_null(strstr(ans, "\"ErrorCode\":0"));
    free(ans);
  }
  /* the fuzzer's input: the login, then an empty masked text frame, in one read */
  int n = snprintf(raw, sizeof raw,
                   "GET /v4/ws?sdkappid=1400000000&identifier=fuzzuser&usersig=%s HTTP/1.1\r\n"
                   "Host: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   usig);
  memcpy(raw + n, "\x81\x80\x00\x00\x00\x00", 6);
  n += 6;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(send(fd, raw, (size_t)n, 0), n);
  size_t have = 0;
  const char *frames = NULL;
  for (int turns = 0; turns < 5000; turns++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1) == 1) {
      ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
      if (r <= 0) break;
      have += (size_t)r;
      buf[have] = '\0';
      frames = strstr(buf, "\r\n\r\n");
      if (frames && count_events(frames + 4, buf + have, "Msg") > 0) break;
    }
  }
  assert_true(strncmp(buf, "HTTP/1.1 101 ", 13) == 0);
  assert_non_null(frames);
  frames += 4;
  assert_int_equal(count_events(frames, buf + have, "Hello"), 1);
  assert_int_equal(count_events(frames, buf + have, "Msg"), 1);
  close(fd);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(login_with_pending_push, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
