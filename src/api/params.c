/*
** params.c — reading the bodies real SDKs send, and the shared write discipline.
**
** Tencent's documentation, the Java, Go and PHP SDKs disagree on shapes (rest-api.md
** §4.5); the functions here accept every shape in one place so handlers see one.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/log.h"

json_t *api_field(const json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  return json_is_null(v) ? NULL : v;
}

const char *api_json_type(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "a value";
}

json_t *api_account_list(api_call *c, const char *key, size_t max, int too_many_code,
                         int shape_code)
{
  json_t *list = api_field(c->body, key);
  if (!list) {
    api_fail(c, shape_code, "%s is missing: it must be an array of UserIDs", key);
    return NULL;
  }
  if (!json_is_array(list)) {
    api_fail(c, shape_code, "%s must be an array of UserIDs, not %s", key, api_json_type(list));
    return NULL;
  }
  if (json_array_size(list) > max) {
    api_fail(c, too_many_code, "%s names %zu accounts; at most %zu per call", key,
             json_array_size(list), max);
    return NULL;
  }
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    if (!json_is_string(item)) {
      api_fail(c, shape_code, "%s[%zu] must be a string UserID, not %s", key, i,
               api_json_type(item));
      return NULL;
    }
  }
  return list;
}

/* One {"To_Account":..,"<inner>":..} item must name its account with a string. */
static bool check_item(api_call *c, const char *where, size_t i, const json_t *item)
{
  if (!json_is_object(item)) {
    api_fail(c, IMC_E_JSON, "%s[%zu] must be an object, not %s", where, i, api_json_type(item));
    return false;
  }
  json_t *to = api_field(item, "To_Account");
  if (!json_is_string(to)) {
    api_fail(c, IMC_E_JSON, "%s[%zu].To_Account must be a string UserID%s", where, i,
             to ? "" : " (it is missing)");
    return false;
  }
  return true;
}

json_t *api_user_items(api_call *c, const char *list_key, const char *inner_key)
{
  json_t *items = NULL;
  const char *where = list_key;
  json_t *listed = api_field(c->body, list_key);
  json_t *go_style = api_field(c->body, inner_key);
  if (listed) {
    items = json_incref(listed);
  } else if (json_is_array(go_style) && json_is_string(api_field(c->body, "To_Account")) == 0) {
    items = json_incref(go_style);          /* Go SDK: {"Tags":[{"To_Account":..}]} */
    where = inner_key;
  } else if (api_field(c->body, "To_Account")) {
    items = json_array();                   /* official SDK: one flat item */
    json_array_append(items, c->body);
    where = "body";
  } else {
    api_fail(c, IMC_E_JSON, "%s is missing: it must be an array of {\"To_Account\",\"%s\"} items",
             list_key, inner_key);
    return NULL;
  }
  if (!json_is_array(items)) {
    api_fail(c, IMC_E_JSON, "%s must be an array, not %s", where, api_json_type(items));
    json_decref(items);
    return NULL;
  }
  if (json_array_size(items) > API_MAX_ACCOUNTS_PER_CALL) {
    api_fail(c, IMC_E_TOO_MANY_ACCOUNTS, "%s names %zu accounts; at most %d per call", where,
             json_array_size(items), API_MAX_ACCOUNTS_PER_CALL);
    json_decref(items);
    return NULL;
  }
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    if (!check_item(c, where, i, item)) {
      json_decref(items);
      return NULL;
    }
  }
  return items;
}

uint32_t api_find_account(const api *a, const char *user_id)
{
  return directory_find(a->dir, user_id);
}

static void report_unknown(api_call *c, const char *user_id)
{
  json_t *list = json_object_get(c->reply, "ErrorList");
  if (!list) {
    list = json_array();
    json_object_set_new(c->reply, "ErrorList", list);
  }
  json_array_append_new(list, json_pack("{s:s,s:i,s:s}", "To_Account", user_id, "ErrorCode",
                                        IMC_E_NOT_IMPORTED, "ErrorInfo", "account not imported"));
}

uint32_t api_find_or_report(api_call *c, const char *user_id)
{
  uint32_t uid = api_find_account(c->api, user_id);
  if (uid == DIR_UID_NONE) report_unknown(c, user_id);
  return uid;
}

int api_write_begin(api_call *c)
{
  if (store_savepoint(c->api->st) == 0) return 0;
  log_error("store: cannot begin a write: %s", store_errmsg(c->api->st));
  return api_fail(c, IMC_E_INTERNAL, "the change could not be saved; nothing was changed");
}

void api_write_end(api_call *c, bool ok)
{
  int rc = ok ? store_release(c->api->st) : store_rollback_to(c->api->st);
  if (rc != 0) log_error("store: cannot end a write: %s", store_errmsg(c->api->st));
}

bool api_store_ok(api_call *c, int rc)
{
  if (rc == 0) return true;
  log_error("store: write failed: %s", store_errmsg(c->api->st));
  api_fail(c, IMC_E_INTERNAL, "the change could not be saved; nothing was changed");
  return false;
}

void api_get_per_account(api_call *c, const char *reply_key, const char *inner_key,
                         json_t *(*value_of)(const api *a, uint32_t uid))
{
  json_t *list = api_account_list(c, "To_Account", API_MAX_ACCOUNTS_PER_CALL,
                                  IMC_E_TOO_MANY_ACCOUNTS, IMC_E_JSON);
  if (!list) return;
  json_t *results = json_array();
  json_object_set_new(c->reply, reply_key, results);
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    const char *id = json_string_value(item);
    uint32_t uid = api_find_or_report(c, id);
    if (uid == DIR_UID_NONE) continue;
    json_array_append_new(results, json_pack("{s:s,s:o}", "To_Account", id, inner_key,
                                             value_of(c->api, uid)));
  }
}
