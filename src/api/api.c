/*
** api.c — the way of a REST call: route, authenticate, parse, handle, answer after commit.
**
** Checks run in this order, each answering with its Tencent code: the peer address's
** request rate (60006, before anything else, so a refused request costs little and
** changes nothing), sdkappid present (60012), path known (60009), method POST (60002),
** sdkappid right (70020/70014), UserSig (70001..70014), admin identifier (90009 on
** all_member_push, 60010 elsewhere), body is a JSON object (90001; an empty body and `[]`
** count as {}), then the handler.
*/
#include "api/api_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/text.h"
#include "common/usersig.h"
#include "net/ratelimit.h"

/* Addresses the request cap remembers at once (about 100 bytes each); see ratelimit.h
** for what happens past it. */
#define API_RATE_MAX_ADDRESSES 65536

typedef struct route {
  const char *path;
  api_handler handler;
  int not_admin_code;      /* 90009 for all_member_push, 60010 for the others */
} route;

static const route routes[] = {
  {"/v4/im_open_login_svc/account_import", svc_account_import, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/im_open_login_svc/multiaccount_import", svc_multiaccount_import, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/im_open_login_svc/account_delete", svc_account_delete, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/im_open_login_svc/account_check", svc_account_check, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/im_open_login_svc/kick", svc_kick, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/openim/query_online_status", svc_query_online_status, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/openim/querystate", svc_query_online_status, IMC_E_NOT_ADMIN_ACCOUNT},
  {"/v4/all_member_push/im_set_attr_name", svc_set_attr_name, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_get_attr_name", svc_get_attr_name, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_get_attr", svc_get_attr, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_set_attr", svc_set_attr, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_remove_attr", svc_remove_attr, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_get_tag", svc_get_tag, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_add_tag", svc_add_tag, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_remove_tag", svc_remove_tag, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_remove_all_tags", svc_remove_all_tags, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_push", svc_im_push, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_get_push_report", svc_get_push_report, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_revoke", svc_revoke, IMC_E_NOT_ADMIN},
  {"/v4/all_member_push/im_get_audience", svc_get_audience, IMC_E_NOT_ADMIN},
};

/* What the request log and the metrics need to know of a call. */
typedef struct call_meta {
  const char *command;      /* "all_member_push/im_push", or "unknown" */
  uint64_t started_ns;      /* uv_hrtime() when the request arrived */
} call_meta;

/* An answer held until the turn's transaction commits. */
typedef struct waiting_call {
  struct waiting_call *next;
  http_request *req;        /* NULL once the peer went away */
  char *body;               /* the serialized success or failure */
  size_t len;
  int code;
  call_meta meta;
} waiting_call;

static const char json_content_type[] = "application/json; charset=utf-8";

/* ------------------------------------------------------------------ answers */

int api_fail(api_call *c, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->info, sizeof c->info, fmt, ap);
  va_end(ap);
  c->code = code;
  return code;
}

void api_out_of_memory(void)
{
  log_error("out of memory: stopping rather than serving a partial state");
  abort();
}

/* Serializes the envelope, then the handler's extra fields (on success only). */
static char *envelope(int code, const char *info, json_t *extra, size_t *len)
{
  json_t *env = json_object();
  if (!env) api_out_of_memory();
  json_object_set_new(env, "ActionStatus", json_string(code == 0 ? "OK" : "FAIL"));
  char *why = strdup(code == 0 ? "" : info);
  if (!why) api_out_of_memory();
  text_scrub_utf8(why);   /* info may quote URL bytes, or be cut inside a character */
  json_object_set_new(env, "ErrorInfo", json_string(why));
  free(why);
  json_object_set_new(env, "ErrorCode", json_integer(code));
  if (code == 0 && extra) json_object_update(env, extra);
  char *s = json_dumps(env, JSON_COMPACT);
  json_decref(env);
  if (!s) api_out_of_memory();
  *len = strlen(s);
  return s;
}

/* The request log (failures at info, successes at debug) and the metrics of one call. */
static void record_call(api *a, const call_meta *m, int code, const char *info)
{
  double seconds = (double)(uv_hrtime() - m->started_ns) / 1e9;
  api_metrics_count_request(a, m->command, code, seconds);
  if (code == IMC_E_TOO_MANY_REQUESTS)   /* a flood must not flood the log: the metrics count it */
    log_debug("request command=%s code=%d ms=%.3f info=%s", m->command, code, seconds * 1e3, info);
  else if (code)
    log_info("request command=%s code=%d ms=%.3f info=%s", m->command, code, seconds * 1e3, info);
  else
    log_debug("request command=%s code=0 ms=%.3f", m->command, seconds * 1e3);
}

static void respond_now(api *a, http_request *req, const call_meta *m, int code,
                        const char *info, json_t *extra)
{
  size_t len;
  char *body = envelope(code, info, extra, &len);
  http_respond(req, 200, json_content_type, body, len);
  free(body);
  record_call(a, m, code, info);
}

/* Holds the answer until api_end_of_turn() has committed. */
static void respond_after_commit(api *a, http_request *req, const call_meta *m, int code,
                                 const char *info, json_t *extra)
{
  waiting_call *w = calloc(1, sizeof *w);
  if (!w) api_out_of_memory();
  w->req = req;
  w->body = envelope(code, info, extra, &w->len);
  w->code = code;
  w->meta = *m;
  http_request_set_data(req, w);
  *a->waiting_tail = w;
  a->waiting_tail = &w->next;
}

static void answer(api *a, http_request *req, const call_meta *m, int code, const char *info,
                   json_t *extra)
{
  if (store_in_txn(a->st)) respond_after_commit(a, req, m, code, info, extra);
  else respond_now(a, req, m, code, info, extra);
}

static void fail_request(api *a, http_request *req, const call_meta *m, int code,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail_request(api *a, http_request *req, const call_meta *m, int code,
                         const char *fmt, ...)
{
  char info[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(info, sizeof info, fmt, ap);
  va_end(ap);
  answer(a, req, m, code, info, NULL);
}

/* ------------------------------------------------------------------ checks */

static const route *find_route(const char *path)
{
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (strcmp(routes[i].path, path) == 0) return &routes[i];
  return NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || s[0] == '-') return false;
  *out = v;
  return true;
}

bool api_is_admin(const api *a, const char *identifier)
{
  for (size_t i = 0; i < a->opts.n_admins; i++)
    if (strcmp(a->opts.admins[i], identifier) == 0) return true;
  return false;
}

/* The Tencent code for the URL's app and sig; info receives the reason. */
static int check_caller(api *a, http_request *req, const route *r, char *info, size_t len)
{
  const char *appid_text = http_request_query(req, "sdkappid");
  const char *identifier = http_request_query(req, "identifier");
  const char *sig = http_request_query(req, "usersig");
  if (!identifier) identifier = "";
  if (!sig || !*sig) {
    snprintf(info, len, "usersig is missing from the URL");
    return IMC_E_SIG_EMPTY;
  }
  uint64_t appid = 0;
  bool appid_ok = parse_u64(appid_text, &appid);
  int64_t now = (int64_t)time(NULL);
  if (!appid_ok || appid != a->opts.sdkappid) {
    /* A sig made for the URL's (wrong) app means the app is unknown; a sig made for
    ** another app than the URL's is the sig's fault. */
    usersig_info si;
    int rc = usersig_verify(a->opts.key, sig, strlen(sig), appid, identifier, now, &si);
    if (rc == IMC_E_SIG_SDKAPPID) {
      snprintf(info, len, "the UserSig was made for sdkappid %llu, not %s",
               (unsigned long long)si.sdkappid, appid_text);
      return IMC_E_SIG_SDKAPPID;
    }
    snprintf(info, len, "sdkappid %s is not served here", appid_text);
    return IMC_E_UNKNOWN_SDKAPPID;
  }
  int rc = auth_check(a->sigs, a->opts.key, appid, identifier, sig, now);
  if (rc != 0) {
    snprintf(info, len, "usersig rejected for identifier '%s': %s", identifier,
             imc_error_info(rc));
    return rc;
  }
  if (!api_is_admin(a, identifier)) {
    snprintf(info, len, "identifier '%s' is not an admin of this app", identifier);
    return r->not_admin_code;
  }
  return 0;
}

/* The body as a JSON object: empty, `[]` and `null` are {}. NULL after failing. */
static json_t *parse_body(http_request *req, char *info, size_t len)
{
  size_t n;
  const char *text = http_request_body(req, &n);
  size_t i = 0;
  while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
  if (i == n) return json_object();

  json_error_t err;
  json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
  if (!v) {
    snprintf(info, len, "request body is not valid JSON: %s at line %d column %d",
             err.text, err.line, err.column);
    return NULL;
  }
  if (json_is_object(v)) return v;
  if ((json_is_array(v) && json_array_size(v) == 0) || json_is_null(v)) {
    json_decref(v);
    return json_object();
  }
  snprintf(info, len, "request body must be a JSON object, not %s", api_json_type(v));
  json_decref(v);
  return NULL;
}

/* ------------------------------------------------------------------ request cap */

/* Answers a request over --max-requests-per-ip: a REST call (whatever its path) with
** HTTP 200 and 60006, like every business result; a page or a WebSocket upgrade with 429
** and Retry-After, which is what browsers, scrapers and receiver SDKs understand. The
** answer reports nothing of the state, so it need not wait for the turn's commit; the
** connection stays open for a REST call (the HTTP layer keeps answers in order). */
static void refuse_over_rate(api *a, http_request *req, uint64_t retry_ns)
{
  char info[200];
  const char *peer = http_request_peer(req);
  snprintf(info, sizeof info, "too many requests from %s: over %u per second (max-requests-per-ip)",
           peer, (unsigned)a->opts.max_requests_per_ip);
  a->metrics.requests_refused++;
  bool upgrade = strcmp(http_request_path(req), "/v4/ws") == 0;
  if (!upgrade && !web_is_page(req)) {
    const route *r = find_route(http_request_path(req));
    call_meta m = {r ? r->path + 4 : "unknown", uv_hrtime()};
    respond_now(a, req, &m, IMC_E_TOO_MANY_REQUESTS, info, NULL);
    return;
  }
  log_debug("request refused: %s", info);
  if (upgrade) a->metrics.logins_refused++;
  char headers[48];
  snprintf(headers, sizeof headers, "Retry-After: %llu\r\n",
           (unsigned long long)((retry_ns + 999999999ULL) / 1000000000ULL));
  size_t len;
  char *body = envelope(IMC_E_TOO_MANY_REQUESTS, info, NULL, &len);
  http_respond_with(req, 429, headers, json_content_type, body, len);
  free(body);
}

/* True after refusing req for its address's request rate. */
static bool over_rate(api *a, http_request *req)
{
  uint64_t retry_ns = 0;
  if (!a->rate || ratelimit_take(a->rate, http_request_peer(req), uv_hrtime(), &retry_ns))
    return false;
  refuse_over_rate(a, req, retry_ns);
  return true;
}

/* ------------------------------------------------------------------ entry points */

void api_on_request(http_request *req, void *ctx)
{
  api *a = ctx;
  char info[512];
  if (over_rate(a, req)) return;
  if (strcmp(http_request_path(req), "/v4/ws") == 0) {
    receivers_on_upgrade(a, req);
    return;
  }
  if (web_serve(a, req)) return;
  const route *r = find_route(http_request_path(req));
  call_meta m = {r ? r->path + 4 : "unknown", uv_hrtime()};   /* path without "/v4/" */
  const char *appid = http_request_query(req, "sdkappid");
  if (!appid || !*appid) {
    fail_request(a, req, &m, IMC_E_NO_SDKAPPID, "sdkappid is missing from the URL");
    return;
  }
  if (!r) {
    fail_request(a, req, &m, IMC_E_UNKNOWN_PATH, "no such service or command: %.200s",
                 http_request_path(req));
    return;
  }
  if (strcmp(http_request_method(req), "POST") != 0) {
    fail_request(a, req, &m, IMC_E_BAD_HTTP, "%s calls must use POST", r->path);
    return;
  }
  int code = check_caller(a, req, r, info, sizeof info);
  if (code) {
    answer(a, req, &m, code, info, NULL);
    return;
  }
  json_t *body = parse_body(req, info, sizeof info);
  if (!body) {
    answer(a, req, &m, IMC_E_JSON, info, NULL);
    return;
  }
  api_call c = {.api = a, .identifier = http_request_query(req, "identifier"), .body = body,
               .reply = json_object()};
  c.body_text = http_request_body(req, &c.body_len);
  c.started_ns = m.started_ns;
  if (!c.reply) api_out_of_memory();
  r->handler(&c);
  answer(a, req, &m, c.code, c.info, c.reply);
  json_decref(c.reply);
  json_decref(body);
}

void api_on_abandon(http_request *req, void *ctx)
{
  (void)ctx;
  waiting_call *w = http_request_get_data(req);
  if (w) w->req = NULL;
}

/* After a failed commit memory is ahead of the disk: rebuild it from the disk. */
static void reload_state(api *a)
{
  api_state fresh;
  int rc = api_load_state(a->st, &fresh);
  if (rc != 0) {
    log_error("cannot reload state after a failed commit (%d): stopping", rc);
    abort();
  }
  api_state old = {.dir = a->dir, .pushes = a->pushes};
  api_state_free(&old);
  a->dir = fresh.dir;
  a->pushes = fresh.pushes;
  a->next_uid = fresh.next_uid;
}

static void release_waiting(api *a, bool committed)
{
  waiting_call *w = a->waiting;
  a->waiting = NULL;
  a->waiting_tail = &a->waiting;
  while (w) {
    waiting_call *next = w->next;
    if (w->req) {
      http_request_set_data(w->req, NULL);
      if (committed) {
        http_respond(w->req, 200, json_content_type, w->body, w->len);
        record_call(a, &w->meta, w->code, "");
      } else {
        respond_now(a, w->req, &w->meta, IMC_E_INTERNAL,
                    "the change could not be saved; nothing was changed", NULL);
      }
    }
    free(w->body);
    free(w);
    w = next;
  }
}

void api_after_flush(api *a)
{
  /* Catch-ups resume as soon as their connection has room: what this queues keeps the
  ** loop turning (the connection is dirty), and the next turn's flush writes it. */
  if (a->catching_up) receivers_continue_catch_up(a);
}

void api_end_of_turn(api *a)
{
  if (!a->waiting && !a->n_fanout && !store_in_txn(a->st)) return;
  uint64_t t0 = uv_hrtime();
  int rc = store_commit(a->st);
  histogram_observe(&a->metrics.commit_seconds, (double)(uv_hrtime() - t0) / 1e9);
  if (rc != 0) a->metrics.commit_failures++;
  if (rc != 0) log_error("commit failed: %s; answering 91000 and reloading state", store_errmsg(a->st));
  if (rc == 0) {
    /* Answers first: the im_push caller hears OK before thousands of receiver writes. */
    release_waiting(a, true);
    receivers_run_fanout(a, true);
  } else {
    receivers_run_fanout(a, false);
    reload_state(a);
    release_waiting(a, false);
  }
}

/* ------------------------------------------------------------------ life cycle */

api *api_new(const api_options *opts, uv_loop_t *loop, http_server *http, api_state *state,
             store *st)
{
  api *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->opts = *opts;
  a->loop = loop;
  a->http = http;
  a->st = st;
  a->waiting_tail = &a->waiting;
  api_metrics_init(a);
  a->sigs = auth_cache_new();
  if (opts->max_requests_per_ip)
    a->rate = ratelimit_new(opts->max_requests_per_ip, API_RATE_MAX_ADDRESSES);
  if (!a->sigs || (opts->max_requests_per_ip && !a->rate) || receivers_start(a, http) != 0) {
    auth_cache_free(a->sigs);
    ratelimit_free(a->rate);
    free(a);
    return NULL;
  }
  a->dir = state->dir;
  a->pushes = state->pushes;
  a->next_uid = state->next_uid;
  state->dir = NULL;
  state->pushes = NULL;
  return a;
}

void api_free(api *a)
{
  if (!a) return;
  receivers_save_acks(a);
  api_end_of_turn(a);
  receivers_stop(a);
  auth_cache_free(a->sigs);
  ratelimit_free(a->rate);
  api_state st = {.dir = a->dir, .pushes = a->pushes};
  api_state_free(&st);
  free(a);
}
