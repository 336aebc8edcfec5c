/*
** client.c — the admin client: configuration, its UserSig, and one function per REST call.
**
** Every typed call is the same three steps: request.c builds the body from the typed
** request, call() sends it (URL with sdkappid, identifier, usersig, random), answer.c
** checks the envelope and fills the typed result. Guarantees (see imcast.h): results are
** zeroed before anything else happens and stay zeroed on failure; a Tencent error never
** comes out as a transport error or the reverse; the admin UserSig is minted here, renewed
** when less than a quarter of its lifetime is left, and re-minted once after a 70001
** answer (the call is then sent again: the server refused it before doing anything).
*/
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/usersig.h"
#include "sdk_internal.h"

#define DEFAULT_ADMIN "administrator"
#define DEFAULT_URL "http://127.0.0.1:8080"
#define DEFAULT_SDKAPPID 1400000000u
#define DEFAULT_SIG_EXPIRE 86400
#define SIG_EXPIRED 70001

struct imcast_client {
  sdk_http *http;
  char *base_url;          /* scheme://host[:port][/prefix], no trailing '/' */
  uint64_t sdkappid;
  char *admin;
  char *admin_escaped;     /* for the query string */
  char *key;
  char *ca_file;
  int insecure;
  int64_t sig_expire;
  int64_t sig_time;        /* when sig was minted */
  char sig[IMCAST_USERSIG_MAX];
  char *last_answer;       /* the body of the last answer, "" before the first */
  size_t last_len;
};

const char *imcast_version(void)
{
  return IMCAST_VERSION;
}

void imcast_free(void *p)
{
  free(p);
}

uint32_t sdk_random_u32(void)
{
  uint32_t v;
  if (RAND_bytes((unsigned char *)&v, sizeof v) == 1)
    return v;
  static uint32_t fallback = 2463534242u; /* only when the CSPRNG fails */
  fallback ^= (uint32_t)time(NULL);
  fallback ^= fallback << 13;
  fallback ^= fallback >> 17;
  fallback ^= fallback << 5;
  return fallback;
}

/* ------------------------------------------------------------------- set-up --- */

static int has_prefix_nocase(const char *s, const char *prefix)
{
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* http(s)://host... with no query, fragment, space or control character. */
static int valid_base_url(const char *url)
{
  const char *rest;
  if (has_prefix_nocase(url, "http://"))
    rest = url + 7;
  else if (has_prefix_nocase(url, "https://"))
    rest = url + 8;
  else
    return 0;
  if (*rest == '\0' || *rest == '/')
    return 0;
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == 0x7f)
      return 0;
  return 1;
}

static char *without_trailing_slashes(const char *url)
{
  char *copy = strdup(url);
  if (copy == NULL)
    return NULL;
  size_t n = strlen(copy);
  while (n > 0 && copy[n - 1] == '/')
    copy[--n] = '\0';
  return copy;
}

static int mint_sig(imcast_client *c)
{
  int64_t now = (int64_t)time(NULL);
  if (usersig_gen(c->key, c->sdkappid, c->admin, now, c->sig_expire, c->sig,
                  sizeof c->sig) < 0)
    return -1;
  c->sig_time = now;
  return 0;
}

static int sig_needs_renewal(const imcast_client *c)
{
  int64_t now = (int64_t)time(NULL);
  int64_t renew_at = c->sig_time + c->sig_expire - c->sig_expire / 4;
  return now >= renew_at || now < c->sig_time;
}

static imcast_status check_options(const imcast_client_options *o, imcast_error *err)
{
  if (o == NULL)
    return sdk_error_set(err, IMCAST_E_INVALID, "no client options");
  if (o->url == NULL || !valid_base_url(o->url))
    return sdk_error_set(err, IMCAST_E_INVALID,
                         "the URL must be http://host[:port][/prefix] or https://..., "
                         "not \"%s\"", o->url ? o->url : "(null)");
  if (o->key == NULL || o->key[0] == '\0')
    return sdk_error_set(err, IMCAST_E_INVALID, "the secret key is missing");
  if (o->usersig_expire < 0)
    return sdk_error_set(err, IMCAST_E_INVALID, "usersig_expire is negative");
  return IMCAST_OK;
}

static imcast_status copy_options(imcast_client *c, const imcast_client_options *o,
                                  imcast_error *err)
{
  c->base_url = without_trailing_slashes(o->url);
  c->admin = strdup(o->admin ? o->admin : DEFAULT_ADMIN);
  c->key = strdup(o->key);
  c->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
  c->last_answer = calloc(1, 1);
  if (!c->base_url || !c->admin || !c->key || (o->ca_file && !c->ca_file) || !c->last_answer)
    return sdk_error_set(err, IMCAST_E_NOMEM, "out of memory creating the client");
  c->sdkappid = o->sdkappid;
  c->insecure = o->insecure;
  c->sig_expire = o->usersig_expire > 0 ? o->usersig_expire : DEFAULT_SIG_EXPIRE;
  return IMCAST_OK;
}

imcast_client *imcast_client_new_with_options(const imcast_client_options *opts,
                                              imcast_error *err)
{
  imcast_error local;
  if (err == NULL)
    err = &local;
  if (check_options(opts, err) != IMCAST_OK)
    return NULL;
  imcast_client *c = calloc(1, sizeof *c);
  if (c == NULL) {
    sdk_error_set(err, IMCAST_E_NOMEM, "out of memory creating the client");
    return NULL;
  }
  if (copy_options(c, opts, err) != IMCAST_OK)
    goto fail;
  if (mint_sig(c) != 0) {
    sdk_error_set(err, IMCAST_E_INVALID, "cannot make a UserSig for admin \"%s\" "
                  "(1..63 bytes of UTF-8) with sdkappid %" PRIu64, c->admin, c->sdkappid);
    goto fail;
  }
  sdk_http_options ho = {opts->ca_file, opts->insecure, opts->timeout_ms,
                         opts->connect_timeout_ms};
  c->http = sdk_http_new(&ho, err);
  if (c->http == NULL)
    goto fail;
  c->admin_escaped = sdk_http_escape(c->http, c->admin);
  if (c->admin_escaped == NULL) {
    sdk_error_set(err, IMCAST_E_NOMEM, "out of memory creating the client");
    goto fail;
  }
  sdk_error_clear(err);
  return c;
fail:
  imcast_client_free(c);
  return NULL;
}

imcast_client *imcast_client_new(const char *url, uint64_t sdkappid, const char *admin,
                                 const char *key, imcast_error *err)
{
  imcast_client_options o = {.url = url, .sdkappid = sdkappid, .admin = admin, .key = key};
  return imcast_client_new_with_options(&o, err);
}

static const char *env_or(const char *name, const char *fallback)
{
  const char *v = getenv(name);
  return (v != NULL && v[0] != '\0') ? v : fallback;
}

/* A decimal sdkappid; 0 when malformed. */
static uint64_t parse_sdkappid(const char *text)
{
  if (text[0] < '0' || text[0] > '9')
    return 0;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  return (errno != 0 || *end != '\0') ? 0 : (uint64_t)v;
}

imcast_client *imcast_client_new_from_env(imcast_error *err)
{
  imcast_error local;
  if (err == NULL)
    err = &local;
  imcast_client_options o = {0};
  o.url = env_or("IMCAST_URL", DEFAULT_URL);
  o.admin = env_or("IMCAST_ADMIN", DEFAULT_ADMIN);
  o.key = env_or("IMCAST_KEY", NULL);
  o.ca_file = env_or("IMCAST_CA_FILE", NULL);
  const char *appid = env_or("IMCAST_SDKAPPID", NULL);
  o.sdkappid = appid ? parse_sdkappid(appid) : DEFAULT_SDKAPPID;
  if (o.sdkappid == 0) {
    sdk_error_set(err, IMCAST_E_INVALID, "IMCAST_SDKAPPID is not a number: \"%s\"", appid);
    return NULL;
  }
  if (o.key == NULL) {
    sdk_error_set(err, IMCAST_E_INVALID, "IMCAST_KEY is not set (the app's secret key)");
    return NULL;
  }
  return imcast_client_new_with_options(&o, err);
}

void imcast_client_free(imcast_client *c)
{
  if (c == NULL)
    return;
  sdk_http_free(c->http);
  free(c->base_url);
  free(c->admin);
  free(c->admin_escaped);
  if (c->key != NULL) {
    memset(c->key, 0, strlen(c->key));
    free(c->key);
  }
  free(c->ca_file);
  free(c->last_answer);
  free(c);
}

const char *imcast_client_last_answer(const imcast_client *c, size_t *len)
{
  if (len != NULL)
    *len = c ? c->last_len : 0;
  return (c && c->last_answer) ? c->last_answer : "";
}

const char *sdk_client_key(const imcast_client *c) { return c->key; }
uint64_t sdk_client_sdkappid(const imcast_client *c) { return c->sdkappid; }
const char *sdk_client_url(const imcast_client *c) { return c->base_url; }
const char *sdk_client_ca_file(const imcast_client *c) { return c->ca_file; }
int sdk_client_insecure(const imcast_client *c) { return c->insecure; }

/* ------------------------------------------------------------------- calling --- */

static char *call_url(const imcast_client *c, const char *service, const char *command)
{
  const char *fmt = "%s/v4/%s/%s?sdkappid=%" PRIu64
                    "&identifier=%s&usersig=%s&random=%" PRIu32 "&contenttype=json";
  uint32_t random = sdk_random_u32();
  /* cppcheck-suppress wrongPrintfScanfArgNum ; cppcheck does not expand PRIu64/PRIu32 (7 is right) */
  int n = snprintf(NULL, 0, fmt, c->base_url, service, command, c->sdkappid,
                   c->admin_escaped, c->sig, random);
  char *url = n < 0 ? NULL : malloc((size_t)n + 1);
  if (url != NULL)
    /* cppcheck-suppress wrongPrintfScanfArgNum ; as above */
    snprintf(url, (size_t)n + 1, fmt, c->base_url, service, command, c->sdkappid,
             c->admin_escaped, c->sig, random);
  return url;
}

static void keep_answer(imcast_client *c, char *answer, size_t len)
{
  free(c->last_answer);
  c->last_answer = answer;
  c->last_len = len;
}

/* One POST of text; the envelope decides. */
static imcast_status post_once(imcast_client *c, const char *service, const char *command,
                               const char *text, json_t **root, imcast_error *err)
{
  char *url = call_url(c, service, command);
  if (url == NULL)
    return sdk_error_set(err, IMCAST_E_NOMEM, "out of memory building the URL");
  char *answer;
  size_t len;
  int http_status;
  imcast_status st = sdk_http_post(c->http, url, text, strlen(text), &answer, &len,
                                   &http_status, err);
  free(url);
  if (st != IMCAST_OK)
    return st;
  keep_answer(c, answer, len);
  return sdk_parse_envelope(answer, len, http_status, root, err);
}

/* Sends text with a fresh enough UserSig; once more with a new one after 70001. */
static imcast_status post_text(imcast_client *c, const char *service, const char *command,
                               const char *text, json_t **root, imcast_error *err)
{
  *root = NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    if ((attempt > 0 || sig_needs_renewal(c)) && mint_sig(c) != 0)
      return sdk_error_set(err, IMCAST_E_INVALID, "cannot make a UserSig");
    imcast_status st = post_once(c, service, command, text, root, err);
    if (!(st == IMCAST_E_TENCENT && err->error_code == SIG_EXPIRED))
      return st;
  }
  return IMCAST_E_TENCENT;
}

/* Sends body (stolen; NULL means its builder failed and err says why). */
static imcast_status call(imcast_client *c, const char *service, const char *command,
                          json_t *body, json_t **root, imcast_error *err)
{
  *root = NULL;
  if (body == NULL)
    return err->status != IMCAST_OK ? err->status
                                     : sdk_error_set(err, IMCAST_E_NOMEM, "out of memory");
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (text == NULL)
    return sdk_error_set(err, IMCAST_E_NOMEM, "out of memory serialising a request");
  imcast_status st = post_text(c, service, command, text, root, err);
  free(text);
  return st;
}

static int valid_path_part(const char *s)
{
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s; s++)
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
      return 0;
  return 1;
}

imcast_status imcast_call(imcast_client *c, const char *service, const char *command,
                          const char *body_json, char **answer, imcast_error *err)
{
  imcast_error local;
  if (err == NULL)
    err = &local;
  if (answer != NULL)
    *answer = NULL;
  if (c == NULL)
    return sdk_error_set(err, IMCAST_E_INVALID, "the client is NULL");
  if (!valid_path_part(service) || !valid_path_part(command))
    return sdk_error_set(err, IMCAST_E_INVALID,
                         "service and command are made of a-z, 0-9 and _");
  json_t *root;
  imcast_status st = post_text(c, service, command, body_json ? body_json : "{}", &root, err);
  json_decref(root);
  if ((st == IMCAST_OK || st == IMCAST_E_TENCENT) && answer != NULL) {
    *answer = strdup(c->last_answer);
    if (*answer == NULL)
      return sdk_error_set(err, IMCAST_E_NOMEM, "out of memory copying the answer");
  }
  return st;
}

/* --------------------------------------------------------------- typed calls --- */

#define MEMBER "all_member_push"
#define LOGIN "im_open_login_svc"

/* The common start of a call: a usable err and a client. err is cleared first: the caller's
** may be uninitialised, and call() reads err->status when a request builder returned NULL
** (json_object() can do so without setting err). */
#define BEGIN(c, err)                                                       \
  imcast_error local_err_;                                                  \
  if ((err) == NULL)                                                        \
    (err) = &local_err_;                                                    \
  sdk_error_clear(err);                                                     \
  if ((c) == NULL)                                                          \
    return sdk_error_set((err), IMCAST_E_INVALID, "the client is NULL")

/* ... and of a call with a result: zeroed before anything else. */
#define BEGIN_WITH_RESULT(c, res, err)                                      \
  if ((res) != NULL)                                                        \
    memset((res), 0, sizeof *(res));                                        \
  BEGIN(c, err)

#define REQUIRE_RESULT(res, err)                                            \
  if ((res) == NULL)                                                        \
    return sdk_error_set((err), IMCAST_E_INVALID, "the result pointer is NULL")

/* For calls whose only payload is the envelope. */
static imcast_status call_plain(imcast_client *c, const char *service, const char *command,
                                json_t *body, imcast_error *err)
{
  json_t *root;
  imcast_status st = call(c, service, command, body, &root, err);
  json_decref(root);
  return st;
}

/* For calls that answer an ErrorList; res may be NULL. */
static imcast_status call_batch(imcast_client *c, const char *command, json_t *body,
                                imcast_batch_result *res, imcast_error *err)
{
  json_t *root;
  imcast_status st = call(c, MEMBER, command, body, &root, err);
  if (st != IMCAST_OK)
    return st;
  imcast_batch_result ignored;
  st = sdk_parse_batch(root, res ? res : &ignored, err);
  if (res == NULL)
    imcast_batch_result_free(&ignored);
  json_decref(root);
  return st;
}

imcast_status imcast_member_im_push(imcast_client *c, const imcast_push_request *req,
                                    imcast_push_result *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  uint32_t msg_random = (req && req->msg_random) ? req->msg_random : sdk_random_u32();
  json_t *root;
  imcast_status st = call(c, MEMBER, "im_push", sdk_req_push(req, msg_random, err), &root, err);
  if (st == IMCAST_OK)
    st = sdk_parse_push(root, res, err);
  if (st == IMCAST_OK)
    res->msg_random = msg_random;
  json_decref(root);
  return st;
}

imcast_status imcast_member_im_set_attr_name(imcast_client *c,
                                             const char *const names[IMCAST_ATTR_SLOTS],
                                             imcast_error *err)
{
  BEGIN(c, err);
  return call_plain(c, MEMBER, "im_set_attr_name", sdk_req_set_attr_name(names, err), err);
}

imcast_status imcast_member_im_get_attr_name(imcast_client *c, imcast_attr_names_result *res,
                                             imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  json_t *root;
  imcast_status st = call(c, MEMBER, "im_get_attr_name", json_object(), &root, err);
  if (st == IMCAST_OK)
    st = sdk_parse_attr_names(root, res, err);
  json_decref(root);
  return st;
}

imcast_status imcast_member_im_get_attr(imcast_client *c, const char *const *to_account,
                                        size_t count, imcast_user_attrs_result *res,
                                        imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  json_t *root;
  imcast_status st = call(c, MEMBER, "im_get_attr",
                          sdk_req_to_accounts(to_account, count, err), &root, err);
  if (st == IMCAST_OK)
    st = sdk_parse_user_attrs(root, res, err);
  json_decref(root);
  return st;
}

imcast_status imcast_member_im_set_attr(imcast_client *c, const imcast_user_attrs *user_attrs,
                                        size_t count, imcast_batch_result *res,
                                        imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  return call_batch(c, "im_set_attr", sdk_req_set_attr(user_attrs, count, err), res, err);
}

imcast_status imcast_member_im_remove_attr(imcast_client *c,
                                           const imcast_user_attr_names *user_attrs,
                                           size_t count, imcast_batch_result *res,
                                           imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  return call_batch(c, "im_remove_attr", sdk_req_remove_attr(user_attrs, count, err), res,
                    err);
}

imcast_status imcast_member_im_get_tag(imcast_client *c, const char *const *to_account,
                                       size_t count, imcast_user_tags_result *res,
                                       imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  json_t *root;
  imcast_status st = call(c, MEMBER, "im_get_tag",
                          sdk_req_to_accounts(to_account, count, err), &root, err);
  if (st == IMCAST_OK)
    st = sdk_parse_user_tags(root, res, err);
  json_decref(root);
  return st;
}

imcast_status imcast_member_im_add_tag(imcast_client *c, const imcast_user_tags *user_tags,
                                       size_t count, imcast_batch_result *res,
                                       imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  return call_batch(c, "im_add_tag", sdk_req_user_tags(user_tags, count, err), res, err);
}

imcast_status imcast_member_im_remove_tag(imcast_client *c, const imcast_user_tags *user_tags,
                                          size_t count, imcast_batch_result *res,
                                          imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  return call_batch(c, "im_remove_tag", sdk_req_user_tags(user_tags, count, err), res, err);
}

imcast_status imcast_member_im_remove_all_tags(imcast_client *c,
                                               const char *const *to_account, size_t count,
                                               imcast_batch_result *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  return call_batch(c, "im_remove_all_tags", sdk_req_to_accounts(to_account, count, err),
                    res, err);
}

imcast_status imcast_member_im_get_push_report(imcast_client *c, const char *task_id,
                                               imcast_push_report *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  json_t *root;
  imcast_status st = call(c, MEMBER, "im_get_push_report", sdk_req_task(task_id, err),
                          &root, err);
  if (st == IMCAST_OK)
    st = sdk_parse_push_report(root, res, err);
  json_decref(root);
  return st;
}

imcast_status imcast_member_im_revoke(imcast_client *c, const char *task_id,
                                      imcast_error *err)
{
  BEGIN(c, err);
  return call_plain(c, MEMBER, "im_revoke", sdk_req_task(task_id, err), err);
}

imcast_status imcast_member_im_get_audience(imcast_client *c, const imcast_condition *condition,
                                            imcast_audience_result *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  json_t *root;
  imcast_status st = call(c, MEMBER, "im_get_audience", sdk_req_audience(condition, err),
                          &root, err);
  if (st == IMCAST_OK)
    st = sdk_parse_audience(root, res, err);
  json_decref(root);
  return st;
}

imcast_status imcast_account_import(imcast_client *c, const imcast_account *account,
                                    imcast_error *err)
{
  BEGIN(c, err);
  return call_plain(c, LOGIN, "account_import", sdk_req_account_import(account, err), err);
}

imcast_status imcast_account_multi_import(imcast_client *c, const char *const *accounts,
                                          size_t count, imcast_multi_import_result *res,
                                          imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  json_t *root;
  imcast_status st = call(c, LOGIN, "multiaccount_import",
                          sdk_req_multi_import(accounts, count, err), &root, err);
  if (st == IMCAST_OK && res != NULL)
    st = sdk_parse_multi_import(root, res, err);
  json_decref(root);
  return st;
}

static imcast_status account_items_call(imcast_client *c, const char *command,
                                        const char *list_key, const char *const *ids,
                                        size_t count, imcast_account_items *res,
                                        imcast_error *err)
{
  json_t *root;
  imcast_status st = call(c, LOGIN, command, sdk_req_user_items(list_key, ids, count, err),
                          &root, err);
  if (st == IMCAST_OK && res != NULL)
    st = sdk_parse_account_items(root, res, err);
  json_decref(root);
  return st;
}

imcast_status imcast_account_delete(imcast_client *c, const char *const *user_ids,
                                    size_t count, imcast_account_items *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  return account_items_call(c, "account_delete", "DeleteItem", user_ids, count, res, err);
}

imcast_status imcast_account_check(imcast_client *c, const char *const *user_ids,
                                   size_t count, imcast_account_items *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  return account_items_call(c, "account_check", "CheckItem", user_ids, count, res, err);
}

imcast_status imcast_account_kick(imcast_client *c, const char *user_id, imcast_error *err)
{
  BEGIN(c, err);
  return call_plain(c, LOGIN, "kick", sdk_req_kick(user_id, err), err);
}

imcast_status imcast_account_query_state(imcast_client *c, const char *const *to_account,
                                         size_t count, int need_detail,
                                         imcast_query_state_result *res, imcast_error *err)
{
  BEGIN_WITH_RESULT(c, res, err);
  REQUIRE_RESULT(res, err);
  json_t *root;
  imcast_status st = call(c, "openim", "query_online_status",
                          sdk_req_query_state(to_account, count, need_detail, err), &root,
                          err);
  if (st == IMCAST_OK)
    st = sdk_parse_query_state(root, res, err);
  json_decref(root);
  return st;
}
