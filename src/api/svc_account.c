/*
** svc_account.c — service im_open_login_svc (import, check, delete, kick) and
** openim/query_online_status (and its older name querystate).
**
** Bad input here answers 70402 with the item or limit named; kick of an account that is
** not imported answers 70107. Importing an existing account succeeds and changes nothing
** but its Nick/FaceUrl when given. Deleted accounts' uids are never reused.
*/
#include <string.h>

#include "api/api_internal.h"
#include "common/text.h"

/* A UserID value from a request: a valid string, or NULL after failing the call with
** 70402 naming `where`. */
static const char *account_param(api_call *c, const json_t *v, const char *where)
{
  if (!v) {
    api_fail(c, IMC_E_ACCOUNT_PARAM, "%s is missing", where);
    return NULL;
  }
  if (!json_is_string(v)) {
    api_fail(c, IMC_E_ACCOUNT_PARAM, "%s must be a string, not %s", where, api_json_type(v));
    return NULL;
  }
  const char *id = json_string_value(v);
  const char *problem = text_user_id_problem(id, json_string_length(v));
  if (problem) {
    api_fail(c, IMC_E_ACCOUNT_PARAM, "%s '%.64s' %s", where, id, problem);
    return NULL;
  }
  return id;
}

/* An optional string field (Nick, FaceUrl); false after failing the call. */
static bool optional_string(api_call *c, const char *key, const char **out)
{
  json_t *v = api_field(c->body, key);
  *out = NULL;
  if (!v) return true;
  if (!json_is_string(v)) {
    api_fail(c, IMC_E_ACCOUNT_PARAM, "%s must be a string, not %s", key, api_json_type(v));
    return false;
  }
  *out = json_string_value(v);
  return true;
}

bool api_import_new(api_call *c, const char *user_id, const char *nick, const char *face)
{
  api *a = c->api;
  uint32_t uid = a->next_uid;
  char next[16];
  snprintf(next, sizeof next, "%u", uid + 1);
  if (!api_store_ok(c, store_put_account(a->st, uid, user_id, nick, face))) return false;
  if (!api_store_ok(c, store_meta_put(a->st, "next_uid", next))) return false;
  if (directory_add_account(a->dir, uid, user_id) != 0) api_out_of_memory();
  a->next_uid = uid + 1;
  return true;
}

void svc_account_import(api_call *c)
{
  json_t *v = api_field(c->body, "UserID");
  const char *where = "UserID";
  if (!v && api_field(c->body, "Identifier")) {   /* older SDK versions */
    v = api_field(c->body, "Identifier");
    where = "Identifier";
  }
  const char *id = account_param(c, v, where);
  const char *nick, *face;
  if (!id || !optional_string(c, "Nick", &nick) || !optional_string(c, "FaceUrl", &face)) return;

  uint32_t uid = api_find_account(c->api, id);
  if (uid != DIR_UID_NONE && !nick && !face) return;   /* idempotent */
  if (api_write_begin(c)) return;
  bool ok = uid == DIR_UID_NONE
              ? api_import_new(c, id, nick, face)
              : api_store_ok(c, store_put_account(c->api->st, uid, id, nick, face));
  api_write_end(c, ok);
}

void svc_multiaccount_import(api_call *c)
{
  const char *key = api_field(c->body, "Accounts") ? "Accounts" : "AccountList";
  json_t *list = api_account_list(c, key, API_MAX_ACCOUNT_ITEMS, IMC_E_ACCOUNT_PARAM,
                                  IMC_E_ACCOUNT_PARAM);
  if (!list) return;

  json_t *failed = json_array();
  json_object_set_new(c->reply, "FailAccounts", failed);
  if (api_write_begin(c)) return;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    const char *id = json_string_value(item);
    if (text_user_id_problem(id, json_string_length(item))) {
      json_array_append(failed, item);
      continue;
    }
    if (api_find_account(c->api, id) != DIR_UID_NONE) continue;
    if (!api_import_new(c, id, NULL, NULL)) {
      api_write_end(c, false);
      return;
    }
  }
  api_write_end(c, true);
}

/* The {"UserID":..} items of a delete or check call, validated whole. */
static json_t *user_id_items(api_call *c, const char *key)
{
  json_t *items = api_field(c->body, key);
  if (!json_is_array(items)) {
    api_fail(c, IMC_E_ACCOUNT_PARAM, "%s must be an array of {\"UserID\":..} items%s", key,
             items ? "" : " (it is missing)");
    return NULL;
  }
  if (json_array_size(items) > API_MAX_ACCOUNT_ITEMS) {
    api_fail(c, IMC_E_ACCOUNT_PARAM, "%s has %zu items; at most %d per call", key,
             json_array_size(items), API_MAX_ACCOUNT_ITEMS);
    return NULL;
  }
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    char where[64];
    snprintf(where, sizeof where, "%s[%zu].UserID", key, i);
    if (!json_is_object(item)) {
      api_fail(c, IMC_E_ACCOUNT_PARAM, "%s[%zu] must be an object, not %s", key, i,
               api_json_type(item));
      return NULL;
    }
    if (!account_param(c, api_field(item, "UserID"), where)) return NULL;
  }
  return items;
}

static json_t *result_item(const char *id, int code)
{
  return json_pack("{s:i,s:s,s:s}", "ResultCode", code, "ResultInfo",
                   code ? "account not imported" : "", "UserID", id);
}

void svc_account_delete(api_call *c)
{
  json_t *items = user_id_items(c, "DeleteItem");
  if (!items) return;
  json_t *results = json_array();
  json_object_set_new(c->reply, "ResultItem", results);
  if (api_write_begin(c)) return;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    const char *id = json_string_value(api_field(item, "UserID"));
    uint32_t uid = api_find_account(c->api, id);
    if (uid == DIR_UID_NONE) {
      json_array_append_new(results, result_item(id, IMC_E_NOT_IMPORTED));
      continue;
    }
    if (!api_store_ok(c, store_del_account(c->api->st, uid))) {
      api_write_end(c, false);
      return;
    }
    receivers_kick(c->api, uid, "account deleted");
    push_registry_forget_account(c->api->pushes, uid);
    directory_remove_account(c->api->dir, uid);
    json_array_append_new(results, result_item(id, 0));
  }
  api_write_end(c, true);
}

void svc_account_check(api_call *c)
{
  json_t *items = user_id_items(c, "CheckItem");
  if (!items) return;
  json_t *results = json_array();
  json_object_set_new(c->reply, "ResultItem", results);
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    const char *id = json_string_value(api_field(item, "UserID"));
    bool known = api_find_account(c->api, id) != DIR_UID_NONE;
    json_array_append_new(results, json_pack("{s:s,s:i,s:s,s:s}", "UserID", id, "ResultCode", 0,
                                             "ResultInfo", "", "AccountStatus",
                                             known ? "Imported" : "NotImported"));
  }
}

void svc_kick(api_call *c)
{
  const char *id = account_param(c, api_field(c->body, "UserID"), "UserID");
  if (!id) return;
  uint32_t uid = api_find_account(c->api, id);
  if (uid == DIR_UID_NONE)
    api_fail(c, IMC_E_NOT_IMPORTED, "account '%s' is not imported", id);
  else
    receivers_kick(c->api, uid, "kicked by the admin");
}

void svc_query_online_status(api_call *c)
{
  json_t *list = api_account_list(c, "To_Account", API_MAX_QUERY_STATE, IMC_E_ACCOUNT_PARAM,
                                  IMC_E_ACCOUNT_PARAM);
  if (!list) return;
  json_t *detail_flag = api_field(c->body, "IsNeedDetail");
  bool detail = json_is_integer(detail_flag) && json_integer_value(detail_flag) == 1;

  json_t *results = json_array();
  json_object_set_new(c->reply, "QueryResult", results);
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    const char *problem = text_user_id_problem(json_string_value(item), json_string_length(item));
    if (problem) {
      api_fail(c, IMC_E_ACCOUNT_PARAM, "To_Account[%zu] '%.64s' %s", i, json_string_value(item),
               problem);
      return;
    }
  }
  json_array_foreach(list, i, item) {
    const char *id = json_string_value(item);
    uint32_t uid = api_find_or_report(c, id);
    if (uid == DIR_UID_NONE) continue;
    size_t connections = sessions_count_of(c->api->online, uid);
    json_t *r = json_pack("{s:s,s:s}", "To_Account", id, "Status",
                          connections ? "Online" : "Offline");
    if (detail) {
      json_t *details = json_array();
      for (size_t k = 0; k < connections; k++)
        json_array_append_new(details, json_pack("{s:s,s:s}", "Platform", "Web", "Status", "Online"));
      json_object_set_new(r, "Detail", details);
    }
    json_array_append_new(results, r);
  }
}
