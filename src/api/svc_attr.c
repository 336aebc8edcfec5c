/*
** svc_attr.c — attribute names and user attributes (service all_member_push).
**
** An app names up to 10 attribute slots ("0".."9"); accounts hold one value per slot.
** Anything wrong with a name or a value answers 90033 naming the item; more than 100
** accounts answers 90018; accounts not imported are listed in ErrorList (70107) while the
** others succeed. Every request is validated whole before anything is written.
*/
#include <string.h>

#include "api/api_internal.h"
#include "common/text.h"

/* ------------------------------------------------------------------ names */

/* "0".."9" → 0..9, anything else → -1. */
static int parse_slot(const char *key)
{
  return key[0] >= '0' && key[0] <= '9' && key[1] == '\0' ? key[0] - '0' : -1;
}

static bool valid_attr_text(const char *s, size_t len)
{
  return len >= 1 && len <= ATTR_MAX_BYTES && text_is_utf8(s, len) && !text_has_control(s, len);
}

/* Puts one requested (slot, name) into names[]; false after failing the call. */
static bool propose_name(api_call *c, const char *names[DIR_ATTR_SLOTS], const char *slot_key,
                         int slot, const json_t *name)
{
  if (slot < 0) {
    api_fail(c, IMC_E_BAD_ATTR, "AttrNames slot '%.20s' is not one of \"0\"..\"9\"", slot_key);
    return false;
  }
  if (!json_is_string(name)) {
    api_fail(c, IMC_E_BAD_ATTR, "AttrNames[\"%d\"] must be a string name, not %s", slot,
             api_json_type(name));
    return false;
  }
  if (!valid_attr_text(json_string_value(name), json_string_length(name))) {
    api_fail(c, IMC_E_BAD_ATTR,
             "AttrNames[\"%d\"] must be 1..%d bytes of UTF-8 without control characters",
             slot, ATTR_MAX_BYTES);
    return false;
  }
  names[slot] = json_string_value(name);
  return true;
}

/* Reads AttrNames (object, or PHP's array where the index is the slot) into names[],
** which starts as the current names. False after failing the call. */
static bool requested_names(api_call *c, const char *names[DIR_ATTR_SLOTS])
{
  json_t *req = api_field(c->body, "AttrNames");
  if (json_is_object(req)) {
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
      if (json_is_null(v)) continue;
      if (!propose_name(c, names, key, parse_slot(key), v)) return false;
    }
    return true;
  }
  if (json_is_array(req)) {
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v) {
      if (json_is_null(v)) continue;
      char key[24];
      snprintf(key, sizeof key, "%zu", i);
      if (!propose_name(c, names, key, i < DIR_ATTR_SLOTS ? (int)i : -1, v)) return false;
    }
    return true;
  }
  api_fail(c, IMC_E_BAD_ATTR, "AttrNames must be an object of slot -> name%s",
           req ? "" : " (it is missing)");
  return false;
}

void svc_set_attr_name(api_call *c)
{
  directory *d = c->api->dir;
  const char *names[DIR_ATTR_SLOTS];
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) names[s] = directory_attr_name(d, s);
  if (!requested_names(c, names)) return;
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    for (int t = s + 1; t < DIR_ATTR_SLOTS; t++)
      if (names[s] && names[t] && strcmp(names[s], names[t]) == 0) {
        api_fail(c, IMC_E_BAD_ATTR, "attribute name '%s' would name both slot %d and slot %d",
                 names[s], s, t);
        return;
      }

  bool changed[DIR_ATTR_SLOTS];
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
    const char *now = directory_attr_name(d, s);
    changed[s] = names[s] && (!now || strcmp(now, names[s]) != 0);
  }
  if (api_write_begin(c)) return;
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    if (changed[s] && !api_store_ok(c, store_put_attr_name(c->api->st, s, names[s]))) {
      api_write_end(c, false);
      return;
    }
  api_write_end(c, true);
  /* Unname every changed slot first, so that swapping two names never collides. */
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    if (changed[s]) directory_set_attr_name(d, s, NULL);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    if (changed[s] && directory_set_attr_name(d, s, names[s]) != 0) api_out_of_memory();
}

void svc_get_attr_name(api_call *c)
{
  json_t *names = json_object();
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
    const char *name = directory_attr_name(c->api->dir, s);
    char key[2] = {(char)('0' + s), '\0'};
    if (name) json_object_set_new(names, key, json_string(name));
  }
  json_object_set_new(c->reply, "AttrNames", names);
}

/* ------------------------------------------------------------------ values */

/* The slot of a defined attribute name, or -1 after failing the call. */
static int defined_slot(api_call *c, const char *name, size_t item)
{
  int slot = directory_attr_slot(c->api->dir, name);
  if (slot < 0)
    api_fail(c, IMC_E_BAD_ATTR, "UserAttrs[%zu]: attribute '%.60s' is not defined "
             "(set it with im_set_attr_name)", item, name);
  return slot;
}

/* The text of an attribute value: strings as they are, numbers and booleans as their JSON
** text. Writes into buf; returns NULL (and fails the call) for anything else. */
static const char *value_text(api_call *c, const json_t *v, char *buf, size_t buflen,
                              size_t item, const char *name)
{
  const char *text = NULL;
  if (json_is_string(v)) {
    text = json_string_value(v);
  } else if (json_is_number(v) || json_is_boolean(v)) {
    char *dumped = json_dumps(v, JSON_ENCODE_ANY);
    size_t dlen = dumped ? strlen(dumped) : 0;
    if (dumped && dlen < buflen) text = memcpy(buf, dumped, dlen + 1);
    free(dumped);
  } else {
    api_fail(c, IMC_E_BAD_ATTR, "UserAttrs[%zu].Attrs.%.60s must be a string, not %s", item,
             name, api_json_type(v));
    return NULL;
  }
  if (!text || !valid_attr_text(text, strlen(text))) {
    api_fail(c, IMC_E_BAD_ATTR, "UserAttrs[%zu].Attrs.%.60s must be 1..%d bytes of UTF-8 "
             "without control characters", item, name, ATTR_MAX_BYTES);
    return NULL;
  }
  return text;
}

static bool check_set_item(api_call *c, const json_t *items, size_t i)
{
  const json_t *item = json_array_get(items, i);
  json_t *attrs = api_field(item, "Attrs");
  if (!json_is_object(attrs)) {
    api_fail(c, IMC_E_BAD_ATTR, "UserAttrs[%zu].Attrs must be an object of name -> value%s", i,
             attrs ? "" : " (it is missing)");
    return false;
  }
  const char *name;
  json_t *v;
  char buf[64];
  json_object_foreach(attrs, name, v) {
    if (json_is_null(v)) continue;
    if (defined_slot(c, name, i) < 0 || !value_text(c, v, buf, sizeof buf, i, name)) return false;
  }
  return true;
}

static bool apply_set_item(api_call *c, uint32_t uid, const json_t *item, size_t i)
{
  const char *name;
  json_t *v;
  char buf[64];
  json_object_foreach(api_field(item, "Attrs"), name, v) {
    if (json_is_null(v)) continue;
    int slot = directory_attr_slot(c->api->dir, name);
    const char *text = value_text(c, v, buf, sizeof buf, i, name);
    const char *old = directory_attr_value(c->api->dir, uid, slot);
    if (old && strcmp(old, text) == 0) continue;
    if (!api_store_ok(c, store_put_user_attr(c->api->st, uid, slot, text))) return false;
    if (directory_set_attr(c->api->dir, uid, slot, text) != 0) api_out_of_memory();
  }
  return true;
}

/* The names an im_remove_attr item lists: an array of names, or (doocs Java SDK) an object
** whose keys are the names. */
static bool check_remove_item(api_call *c, const json_t *items, size_t i)
{
  const json_t *item = json_array_get(items, i);
  json_t *attrs = api_field(item, "Attrs");
  if (json_is_object(attrs)) {
    const char *name;
    json_t *v;
    json_object_foreach(attrs, name, v)
      if (defined_slot(c, name, i) < 0) return false;
    return true;
  }
  if (json_is_array(attrs)) {
    size_t j;
    json_t *v;
    json_array_foreach(attrs, j, v) {
      if (!json_is_string(v)) {
        api_fail(c, IMC_E_BAD_ATTR, "UserAttrs[%zu].Attrs[%zu] must be a string name, not %s",
                 i, j, api_json_type(v));
        return false;
      }
      if (defined_slot(c, json_string_value(v), i) < 0) return false;
    }
    return true;
  }
  api_fail(c, IMC_E_BAD_ATTR, "UserAttrs[%zu].Attrs must list the names to remove%s", i,
           attrs ? "" : " (it is missing)");
  return false;
}

static bool remove_one(api_call *c, uint32_t uid, const char *name)
{
  int slot = directory_attr_slot(c->api->dir, name);
  if (!directory_attr_value(c->api->dir, uid, slot)) return true;
  if (!api_store_ok(c, store_del_user_attr(c->api->st, uid, slot))) return false;
  directory_remove_attr(c->api->dir, uid, slot);
  return true;
}

static bool apply_remove_item(api_call *c, uint32_t uid, const json_t *item, size_t i)
{
  json_t *attrs = api_field(item, "Attrs");
  if (json_is_object(attrs)) {
    const char *name;
    json_t *v;
    json_object_foreach(attrs, name, v)
      if (!remove_one(c, uid, name)) return false;
    return true;
  }
  size_t j;
  json_t *v;
  json_array_foreach(attrs, j, v)
    if (!remove_one(c, uid, json_string_value(v))) return false;
  return true;
}

/* See api_internal.h. */
void api_apply_user_items(api_call *c, const char *list_key, const char *inner_key,
                          item_check check, item_apply apply)
{
  json_t *items = api_user_items(c, list_key, inner_key);
  if (!items) return;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item)
    if (!check(c, items, i)) goto out;

  if (api_write_begin(c)) goto out;
  json_array_foreach(items, i, item) {
    const char *id = json_string_value(api_field(item, "To_Account"));
    uint32_t uid = api_find_or_report(c, id);
    if (uid == DIR_UID_NONE) continue;
    if (!apply(c, uid, item, i)) {
      api_write_end(c, false);
      goto out;
    }
  }
  api_write_end(c, true);
out:
  json_decref(items);
}

void svc_set_attr(api_call *c)
{
  api_apply_user_items(c, "UserAttrs", "Attrs", check_set_item, apply_set_item);
}

void svc_remove_attr(api_call *c)
{
  api_apply_user_items(c, "UserAttrs", "Attrs", check_remove_item, apply_remove_item);
}

static json_t *attrs_of(const api *a, uint32_t uid)
{
  json_t *attrs = json_object();
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
    const char *name = directory_attr_name(a->dir, s);
    const char *value = directory_attr_value(a->dir, uid, s);
    if (name && value) json_object_set_new(attrs, name, json_string(value));
  }
  return attrs;
}

void svc_get_attr(api_call *c)
{
  api_get_per_account(c, "UserAttrs", "Attrs", attrs_of);
}
