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
** replayed through the same entry point as imcastd's (support/local_api.h): an api over an
** http_server on 127.0.0.1, a real socket, one loop thread (this one).
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

#include "common/text.h"
#include "support/local_api.h"

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
  local_api *la = *state;
  static const char raw[] =
    "GET /v4/ws?sdkappid=%ff&identifier=u1&usersig=x HTTP/1.1\r\nHost: x\r\n\r\n";
  char *ans = local_api_exchange(la, raw, sizeof raw - 1);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70020);
  assert_int_equal(status, 403);
  assert_non_null(strstr(info, "sdkappid ? is not served here"));
  free(ans);
  /* the server is still there */
  ans = local_api_exchange(la, raw, sizeof raw - 1);
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70020);
  free(ans);
}

static void rest_path_not_utf8(void **state)
{
  local_api *la = *state;
  /* the fuzzer's input, with a sig made now */
  char raw[2048];
  int n = snprintf(raw, sizeof raw,
                   "POST /v4/all_member_p\x8b\x8c\x97\xd0im_add_tag?sdkappid=1400000000&identzifier"
                   "=administrator&usersig=%s&contenttype=json HTTP/1.1\r\nHost: 127.0.0.1:8080"
                   "\r\nContent-Length: 39\r\n\r\n{\"To_Account\":\"test2\",\"Tags\":[\"a\",\"b\"]}",
                   la->admin_sig);
  char *ans = local_api_exchange(la, raw, (size_t)n);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 60009);
  assert_int_equal(status, 200);
  assert_non_null(strstr(info, "/v4/all_member_p????im_add_tag"));
  free(ans);
}

static void rest_identifier_not_utf8(void **state)
{
  local_api *la = *state;
  static const char raw[] =
    "POST /v4/all_member_push/im_get_attr_name?sdkappid=1400000000&identifier=%c3%28&"
    "usersig=x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
  char *ans = local_api_exchange(la, raw, sizeof raw - 1);
  int status;
  char info[512];
  assert_int_equal(envelope_code(ans, &status, info, sizeof info), 70003);
  assert_non_null(strstr(info, "'?('"));
  free(ans);
}

/* %.64s cutting a two-byte character in half. */
static void rest_cut_inside_a_character(void **state)
{
  local_api *la = *state;
  char from[200] = "a";
  for (int i = 0; i < 40; i++) strcat(from, "\xc3\xa9");
  char body[512], raw[2048];
  int bl = snprintf(body, sizeof body, "{\"MsgRandom\":1,\"From_Account\":\"%s\",\"MsgBody\":"
                    "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"x\"}}]}", from);
  int n = snprintf(raw, sizeof raw, "POST /v4/all_member_push/im_push?sdkappid=1400000000&"
                   "identifier=administrator&usersig=%s HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s",
                   la->admin_sig, bl, body);
  char *ans = local_api_exchange(la, raw, (size_t)n);
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
    cmocka_unit_test_setup_teardown(ws_login_bad_appid, local_api_setup,
                                    local_api_teardown),
    cmocka_unit_test_setup_teardown(rest_path_not_utf8, local_api_setup,
                                    local_api_teardown),
    cmocka_unit_test_setup_teardown(rest_identifier_not_utf8, local_api_setup,
                                    local_api_teardown),
    cmocka_unit_test_setup_teardown(rest_cut_inside_a_character, local_api_setup,
                                    local_api_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
