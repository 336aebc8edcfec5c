/*
** test_json_span.c — raw member spans: nesting, strings with brackets and escapes,
** white space, absent keys, escaped keys.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/json_span.h"

static void expect_span(const char *text, const char *key, const char *want)
{
  size_t off = 0, len = 0;
  bool found = json_member_span(text, strlen(text), key, &off, &len);
  if (!want) {
    assert_false(found);
    return;
  }
  assert_true(found);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(text + off, want, len);
}

static void test_spans(void **state)
{
  (void)state;
  const char *body = " { \"MsgRandom\" : 9, \"MsgBody\":[{\"MsgType\":\"TIMLocationElem\","
                     "\"MsgContent\":{\"Desc\":\"a ]}\\\" b\",\"Latitude\":1.10}}] ,"
                     "\"OfflinePushInfo\": {\"Ext\":\"{[\"} , \"x\":null}";
  expect_span(body, "MsgBody", "[{\"MsgType\":\"TIMLocationElem\",\"MsgContent\":{\"Desc\":"
              "\"a ]}\\\" b\",\"Latitude\":1.10}}]");
  expect_span(body, "OfflinePushInfo", "{\"Ext\":\"{[\"}");
  expect_span(body, "MsgRandom", "9");
  expect_span(body, "x", "null");
  expect_span(body, "Msg", NULL);
  expect_span(body, "Nope", NULL);
  expect_span("{}", "a", NULL);
  expect_span("[1]", "a", NULL);
  expect_span("{\"M\\u0073gBody\":[]}", "MsgBody", NULL);   /* escaped key: not found */
  expect_span("{\"a\":{\"MsgBody\":1},\"MsgBody\":2}", "MsgBody", "2");  /* top level only */
  /* Found by fuzzing: the raw key "\\\\" is one backslash; it must not match a key of two. */
  expect_span("{\"\\\\\":[],\"x\":1}", "\\\\", NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_spans)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
