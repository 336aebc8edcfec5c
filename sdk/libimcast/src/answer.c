/*
** answer.c — the server's answer: envelope check, then the typed result of each call.
**
** The envelope decides between success and a Tencent error (ActionStatus/ErrorCode/
** ErrorInfo, docs/rest-api.md §1); text that is not an envelope (a proxy's HTML page, a
** truncated body) is IMCAST_E_PROTOCOL, never mistaken for either. Results are then
** read leniently, as the SDKs of Tencent read them: a missing list is an empty list, an
** unknown member is ignored, a list entry of the wrong shape is skipped. Only a member
** without which the result means nothing (im_push's TaskId, the report's TaskId and
** State) makes IMCAST_E_PROTOCOL. Every string of a result lives in the result's arena.
** Nothing here does I/O.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"

/* ------------------------------------------------------------------ envelope --- */

/* The first bytes of a body, printable, for error messages. */
static void excerpt(char *out, size_t cap, const char *text, size_t len)
{
  size_t n = 0;
  for (size_t i = 0; i < len && n + 1 < cap && n < 120; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch < 0x20 || ch >= 0x7f)
      ch = ' ';
    out[n++] = (char)ch;
  }
  out[n] = '\0';
}

static imcast_status not_an_envelope(const char *text, size_t len, int http_status,
                                     imcast_error *err)
{
  char head[128];
  excerpt(head, sizeof head, text, len);
  sdk_error_set(err, IMCAST_E_PROTOCOL, "HTTP %d answer is not the REST envelope: \"%s\"",
                http_status, head);
  err->http_status = http_status;
  return IMCAST_E_PROTOCOL;
}

imcast_status sdk_parse_envelope(const char *text, size_t len, int http_status, json_t **root,
                                 imcast_error *err)
{
  *root = NULL;
  json_t *doc = json_loadb(text, len, 0, NULL);
  const json_t *code = json_object_get(doc, "ErrorCode");
  const json_t *status = json_object_get(doc, "ActionStatus");
  if (!json_is_object(doc) || !json_is_integer(code) || !json_is_string(status)) {
    json_decref(doc);
    return not_an_envelope(text, len, http_status, err);
  }
  json_int_t code_value = json_integer_value(code);
  if (code_value != 0 || strcmp(json_string_value(status), "OK") != 0) {
    const char *info = json_string_value(json_object_get(doc, "ErrorInfo"));
    sdk_error_tencent(err, (int)code_value, info);
    err->http_status = http_status;
    json_decref(doc);
    return IMCAST_E_TENCENT;
  }
  sdk_error_clear(err);
  err->http_status = http_status;
  *root = doc;
  return IMCAST_OK;
}

/* ------------------------------------------------------------ reading helpers --- */

/* A result being filled. `failed` keeps the first failure. */
typedef struct reader {
  imcast_mem *mem;
  imcast_error *err;
  int failed;
} reader;

static void out_of_memory(reader *r)
{
  if (!r->failed)
    sdk_error_set(r->err, IMCAST_E_NOMEM, "out of memory reading an answer");
  r->failed = 1;
}

static void missing(reader *r, const char *what)
{
  if (!r->failed)
    sdk_error_set(r->err, IMCAST_E_PROTOCOL, "the answer lacks %s", what);
  r->failed = 1;
}

/* A copy of s in the arena ("" for NULL). */
static const char *copy(reader *r, const char *s)
{
  const char *c = sdk_mem_strdup(r->mem, s ? s : "");
  if (c == NULL)
    out_of_memory(r);
  return c;
}

/* A member as text: strings as they are, other values as compact JSON (numbers the
** server stored as text come back as they went in). */
static const char *copy_value(reader *r, const json_t *v)
{
  if (json_is_string(v))
    return copy(r, json_string_value(v));
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL) {
    out_of_memory(r);
    return NULL;
  }
  const char *c = copy(r, text);
  free(text);
  return c;
}

static const char *get_str(reader *r, const json_t *obj, const char *key)
{
  return copy(r, json_string_value(json_object_get(obj, key)));
}

static int64_t get_int(const json_t *obj, const char *key)
{
  const json_t *v = json_object_get(obj, key);
  if (json_is_integer(v))
    return json_integer_value(v);
  if (json_is_real(v))
    return (int64_t)json_real_value(v);
  return 0;
}

/* Room for n items of size bytes; NULL (and no failure) for n == 0. */
static void *alloc_items(reader *r, size_t n, size_t size)
{
  if (n == 0)
    return NULL;
  void *p = sdk_mem_alloc(r->mem, n * size);
  if (p == NULL)
    out_of_memory(r);
  return p;
}

/* An array member, or NULL when absent or not an array. */
static const json_t *get_array(const json_t *obj, const char *key)
{
  const json_t *v = json_object_get(obj, key);
  return json_is_array(v) ? v : NULL;
}

static const char *const *string_list(reader *r, const json_t *array, size_t *count)
{
  *count = 0;
  size_t n = json_array_size(array);
  const char **list = alloc_items(r, n, sizeof *list);
  for (size_t i = 0; list != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (json_is_string(v))
      list[(*count)++] = copy(r, json_string_value(v));
  }
  return list;
}

static const imcast_account_error *error_list(reader *r, const json_t *root, size_t *count)
{
  const json_t *array = get_array(root, "ErrorList");
  size_t n = json_array_size(array);
  imcast_account_error *list = alloc_items(r, n, sizeof *list);
  *count = 0;
  for (size_t i = 0; list != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (!json_is_object(v))
      continue;
    imcast_account_error *e = &list[(*count)++];
    e->to_account = get_str(r, v, "To_Account");
    e->error_code = (int)get_int(v, "ErrorCode");
    e->error_info = get_str(r, v, "ErrorInfo");
  }
  return list;
}

/* Starts a result: zeroes it and gives it an arena. */
static int begin(reader *r, void *res, size_t size, imcast_mem **slot, imcast_error *err)
{
  memset(res, 0, size);
  r->err = err;
  r->failed = 0;
  r->mem = sdk_mem_new();
  if (r->mem == NULL) {
    sdk_error_set(err, IMCAST_E_NOMEM, "out of memory reading an answer");
    return 0;
  }
  *slot = r->mem;
  return 1;
}

/* Ends a result: on failure it is freed and zeroed again. */
static imcast_status end(reader *r, void *res, size_t size)
{
  if (!r->failed) {
    sdk_error_clear(r->err);
    return IMCAST_OK;
  }
  sdk_mem_free(r->mem);
  memset(res, 0, size);
  return r->err->status;
}

/* ------------------------------------------------------------------- results --- */

imcast_status sdk_parse_push(const json_t *root, imcast_push_result *res, imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const char *task_id = json_string_value(json_object_get(root, "TaskId"));
  if (task_id == NULL)
    missing(&r, "TaskId");
  else
    res->task_id = copy(&r, task_id);
  return end(&r, res, sizeof *res);
}

static int slot_number(const char *key)
{
  if (key[0] >= '0' && key[0] <= '9' && key[1] == '\0')
    return key[0] - '0';
  return -1;
}

imcast_status sdk_parse_attr_names(const json_t *root, imcast_attr_names_result *res,
                                   imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const json_t *names = json_object_get(root, "AttrNames");
  const char *key;
  const json_t *value;
  json_object_foreach((json_t *)names, key, value) {
    int slot = slot_number(key);
    if (slot >= 0 && slot < IMCAST_ATTR_SLOTS && json_is_string(value))
      res->names[slot] = copy(&r, json_string_value(value));
  }
  return end(&r, res, sizeof *res);
}

static const imcast_attr *attr_list(reader *r, const json_t *obj, size_t *count)
{
  *count = 0;
  if (!json_is_object(obj))
    return NULL;
  imcast_attr *attrs = alloc_items(r, json_object_size(obj), sizeof *attrs);
  const char *key;
  const json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    if (attrs == NULL)
      break;
    attrs[*count].name = copy(r, key);
    attrs[*count].value = copy_value(r, value);
    (*count)++;
  }
  return attrs;
}

imcast_status sdk_parse_user_attrs(const json_t *root, imcast_user_attrs_result *res,
                                   imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const json_t *array = get_array(root, "UserAttrs");
  size_t n = json_array_size(array);
  imcast_user_attrs *items = alloc_items(&r, n, sizeof *items);
  for (size_t i = 0; items != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (!json_is_object(v))
      continue;
    imcast_user_attrs *it = &items[res->count++];
    it->to_account = get_str(&r, v, "To_Account");
    it->attrs = attr_list(&r, json_object_get(v, "Attrs"), &it->attr_count);
  }
  res->user_attrs = items;
  res->error_list = error_list(&r, root, &res->error_count);
  return end(&r, res, sizeof *res);
}

imcast_status sdk_parse_user_tags(const json_t *root, imcast_user_tags_result *res,
                                  imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const json_t *array = get_array(root, "UserTags");
  size_t n = json_array_size(array);
  imcast_user_tags *items = alloc_items(&r, n, sizeof *items);
  for (size_t i = 0; items != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (!json_is_object(v))
      continue;
    imcast_user_tags *it = &items[res->count++];
    it->to_account = get_str(&r, v, "To_Account");
    it->tags = string_list(&r, get_array(v, "Tags"), &it->tag_count);
  }
  res->user_tags = items;
  res->error_list = error_list(&r, root, &res->error_count);
  return end(&r, res, sizeof *res);
}

imcast_status sdk_parse_batch(const json_t *root, imcast_batch_result *res, imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  res->error_list = error_list(&r, root, &res->error_count);
  return end(&r, res, sizeof *res);
}

static imcast_push_state push_state(const char *state)
{
  static const struct { const char *name; imcast_push_state code; } states[] = {
    {"FanningOut", IMCAST_PUSH_FANNING_OUT}, {"Done", IMCAST_PUSH_DONE},
    {"Expired", IMCAST_PUSH_EXPIRED}, {"Revoked", IMCAST_PUSH_REVOKED},
  };
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
    if (strcmp(state, states[i].name) == 0)
      return states[i].code;
  return IMCAST_PUSH_UNKNOWN;
}

imcast_status sdk_parse_push_report(const json_t *root, imcast_push_report *res,
                                    imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const char *task_id = json_string_value(json_object_get(root, "TaskId"));
  const char *state = json_string_value(json_object_get(root, "State"));
  if (task_id == NULL || state == NULL) {
    missing(&r, task_id == NULL ? "TaskId" : "State");
    return end(&r, res, sizeof *res);
  }
  res->task_id = copy(&r, task_id);
  res->state = copy(&r, state);
  res->state_code = push_state(state);
  res->audience = get_int(root, "Audience");
  res->online_at_push = get_int(root, "OnlineAtPush");
  res->delivered = get_int(root, "Delivered");
  res->pending = get_int(root, "Pending");
  res->created_at = get_int(root, "CreatedAt");
  res->expires_at = get_int(root, "ExpiresAt");
  res->fanout_done_at = get_int(root, "FanoutDoneAt");
  return end(&r, res, sizeof *res);
}

imcast_status sdk_parse_audience(const json_t *root, imcast_audience_result *res,
                                 imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  if (json_object_get(root, "Audience") == NULL)
    missing(&r, "Audience");
  res->audience = get_int(root, "Audience");
  res->online = get_int(root, "Online");
  return end(&r, res, sizeof *res);
}

imcast_status sdk_parse_multi_import(const json_t *root, imcast_multi_import_result *res,
                                     imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  res->fail_accounts = string_list(&r, get_array(root, "FailAccounts"), &res->fail_count);
  return end(&r, res, sizeof *res);
}

imcast_status sdk_parse_account_items(const json_t *root, imcast_account_items *res,
                                      imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const json_t *array = get_array(root, "ResultItem");
  size_t n = json_array_size(array);
  imcast_account_item *items = alloc_items(&r, n, sizeof *items);
  for (size_t i = 0; items != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (!json_is_object(v))
      continue;
    imcast_account_item *it = &items[res->count++];
    it->user_id = get_str(&r, v, "UserID");
    it->result_code = (int)get_int(v, "ResultCode");
    it->result_info = get_str(&r, v, "ResultInfo");
    const char *status = json_string_value(json_object_get(v, "AccountStatus"));
    if (status != NULL) {
      it->account_status = copy(&r, status);
      it->imported = strcmp(status, "Imported") == 0;
    }
  }
  res->items = items;
  return end(&r, res, sizeof *res);
}

static const imcast_platform_state *platform_states(reader *r, const json_t *array,
                                                    size_t *count)
{
  size_t n = json_array_size(array);
  imcast_platform_state *list = alloc_items(r, n, sizeof *list);
  *count = 0;
  for (size_t i = 0; list != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (!json_is_object(v))
      continue;
    list[*count].platform = get_str(r, v, "Platform");
    list[*count].status = get_str(r, v, "Status");
    (*count)++;
  }
  return list;
}

imcast_status sdk_parse_query_state(const json_t *root, imcast_query_state_result *res,
                                    imcast_error *err)
{
  reader r;
  if (!begin(&r, res, sizeof *res, &res->mem, err))
    return IMCAST_E_NOMEM;
  const json_t *array = get_array(root, "QueryResult");
  size_t n = json_array_size(array);
  imcast_user_state *items = alloc_items(&r, n, sizeof *items);
  for (size_t i = 0; items != NULL && i < n; i++) {
    const json_t *v = json_array_get(array, i);
    if (!json_is_object(v))
      continue;
    imcast_user_state *it = &items[res->count++];
    it->to_account = get_str(&r, v, "To_Account");
    it->status = get_str(&r, v, "Status");
    it->online = it->status != NULL && strcmp(it->status, "Online") == 0;
    it->detail = platform_states(&r, get_array(v, "Detail"), &it->detail_count);
  }
  res->query_result = items;
  res->error_list = error_list(&r, root, &res->error_count);
  return end(&r, res, sizeof *res);
}

/* ------------------------------------------------------------- result _free --- */

/* `type` is a type name, which parentheses would not compile around. */
#define DEFINE_RESULT_FREE(type)          \
  void type##_free(type *r) /* NOLINT(bugprone-macro-parentheses) */ \
  {                                       \
    if (r == NULL)                        \
      return;                             \
    sdk_mem_free(r->mem);                 \
    memset(r, 0, sizeof *r);              \
  }

DEFINE_RESULT_FREE(imcast_push_result)
DEFINE_RESULT_FREE(imcast_attr_names_result)
DEFINE_RESULT_FREE(imcast_user_attrs_result)
DEFINE_RESULT_FREE(imcast_user_tags_result)
DEFINE_RESULT_FREE(imcast_batch_result)
DEFINE_RESULT_FREE(imcast_push_report)
DEFINE_RESULT_FREE(imcast_audience_result)
DEFINE_RESULT_FREE(imcast_multi_import_result)
DEFINE_RESULT_FREE(imcast_account_items)
DEFINE_RESULT_FREE(imcast_query_state_result)
