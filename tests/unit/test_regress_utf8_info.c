/*
** test_regress_utf8_info.c — regressions for findings of fuzz/fuzz_http.c.
**
** An ErrorInfo may quote request bytes (a path, a percent-decoded query value) or be cut
** by a length limit (%.64s) inside a UTF-8 character. jansson refuses a string that is not
** UTF-8, so:
**  - a WebSocket login with a bad sdkappid such as %ff made refuse() get NULL from
**    json_pack, take it for an out-of-memory and abort(): any client could stop imcastd
**    with one GET /v4/ws?sdkappid=%ff;
**  - a REST answer quoting such bytes (an unknown path, an identifier, a cut UserID) lost
**    its ErrorInfo: the envelope had two of its three fields.
** Both now answer with the bytes that are not UTF-8 replaced by '?'. The fuzzer's inputs are
** replayed through the same entry point as imcastd's: an api over an http_server on
** 127.0.0.1, a real socket, one loop thread (this one).
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
#include "common/text.h"
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

/* The answer's status and its envelope, which must have all three fields. */
static int envelope_code(const char *answer, int *status, char *info, size_t infolen)
{
  assert_true(strncmp(answer, "HTTP/1.1 ", 9) == 0);
  *status = atoi(answer + 9);
  const char *body = strstr(answer, "\r\n\r\n");
  assert_non_null(body);
  json_error_t err;
  json_t *v = json_loads(body + 4, 0, &err);
  assert_non_null(v);
  assert_true(json_is_string(json_object_get(v, "ActionStatus")));
  assert_true(json_is_string(json_object_get(v, "ErrorInfo")));
  assert_true(json_is_integer(json_object_get(v, "ErrorCode")));
  snprintf(info, infolen, "%s", json_string_value(json_object_get(v, "ErrorInfo")));
  int code = (int)json_integer_value(json_object_get(v, "ErrorCode"));
  json_decref(v);
  return code;
}

static void ws_login_bad_appid(void **state)
{
  fixture *f = *state;
  static const char raw[] =
    "GET /v4/ws?sdkappid=%ff&identifier=u1&usersig=x HTTP/1.1\r\nHost: x\r\n\r\n";
  char *ans = exchange(f, raw, sizeof raw - 1);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70020);
  assert_int_equal(status, 403);
  assert_non_null(strstr(info, "sdkappid ? is not served here"));
  free(ans);
  /* the server is still there */
  ans = exchange(f, raw, sizeof raw - 1);
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70020);
  free(ans);
}

static void rest_path_not_utf8(void **state)
{
  fixture *f = *state;
  /* the fuzzer's input, with a sig made now */
  char raw[2048];
  int n = snprintf(raw, sizeof raw,
                   "POST /v4/all_member_p\x8b\x8c\x97\xd0im_add_tag?sdkappid=1400000000&identzifier"
                   "=administrator&usersig=%s&contenttype=json HTTP/1.1\r\nHost: 127.0.0.1:8080"
                   "\r\nContent-Length: 39\r\n\r\n{\"To_Account\":\"test2\",\"Tags\":[\"a\",\"b\"]}",
                   f->sig);
  char *ans = exchange(f, raw, (size_t)n);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 60009);
  assert_int_equal(status, 200);
  assert_non_null(strstr(info, "/v4/all_member_p????im_add_tag"));
  free(ans);
}

static void rest_identifier_not_utf8(void **state)
{
  fixture *f = *state;
  static const char raw[] =
    "POST /v4/all_member_push/im_get_attr_name?sdkappid=1400000000&identifier=%c3%28&"
    "usersig=x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
  char *ans = exchange(f, raw, sizeof raw - 1);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70003);
  assert_non_null(strstr(info, "'?('"));
  free(ans);
}

/* %.64s cutting a two-byte character in half. */
static void rest_cut_inside_a_character(void **state)
{
  fixture *f = *state;
  char from[200] = "a";
  for (int i = 0; i < 40; i++) strcat(from, "\xc3\xa9");
  char body[512], raw[2048];
  int bl = snprintf(body, sizeof body, "{\"MsgRandom\":1,\"From_Account\":\"%s\",\"MsgBody\":"
                    "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"x\"}}]}", from);
  int n = snprintf(raw, sizeof raw, "POST /v4/all_member_push/im_push?sdkappid=1400000000&"
                   "identifier=administrator&usersig=%s HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s",
                   f->sig, bl, body);
  char *ans = exchange(f, raw, (size_t)n);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70107);
  assert_true(text_is_utf8(info, strlen(info)));
  free(ans);
}

static void scrub(void **state)
{
  (void)state;
  char s[] = "ok \xc3\xa9 \xff \xc3 \xe6\xa0\x87\xe7\xad\xbe \xed\xa0\x80 \xf0\x9f\x98";
  text_scrub_utf8(s);
  assert_string_equal(s, "ok \xc3\xa9 ? ? \xe6\xa0\x87\xe7\xad\xbe ??? ???");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(scrub),
    cmocka_unit_test_setup_teardown(ws_login_bad_appid, setup, teardown),
    cmocka_unit_test_setup_teardown(rest_path_not_utf8, setup, teardown),
    cmocka_unit_test_setup_teardown(rest_identifier_not_utf8, setup, teardown),
    cmocka_unit_test_setup_teardown(rest_cut_inside_a_character, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
