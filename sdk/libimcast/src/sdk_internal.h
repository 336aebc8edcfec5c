/*
** sdk_internal.h — the pieces libimcast is built from, shared by its files and its tests.
**
**   mem.c        the memory of one result (an arena freed at once)
**   errors.c     filling imcast_error
**   request.c    typed request structs -> JSON bodies (pure: no I/O)
**   answer.c     answer text -> envelope check -> typed result structs (pure: no I/O)
**   http.c       one libcurl easy handle: POST, keep-alive, TLS options, bounded answer
**   client.c     the client: URL, UserSig renewal, the typed calls gluing the above
**   sig.c        the public wrappers of src/common/usersig.c (the server's own code)
**   listener.c   the receiver API on sdk/receiver
**
** Keeping request building and answer parsing pure lets tests/unit/test_libimcast.c check
** every body and every answer shape without a server.
*/
#ifndef IMCAST_SDK_INTERNAL_H
#define IMCAST_SDK_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "imcast/imcast.h"

/* ------------------------------------------------------------------- mem.c --- */

/* A new empty arena; NULL when out of memory. */
imcast_mem *sdk_mem_new(void);
/* n zeroed bytes, aligned for any type, owned by m; NULL when out of memory. */
void *sdk_mem_alloc(imcast_mem *m, size_t n);
/* A copy of s owned by m; NULL when s is NULL or memory ran out. */
char *sdk_mem_strdup(imcast_mem *m, const char *s);
/* Releases the arena and everything in it. NULL is ok. */
void sdk_mem_free(imcast_mem *m);

/* --------------------------------------------------------------- errors.c --- */

/* err := OK (everything zero). */
void sdk_error_clear(imcast_error *err);
/* err := status with a printf-made description. Returns status. */
imcast_status sdk_error_set(imcast_error *err, imcast_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* err := IMCAST_E_TENCENT with the server's code and info. Returns IMCAST_E_TENCENT. */
imcast_status sdk_error_tencent(imcast_error *err, int code, const char *info);

/* -------------------------------------------------------------- request.c --- */
/* Each returns a new JSON object, or NULL with *err set (IMCAST_E_INVALID naming the bad
** argument, or IMCAST_E_NOMEM). */

json_t *sdk_req_push(const imcast_push_request *req, uint32_t msg_random, imcast_error *err);
json_t *sdk_req_set_attr_name(const char *const names[IMCAST_ATTR_SLOTS], imcast_error *err);
/* {"To_Account":[...]}: im_get_attr, im_get_tag, im_remove_all_tags. */
json_t *sdk_req_to_accounts(const char *const *ids, size_t count, imcast_error *err);
json_t *sdk_req_set_attr(const imcast_user_attrs *items, size_t count, imcast_error *err);
json_t *sdk_req_remove_attr(const imcast_user_attr_names *items, size_t count,
                            imcast_error *err);
/* {"UserTags":[...]}: im_add_tag, im_remove_tag. */
json_t *sdk_req_user_tags(const imcast_user_tags *items, size_t count, imcast_error *err);
/* {"TaskId":..}: im_get_push_report, im_revoke. */
json_t *sdk_req_task(const char *task_id, imcast_error *err);
json_t *sdk_req_audience(const imcast_condition *condition, imcast_error *err);
json_t *sdk_req_account_import(const imcast_account *account, imcast_error *err);
json_t *sdk_req_multi_import(const char *const *ids, size_t count, imcast_error *err);
/* {"<list_key>":[{"UserID":..},...]}: account_delete (DeleteItem), account_check
** (CheckItem). */
json_t *sdk_req_user_items(const char *list_key, const char *const *ids, size_t count,
                           imcast_error *err);
json_t *sdk_req_kick(const char *user_id, imcast_error *err);
json_t *sdk_req_query_state(const char *const *ids, size_t count, int need_detail,
                            imcast_error *err);

/* --------------------------------------------------------------- answer.c --- */

/* Checks that text is the REST envelope. IMCAST_OK with *root (the parsed object, yours
** to json_decref) when ActionStatus is OK; IMCAST_E_TENCENT with the code and info when
** it is FAIL (whatever http_status says); IMCAST_E_PROTOCOL when the text is not an
** envelope (*root NULL). */
imcast_status sdk_parse_envelope(const char *text, size_t len, int http_status, json_t **root,
                                 imcast_error *err);

/* Each fills a zeroed result from an OK answer; IMCAST_OK, IMCAST_E_PROTOCOL when a
** required member is missing or mistyped, or IMCAST_E_NOMEM. On failure the result is
** freed and zeroed. */
imcast_status sdk_parse_push(const json_t *root, imcast_push_result *res, imcast_error *err);
imcast_status sdk_parse_attr_names(const json_t *root, imcast_attr_names_result *res,
                                   imcast_error *err);
imcast_status sdk_parse_user_attrs(const json_t *root, imcast_user_attrs_result *res,
                                   imcast_error *err);
imcast_status sdk_parse_user_tags(const json_t *root, imcast_user_tags_result *res,
                                  imcast_error *err);
imcast_status sdk_parse_batch(const json_t *root, imcast_batch_result *res, imcast_error *err);
imcast_status sdk_parse_push_report(const json_t *root, imcast_push_report *res,
                                    imcast_error *err);
imcast_status sdk_parse_audience(const json_t *root, imcast_audience_result *res,
                                 imcast_error *err);
imcast_status sdk_parse_multi_import(const json_t *root, imcast_multi_import_result *res,
                                     imcast_error *err);
imcast_status sdk_parse_account_items(const json_t *root, imcast_account_items *res,
                                      imcast_error *err);
imcast_status sdk_parse_query_state(const json_t *root, imcast_query_state_result *res,
                                    imcast_error *err);

/* ----------------------------------------------------------------- http.c --- */

typedef struct sdk_http sdk_http;

typedef struct sdk_http_options {
  const char *ca_file;
  int insecure;
  long timeout_ms;
  long connect_timeout_ms;
} sdk_http_options;

/* Answers longer than this are refused (IMCAST_E_PROTOCOL). */
#define SDK_MAX_ANSWER ((size_t)64 * 1024 * 1024)

sdk_http *sdk_http_new(const sdk_http_options *opts, imcast_error *err);
/* POSTs body to url on the kept connection. IMCAST_OK when an HTTP answer came back:
** *answer (NUL-terminated, malloc'd, yours) and *answer_len, *http_status. Else
** IMCAST_E_TRANSPORT (or IMCAST_E_PROTOCOL for an oversized answer) in *err. */
imcast_status sdk_http_post(sdk_http *h, const char *url, const char *body, size_t body_len,
                            char **answer, size_t *answer_len, int *http_status,
                            imcast_error *err);
/* Percent-encodes s for a query value; malloc'd, NULL when out of memory. */
char *sdk_http_escape(sdk_http *h, const char *s);
void sdk_http_free(sdk_http *h);

/* --------------------------------------------------------------- client.c --- */

/* The secret key, sdkappid and server base URL of a client (for the listener). */
const char *sdk_client_key(const imcast_client *c);
uint64_t sdk_client_sdkappid(const imcast_client *c);
const char *sdk_client_url(const imcast_client *c);
const char *sdk_client_ca_file(const imcast_client *c);
int sdk_client_insecure(const imcast_client *c);

/* 4 random bytes from the OS's CSPRNG. */
uint32_t sdk_random_u32(void);

#endif /* IMCAST_SDK_INTERNAL_H */
