/*
** fuzz_api.c — every REST handler's validation, through the real router and envelope.
**
** Input: calls separated by "\n#\n" (never inside valid JSON). Each call is one byte that
** picks the route (byte % 20) and the caller ((byte / 20) % 4: 0-1 administrator, 2 the
** second admin "admin", 3 fuzzuser, not an admin), then the request body (@SIG@, @TASK0@...
** expanded as in fuzz_http.c). The calls go one after another on one keep-alive connection
** (over fake_conn.c, see fuzz_http.c) to an api whose store starts each input from the same
** baseline (accounts u0..u23, fuzzuser, admin, 用户; attribute names sex, city, level, vip;
** tags; three stored pushes, the last revoked).
**
** Checked for every call: exactly one answer, HTTP 200, a well-formed envelope; never 91000
** (this store never fails, so 91000 could only come from bad input); a failed call leaves
** the directory and the pushes exactly as they were; a few success shapes (TaskId is
** [0-9a-f_]+, Audience >= Online >= 0, per-item lists are arrays).
*/
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/usersig.h"
#include "harness.h"

static const char *const routes[20] = {
  "im_open_login_svc/account_import",    "im_open_login_svc/multiaccount_import",
  "im_open_login_svc/account_delete",    "im_open_login_svc/account_check",
  "im_open_login_svc/kick",              "openim/query_online_status",
  "openim/querystate",                   "all_member_push/im_set_attr_name",
  "all_member_push/im_get_attr_name",    "all_member_push/im_get_attr",
  "all_member_push/im_set_attr",         "all_member_push/im_remove_attr",
  "all_member_push/im_get_tag",          "all_member_push/im_add_tag",
  "all_member_push/im_remove_tag",       "all_member_push/im_remove_all_tags",
  "all_member_push/im_push",             "all_member_push/im_get_push_report",
  "all_member_push/im_revoke",           "all_member_push/im_get_audience",
};

static char second_admin_sig[512];

static uint64_t state_digest(const api *a)
{
  return fz_dir_digest(a->dir) ^ push_registry_count(a->pushes) * 0x9E3779B97F4A7C15ull ^
         push_registry_next_seq(a->pushes) * 0xC2B2AE3D27D4EB4Full;
}

static void check_shape(int route, const char *body, size_t len)
{
  json_t *v = json_loadb(body, len, 0, NULL);
  const char *name = routes[route];
  if (strstr(name, "im_push")) {
    const char *id = json_string_value(json_object_get(v, "TaskId"));
    if (!id || !*id || strspn(id, "0123456789abcdef_") != strlen(id))
      fz_fail("im_push OK without a proper TaskId: %.*s", (int)len, body);
  } else if (strstr(name, "im_get_audience")) {
    json_t *aud = json_object_get(v, "Audience"), *on = json_object_get(v, "Online");
    if (!json_is_integer(aud) || !json_is_integer(on) || json_integer_value(on) < 0 ||
        json_integer_value(on) > json_integer_value(aud))
      fz_fail("im_get_audience: bad counts: %.*s", (int)len, body);
  } else {
    static const char *const lists[] = {"ResultItem", "QueryResult", "UserAttrs", "UserTags",
                                        "FailAccounts", "ErrorList"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
      json_t *l = json_object_get(v, lists[i]);
      if (l && !json_is_array(l)) fz_fail("%s is not an array: %.*s", lists[i], (int)len, body);
    }
  }
  json_decref(v);
}

static void one_call(fz_api *e, conn *c, const uint8_t *rec, size_t len)
{
  if (len == 0) return;
  int route = rec[0] % 20, who = (rec[0] / 20) % 4;
  const char *id = who < 2 ? FZ_ADMIN : who == 2 ? "admin" : FZ_USER;
  const char *sig = who < 2 ? e->admin_sig : who == 2 ? second_admin_sig : e->user_sig;
  size_t blen;
  char *body = fz_expand(e, rec + 1, len - 1, &blen);
  char head[1024];
  int hn = snprintf(head, sizeof head,
                    "POST /v4/%s?sdkappid=%llu&identifier=%s&usersig=%s&random=7&contenttype=json"
                    " HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    routes[route], FZ_SDKAPPID, id, sig, blen);
  uint64_t before = state_digest(e->a);
  fake_conn_clear_received(c);
  fake_conn_send(c, head, (size_t)hn);
  fake_conn_send(c, body, blen);
  fz_run(e, 0);
  size_t n;
  const char *out = fake_conn_received(c, &n);
  fz_response r[2];
  if (fz_parse_responses(out, n, r, 2) != 1) fz_fail("not exactly one answer to %s", routes[route]);
  if (r[0].status != 200 || !r[0].json) fz_fail("%s answered HTTP %d", routes[route], r[0].status);
  int code = fz_check_envelope(r[0].body, r[0].body_len);
  if (code == 91000)
    fz_fail("91000 from %s for bad input: %.*s", routes[route], (int)r[0].body_len, r[0].body);
  if (code != 0 && state_digest(e->a) != before)
    fz_fail("%s failed with %d but changed the state", routes[route], code);
  if (code == 0) check_shape(route, r[0].body, r[0].body_len);
  free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_api *e = fz_api_get();
  if (!second_admin_sig[0] && usersig_gen(FZ_KEY, FZ_SDKAPPID, "admin", 1700000000,
                                          20LL * 365 * 86400, second_admin_sig,
                                          sizeof second_admin_sig) < 0)
    abort();
  conn *c = fake_conn_accept(e->hub);
  const uint8_t *p = data, *end = data + size;
  for (int calls = 0; p < end && calls < 16; calls++) {
    const uint8_t *sep = memmem(p, (size_t)(end - p), "\n#\n", 3);
    const uint8_t *stop = sep ? sep : end;
    one_call(e, c, p, (size_t)(stop - p));
    if (fake_conn_closed(c)) break;
    p = sep ? sep + 3 : end;
  }
  fake_conn_free(c);
  fz_run(e, 0);
  fz_api_reset(e, false);
  return 0;
}
