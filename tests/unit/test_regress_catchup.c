/*
** test_regress_catchup.c — regression for a finding of fuzz/fuzz_ws.c.
**
** At a login, catch-up calls send_deferred() before each pending push and at its end; with
** nothing deferred its memmove ran on r->deferred == NULL (NULL + 0 as the source, NULL as
** the destination): undefined behaviour that UBSan (gcc's and clang's) turns into an
** abort, so under `make test-asan` every login with a pending push stopped imcastd.
** The fuzzer's input (a login of an account with pending pushes, then one empty text
** frame) is replayed through the same entry point as imcastd's (support/local_api.h): an api
** over an http_server on 127.0.0.1, real sockets, one loop thread (this one). The check that
** matters runs in the ASan+UBSan build; both builds check what the receiver gets.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/local_api.h"

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

/* local_api_read_until's stop: the 101's head and a text frame with the pushed Msg. */
static bool msg_arrived(const char *buf, size_t len)
{
  const char *frames = strstr(buf, "\r\n\r\n");
  return frames && count_events(frames + 4, buf + len, "Msg") > 0;
}

static void login_with_pending_push(void **state)
{
  local_api *la = *state;
  char usig[512], raw[2048], buf[65536];
  local_api_usersig("fuzzuser", usig, sizeof usig);
  /* fuzzuser exists and has a stored push waiting */
  const char *calls[][2] = {
    {"im_open_login_svc/account_import", "{\"UserID\":\"fuzzuser\"}"},
    {"all_member_push/im_push", "{\"MsgRandom\":1,\"MsgLifeTime\":600,\"MsgBody\":[{\"MsgType\":"
                                "\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}"},
  };
  for (size_t i = 0; i < 2; i++) {
    int n = snprintf(raw, sizeof raw, "POST /v4/%s?sdkappid=1400000000&identifier=administrator&"
                     "usersig=%s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", calls[i][0],
                     la->admin_sig, strlen(calls[i][1]), calls[i][1]);
    char *ans = local_api_exchange(la, raw, (size_t)n);
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
  int fd = local_api_connect(la);
  assert_int_equal(send(fd, raw, (size_t)n, 0), n);
  size_t have = local_api_read_until(la, fd, buf, sizeof buf, msg_arrived);
  assert_true(strncmp(buf, "HTTP/1.1 101 ", 13) == 0);
  const char *frames = strstr(buf, "\r\n\r\n");
  assert_non_null(frames);
  frames += 4;
  assert_int_equal(count_events(frames, buf + have, "Hello"), 1);
  assert_int_equal(count_events(frames, buf + have, "Msg"), 1);
  close(fd);
  local_api_turn(la);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(login_with_pending_push, local_api_setup,
                                    local_api_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
