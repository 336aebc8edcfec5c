/*
** harness.c — the api every api-level fuzz target drives. See harness.h.
*/
#include "harness.h"

#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/usersig.h"

static fz_api env;
static bool made;
static uv_loop_t loop;
static char dir[256];
static sqlite3 *db;               /* the harness's own connection to the same database */
static sqlite3_stmt *data_version;
static int64_t base_version;

void fz_fail(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("FUZZ FINDING: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* ------------------------------------------------------------------ setup */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void cleanup(void)
{
  if (db) sqlite3_finalize(data_version), sqlite3_close(db);
}

static char temp_dirs[4][256];

static void remove_temp_dirs(void)
{
  for (int i = 0; i < 4; i++)
    if (temp_dirs[i][0]) nftw(temp_dirs[i], rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

void fz_tempdir(char *path, size_t len)
{
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
  if (!base) base = "/tmp";
  DIR *d = opendir(base);
  for (struct dirent *de; d && (de = readdir(d));) {
    long pid;
    char full[512];
    if (sscanf(de->d_name, "imcast-fuzz-%ld-", &pid) == 1 && pid > 0 &&
        kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      snprintf(full, sizeof full, "%s/%s", base, de->d_name);
      nftw(full, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    }
  }
  if (d) closedir(d);
  snprintf(path, len, "%s/imcast-fuzz-%ld-XXXXXX", base, (long)getpid());
  if (!mkdtemp(path)) fz_fail("mkdtemp %s: %s", path, strerror(errno));
  for (int i = 0; i < 4; i++)
    if (!temp_dirs[i][0]) {
      if (i == 0) atexit(remove_temp_dirs);
      snprintf(temp_dirs[i], sizeof temp_dirs[i], "%s", path);
      break;
    }
}

static void end_of_turn(void *ctx)
{
  fz_api *e = ctx;
  api_end_of_turn(e->a);
  http_server_flush(e->http);
  api_after_flush(e->a);  /* as imcastd's uv_check does */
}

void fz_run(fz_api *e, size_t read_max)
{
  for (long i = 0; fake_hub_turn(e->hub, read_max, end_of_turn, e); i++)
    if (i > 1000000) fz_fail("livelock: still busy after a million loop turns");
}

/* One call of the baseline, which must succeed; returns its answer (json_decref it). */
static json_t *seed_call(fz_api *e, const char *path, const char *body)
{
  char *req = NULL;
  int n = asprintf(&req, "POST /v4/%s?sdkappid=%llu&identifier=%s&usersig=%s&random=1"
                   "&contenttype=json HTTP/1.1\r\nHost: fuzz\r\nContent-Length: %zu\r\n\r\n%s",
                   path, FZ_SDKAPPID, FZ_ADMIN, e->admin_sig, strlen(body), body);
  if (n < 0) abort();
  conn *c = fake_conn_accept(e->hub);
  fake_conn_send(c, req, (size_t)n);
  free(req);
  fz_run(e, 0);
  size_t len;
  const char *got = fake_conn_received(c, &len);
  fz_response r;
  if (fz_parse_responses(got, len, &r, 1) != 1 || r.status != 200)
    fz_fail("baseline %s: no answer", path);
  json_t *ans = json_loadb(r.body, r.body_len, 0, NULL);
  if (!ans || json_integer_value(json_object_get(ans, "ErrorCode")) != 0)
    fz_fail("baseline %s failed: %.*s", path, (int)r.body_len, r.body);
  fake_conn_free(c);
  fz_run(e, 0);
  return ans;
}

static void seed(fz_api *e)
{
  json_t *a;
  char body[4096];
  size_t n = (size_t)snprintf(body, sizeof body, "{\"Accounts\":[\"%s\",\"admin\",\"用户\"", FZ_USER);
  for (int i = 0; i < 24; i++) n += (size_t)snprintf(body + n, sizeof body - n, ",\"u%d\"", i);
  snprintf(body + n, sizeof body - n, "]}");
  json_decref(seed_call(e, "im_open_login_svc/multiaccount_import", body));
  json_decref(seed_call(e, "all_member_push/im_set_attr_name",
                        "{\"AttrNames\":{\"0\":\"sex\",\"1\":\"city\",\"2\":\"level\",\"3\":\"vip\"}}"));
  json_decref(seed_call(e, "all_member_push/im_set_attr",
                        "{\"UserAttrs\":["
                        "{\"To_Account\":\"u0\",\"Attrs\":{\"sex\":\"F\",\"city\":\"SZ\"}},"
                        "{\"To_Account\":\"u1\",\"Attrs\":{\"sex\":\"M\",\"city\":\"SZ\",\"level\":\"3\"}},"
                        "{\"To_Account\":\"u2\",\"Attrs\":{\"sex\":\"F\",\"city\":\"BJ\",\"vip\":\"true\"}},"
                        "{\"To_Account\":\"fuzzuser\",\"Attrs\":{\"sex\":\"F\",\"level\":\"3\"}},"
                        "{\"To_Account\":\"用户\",\"Attrs\":{\"city\":\"深圳\"}}]}"));
  json_decref(seed_call(e, "all_member_push/im_add_tag",
                        "{\"UserTags\":["
                        "{\"To_Account\":\"u0\",\"Tags\":[\"a\",\"b\"]},"
                        "{\"To_Account\":\"u1\",\"Tags\":[\"b\",\"c\"]},"
                        "{\"To_Account\":\"u3\",\"Tags\":[\"a\",\"vip\",\"标签\"]},"
                        "{\"To_Account\":\"fuzzuser\",\"Tags\":[\"a\",\"b\",\"c\",\"vip\"]},"
                        "{\"To_Account\":\"u4\",\"Tags\":[\"0123456789012345678901234567890123456789012345678X\"]}]}"));
  static const char *const pushes[FZ_BASE_PUSHES] = {
    "{\"MsgRandom\":1,\"MsgLifeTime\":604800,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\","
    "\"MsgContent\":{\"Text\":\"to all\"}}],\"OfflinePushInfo\":{\"Title\":\"t\"}}",
    "{\"MsgRandom\":2,\"MsgLifeTime\":604800,\"Condition\":{\"TagsOr\":[\"a\",\"c\"]},"
    "\"MsgBody\":[{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"1.10\"}}]}",
    "{\"MsgRandom\":3,\"MsgLifeTime\":604800,\"Condition\":{\"AttrsAnd\":{\"sex\":\"F\"}},"
    "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"revoked\"}}]}",
  };
  for (int i = 0; i < FZ_BASE_PUSHES; i++) {
    a = seed_call(e, "all_member_push/im_push", pushes[i]);
    snprintf(e->task_ids[i], sizeof e->task_ids[i], "%s",
             json_string_value(json_object_get(a, "TaskId")));
    json_decref(a);
  }
  snprintf(body, sizeof body, "{\"TaskId\":\"%s\"}", e->task_ids[FZ_BASE_PUSHES - 1]);
  json_decref(seed_call(e, "all_member_push/im_revoke", body));
  /* More stored pushes to everyone, so that a login's catch-up overflows the (small)
  ** output cap and is paced over several turns. */
  for (int i = 0; i < 8; i++) {
    n = (size_t)snprintf(body, sizeof body, "{\"MsgRandom\":%d,\"MsgLifeTime\":604800,"
                         "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"", 100 + i);
    for (int k = 0; k < 40 * (i + 1); k++) body[n++] = (char)('a' + (k + i) % 26);
    snprintf(body + n, sizeof body - n, "\"}}]}");
    json_decref(seed_call(e, "all_member_push/im_push", body));
  }
}

static void sql(const char *text)
{
  char *err = NULL;
  if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK) fz_fail("harness SQL %s: %s", text, err);
}

static int64_t current_version(void)
{
  if (sqlite3_step(data_version) != SQLITE_ROW) fz_fail("PRAGMA data_version");
  int64_t v = sqlite3_column_int64(data_version, 0);
  sqlite3_reset(data_version);
  return v;
}

fz_api *fz_api_get(void)
{
  if (made) return &env;
  made = true;
  fz_api *e = &env;
  log_set_level(LOG_ERROR);
  fz_tempdir(dir, sizeof dir);
  atexit(cleanup); /* runs before the folder's removal (atexit order is reversed) */

  char err[256];
  if (store_open(&e->st, dir, NULL, err, sizeof err) != 0) fz_fail("store_open: %s", err);
  api_state state;
  if (api_load_state(e->st, &state) != 0) fz_fail("api_load_state");
  if (uv_loop_init(&loop) != 0) fz_fail("uv_loop_init");
  /* Small limits, so inputs of a few KB reach the 431 / 413 / pipelining paths. */
  http_server_options ho = {.loop = &loop, .on_request = api_on_request,
                            .on_abandon = api_on_abandon,
                            .limits = {.max_header_bytes = FZ_MAX_HEADER_BYTES,
                                       .max_body_bytes = FZ_MAX_BODY_BYTES,
                                       .max_pipelined = FZ_MAX_PIPELINED}};
  if (http_server_new(&e->http, &ho) != 0) fz_fail("http_server_new");
  e->hub = fake_last_hub;
  /* A small output cap: catch-up is paced and a slow receiver can pass the cap. */
  api_options ao = {.sdkappid = FZ_SDKAPPID, .key = FZ_KEY, .admins = {FZ_ADMIN, "admin"},
                    .n_admins = 2, .ws_queue_cap_bytes = FZ_WS_QUEUE_CAP};
  e->a = api_new(&ao, &loop, e->http, &state, e->st);
  if (!e->a) fz_fail("api_new");
  http_server_set_context(e->http, e->a);

  int64_t now = (int64_t)time(NULL);
  if (usersig_gen(FZ_KEY, FZ_SDKAPPID, FZ_ADMIN, now - 60, 10 * 365 * 86400LL, e->admin_sig,
                  sizeof e->admin_sig) < 0 ||
      usersig_gen(FZ_KEY, FZ_SDKAPPID, FZ_USER, now - 60, 10 * 365 * 86400LL, e->user_sig,
                  sizeof e->user_sig) < 0)
    fz_fail("usersig_gen");
  seed(e);

  char path[300];
  snprintf(path, sizeof path, "%s/imcast.db", dir);
  if (sqlite3_open(path, &db) != SQLITE_OK) fz_fail("sqlite3_open %s", path);
  sqlite3_busy_timeout(db, 5000);
  char text[700];
  snprintf(text, sizeof text, "VACUUM INTO '%s/base.db'", dir);
  sql(text);
  snprintf(text, sizeof text, "ATTACH '%s/base.db' AS base", dir);
  sql(text);
  if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &data_version, NULL) != SQLITE_OK)
    fz_fail("prepare data_version");
  base_version = current_version();
  fz_api_reset(e, true);
  return e;
}

void fz_api_reset(fz_api *e, bool force)
{
  int64_t v = current_version();
  bool changed = v != base_version;
  if (changed) {
    static const char restore[] =
      "BEGIN IMMEDIATE;"
      "DELETE FROM main.meta; INSERT INTO main.meta SELECT * FROM base.meta;"
      "DELETE FROM main.accounts; INSERT INTO main.accounts SELECT * FROM base.accounts;"
      "DELETE FROM main.attr_names; INSERT INTO main.attr_names SELECT * FROM base.attr_names;"
      "DELETE FROM main.user_attrs; INSERT INTO main.user_attrs SELECT * FROM base.user_attrs;"
      "DELETE FROM main.user_tags; INSERT INTO main.user_tags SELECT * FROM base.user_tags;"
      "DELETE FROM main.pushes; INSERT INTO main.pushes SELECT * FROM base.pushes;"
      "DELETE FROM main.push_retries; INSERT INTO main.push_retries SELECT * FROM base.push_retries;"
      "COMMIT;";
    sql(restore);
    base_version = current_version();
  }
  if (!changed && !force) return;
  api *a = e->a;
  if (a->waiting || a->n_fanout || a->catching_up || sessions_total(a->online))
    fz_fail("reset with work in flight");
  api_state fresh;
  if (api_load_state(e->st, &fresh) != 0) fz_fail("reload: %s", store_errmsg(e->st));
  api_state old = {.dir = a->dir, .pushes = a->pushes};
  api_state_free(&old);
  a->dir = fresh.dir;
  a->pushes = fresh.pushes;
  a->next_uid = fresh.next_uid;
  a->last_push_ms = 0;
  a->quota_used = 0;
}

/* ------------------------------------------------------------------ helpers */

static int stop_at_dirty(push *p, void *ctx)
{
  (void)p;
  *(bool *)ctx = true;
  return 1; /* keeps the flag */
}

bool fz_acks_pending(const fz_api *e)
{
  bool dirty = false;
  push_registry_each_dirty(e->a->pushes, stop_at_dirty, &dirty);
  return dirty;
}

char *fz_expand(const fz_api *e, const uint8_t *data, size_t len, size_t *outlen)
{
  static const char *const keys[] = {"@SIG@", "@USIG@", "@TASK0@", "@TASK1@", "@TASK2@"};
  const char *vals[] = {e->admin_sig, e->user_sig, e->task_ids[0], e->task_ids[1],
                        e->task_ids[2]};
  size_t cap = len + 1, n = 0;
  for (size_t i = 0; i < len; i++)
    if (data[i] == '@') cap += 512;
  char *out = malloc(cap);
  if (!out) abort();
  for (size_t i = 0; i < len;) {
    bool done = false;
    if (data[i] == '@')
      for (size_t k = 0; k < sizeof keys / sizeof keys[0] && !done; k++) {
        size_t kl = strlen(keys[k]);
        if (len - i >= kl && memcmp(data + i, keys[k], kl) == 0) {
          size_t vl = strlen(vals[k]);
          memcpy(out + n, vals[k], vl);
          n += vl;
          i += kl;
          done = true;
        }
      }
    if (!done) out[n++] = (char)data[i++];
  }
  out[n] = '\0';
  *outlen = n;
  return out;
}

static const char *find_crlf2(const char *p, const char *end)
{
  for (; end - p >= 4; p++)
    if (memcmp(p, "\r\n\r\n", 4) == 0) return p;
  return NULL;
}

size_t fz_parse_responses(const char *buf, size_t len, fz_response *out, size_t max)
{
  return fz_parse_responses_cut(buf, len, out, max, false);
}

size_t fz_parse_responses_cut(const char *buf, size_t len, fz_response *out, size_t max,
                              bool may_be_cut)
{
  const char *p = buf, *end = buf + len;
  size_t k = 0;
  while (p < end) {
    const char *head_end = find_crlf2(p, end);
    if (may_be_cut && (!head_end || end - p < 12) && memcmp(p, "HTTP/1.1 ", (size_t)(end - p) < 9 ? (size_t)(end - p) : 9) == 0)
      return k; /* the last response, cut in its head */
    if (end - p < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0)
      fz_fail("response does not start with a status line: %.40s", p);
    if (!head_end) fz_fail("response head without its blank line");
    fz_response r = {.status = atoi(p + 9)};
    if (r.status < 100 || r.status > 599) fz_fail("bad status %d", r.status);
    size_t clen = 0;
    bool has_len = false;
    for (const char *h = (const char *)memchr(p, '\n', (size_t)(head_end + 2 - p)) + 1; h < head_end;) {
      const char *eol = memchr(h, '\r', (size_t)(head_end + 2 - h));
      if (strncasecmp(h, "Content-Length:", 15) == 0) {
        clen = strtoul(h + 15, NULL, 10);
        has_len = true;
      } else if (strncasecmp(h, "Connection: close", 17) == 0) {
        r.close = true;
      } else if (strncasecmp(h, "Content-Type: application/json", 30) == 0) {
        r.json = true;
      }
      h = eol + 2;
    }
    p = head_end + 4;
    if (r.status == 101) { /* the rest is the new protocol's */
      r.body = p;
      r.body_len = (size_t)(end - p);
      if (k < max) out[k] = r;
      return k + 1;
    }
    if (!has_len && r.status != 100) fz_fail("response %d without Content-Length", r.status);
    if ((size_t)(end - p) < clen) {
      if (may_be_cut) return k; /* the last response, cut in its body */
      fz_fail("response body shorter than its Content-Length");
    }
    r.body = p;
    r.body_len = clen;
    p += clen;
    if (k < max) out[k] = r;
    k++;
  }
  return k;
}

int fz_check_envelope(const char *body, size_t len)
{
  json_error_t err;
  json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
  if (!json_is_object(v)) fz_fail("envelope is not a JSON object (%s): %.*s", err.text, (int)len, body);
  json_t *status = json_object_get(v, "ActionStatus"), *info = json_object_get(v, "ErrorInfo"),
         *code = json_object_get(v, "ErrorCode");
  if (!json_is_string(status) || !json_is_string(info) || !json_is_integer(code))
    fz_fail("envelope lacks a field: %.*s", (int)len, body);
  int c = (int)json_integer_value(code);
  bool ok = strcmp(json_string_value(status), "OK") == 0;
  if (ok != (c == 0) || (!ok && strcmp(json_string_value(status), "FAIL") != 0))
    fz_fail("ActionStatus and ErrorCode disagree: %.*s", (int)len, body);
  if (!ok && json_string_length(info) == 0) fz_fail("a failure without ErrorInfo: %.*s", (int)len, body);
  json_decref(v);
  return c;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL; /* a separator */
}

static uint64_t mix_str(uint64_t h, const char *s) { return s ? mix(h, s, strlen(s)) : mix(h, "", 0) + 1; }

uint64_t fz_dir_digest(const directory *d)
{
  uint64_t h = 1469598103934665603ULL;
  for (int slot = 0; slot < DIR_ATTR_SLOTS; slot++) h = mix_str(h, directory_attr_name(d, slot));
  roaring_uint32_iterator_t *it = roaring_create_iterator(directory_all(d));
  for (; it->has_value; roaring_advance_uint32_iterator(it)) {
    uint32_t uid = it->current_value;
    h = mix(h, &uid, sizeof uid);
    h = mix_str(h, directory_user_id(d, uid));
    size_t n;
    const char *const *tags = directory_tags(d, uid, &n);
    for (size_t i = 0; i < n; i++) h = mix_str(h, tags[i]);
    for (int slot = 0; slot < DIR_ATTR_SLOTS; slot++) h = mix_str(h, directory_attr_value(d, uid, slot));
  }
  roaring_free_uint32_iterator(it);
  return h;
}
