/*
** svc_tag.c — user tags (service all_member_push): get, add, remove, remove all.
**
** A tag is 1..50 bytes of UTF-8 (else 90020). One request adds at most 10 tags to a user
** and a user holds at most 100 (else 90032). Adding a tag a user has, or removing one it
** lacks, changes nothing. Accounts not imported are listed in ErrorList (70107).
*/
#include <string.h>

#include "api/api_internal.h"
#include "common/text.h"

/* Checks an item's Tags list: an array of valid tag strings, at most `max` of them. */
static bool check_tag_list(api_call *c, const json_t *item, size_t i, size_t max)
{
  json_t *tags = api_field(item, "Tags");
  if (!json_is_array(tags)) {
    api_fail(c, IMC_E_JSON, "UserTags[%zu].Tags must be an array of tags%s", i,
             tags ? "" : " (it is missing)");
    return false;
  }
  if (json_array_size(tags) > max) {
    api_fail(c, IMC_E_TOO_MANY_TAGS, "UserTags[%zu].Tags has %zu tags; at most %zu per user "
             "per request", i, json_array_size(tags), max);
    return false;
  }
  size_t j;
  json_t *tag;
  json_array_foreach(tags, j, tag) {
    if (!json_is_string(tag)) {
      api_fail(c, IMC_E_TAG_TOO_LONG, "UserTags[%zu].Tags[%zu] must be a string, not %s", i, j,
               api_json_type(tag));
      return false;
    }
    const char *s = json_string_value(tag);
    size_t len = json_string_length(tag);
    if (len == 0 || len > TAG_MAX_BYTES || !text_is_utf8(s, len)) {
      api_fail(c, IMC_E_TAG_TOO_LONG, "UserTags[%zu].Tags[%zu] must be 1..%d bytes of UTF-8 "
               "(it is %zu bytes%s)", i, j, TAG_MAX_BYTES, len,
               text_is_utf8(s, len) ? "" : ", not UTF-8");
      return false;
    }
  }
  return true;
}

static bool list_has(const json_t *list, size_t before, const char *tag)
{
  for (size_t k = 0; k < before && k < json_array_size(list); k++)
    if (strcmp(json_string_value(json_array_get(list, k)), tag) == 0) return true;
  return false;
}

/* True when an earlier item of this request adds `tag` to the same account. */
static bool added_earlier(const json_t *items, size_t i, const char *user_id, const char *tag)
{
  for (size_t k = 0; k < i; k++) {
    json_t *other = json_array_get(items, k);
    if (strcmp(json_string_value(json_object_get(other, "To_Account")), user_id) == 0 &&
        list_has(json_object_get(other, "Tags"), SIZE_MAX, tag))
      return true;
  }
  return false;
}

/* How many tags the account would hold after items[0..i] are applied. */
static size_t tags_after(api_call *c, const json_t *items, size_t i)
{
  const json_t *item = json_array_get(items, i);
  const char *id = json_string_value(json_object_get(item, "To_Account"));
  uint32_t uid = api_find_account(c->api, id);
  size_t total = 0;
  if (uid != DIR_UID_NONE) directory_tags(c->api->dir, uid, &total);
  for (size_t k = 0; k <= i; k++) {
    json_t *other = json_array_get(items, k);
    if (strcmp(json_string_value(json_object_get(other, "To_Account")), id) != 0) continue;
    json_t *tags = json_object_get(other, "Tags");
    size_t j;
    json_t *tag;
    json_array_foreach(tags, j, tag) {
      const char *t = json_string_value(tag);
      bool known = uid != DIR_UID_NONE && directory_has_tag(c->api->dir, uid, t);
      if (!known && !list_has(tags, j, t) && !added_earlier(items, k, id, t)) total++;
    }
  }
  return total;
}

static bool check_add_item(api_call *c, const json_t *items, size_t i)
{
  const json_t *item = json_array_get(items, i);
  if (!check_tag_list(c, item, i, API_MAX_TAGS_PER_REQUEST)) return false;
  size_t total = tags_after(c, items, i);
  if (total > DIR_MAX_TAGS) {
    api_fail(c, IMC_E_TOO_MANY_TAGS, "account '%s' would hold %zu tags; at most %d",
             json_string_value(json_object_get(item, "To_Account")), total, DIR_MAX_TAGS);
    return false;
  }
  return true;
}

static bool check_remove_item(api_call *c, const json_t *items, size_t i)
{
  return check_tag_list(c, json_array_get(items, i), i, SIZE_MAX);
}

static bool apply_add_item(api_call *c, uint32_t uid, const json_t *item, size_t i)
{
  size_t j;
  json_t *tag;
  json_array_foreach(api_field(item, "Tags"), j, tag) {
    const char *t = json_string_value(tag);
    if (directory_has_tag(c->api->dir, uid, t)) continue;
    if (!api_store_ok(c, store_put_user_tag(c->api->st, uid, t))) return false;
    if (directory_add_tag(c->api->dir, uid, t) < 0) api_out_of_memory();
  }
  return true;
}

static bool apply_remove_item(api_call *c, uint32_t uid, const json_t *item, size_t i)
{
  size_t j;
  json_t *tag;
  json_array_foreach(api_field(item, "Tags"), j, tag) {
    const char *t = json_string_value(tag);
    if (!directory_has_tag(c->api->dir, uid, t)) continue;
    if (!api_store_ok(c, store_del_user_tag(c->api->st, uid, t))) return false;
    directory_remove_tag(c->api->dir, uid, t);
  }
  return true;
}

void svc_add_tag(api_call *c)
{
  api_apply_user_items(c, "UserTags", "Tags", check_add_item, apply_add_item);
}

void svc_remove_tag(api_call *c)
{
  api_apply_user_items(c, "UserTags", "Tags", check_remove_item, apply_remove_item);
}

static json_t *tags_of(const api *a, uint32_t uid)
{
  size_t n;
  const char *const *tags = directory_tags(a->dir, uid, &n);
  json_t *list = json_array();
  for (size_t k = 0; k < n; k++) json_array_append_new(list, json_string(tags[k]));
  return list;
}

void svc_get_tag(api_call *c)
{
  api_get_per_account(c, "UserTags", "Tags", tags_of);
}

void svc_remove_all_tags(api_call *c)
{
  json_t *list = api_account_list(c, "To_Account", API_MAX_ACCOUNTS_PER_CALL,
                                  IMC_E_TOO_MANY_ACCOUNTS, IMC_E_JSON);
  if (!list) return;
  if (api_write_begin(c)) return;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    const char *id = json_string_value(item);
    uint32_t uid = api_find_or_report(c, id);
    if (uid == DIR_UID_NONE) continue;
    size_t n;
    directory_tags(c->api->dir, uid, &n);
    if (n == 0) continue;
    if (!api_store_ok(c, store_del_user_tags(c->api->st, uid))) {
      api_write_end(c, false);
      return;
    }
    directory_remove_all_tags(c->api->dir, uid);
  }
  api_write_end(c, true);
}
