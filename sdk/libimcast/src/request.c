/*
** request.c — the JSON body of every call, built from the typed request structs.
**
** Field names and shapes are Tencent's documented ones (docs/rest-api.md), in the order
** the Java SDK writes them. Nothing here does I/O. Guarantees: a body is either complete
** or not made at all — the first bad argument (a required string that is NULL, a string
** that is not UTF-8, a list pointer that is NULL with a non-zero count, an unknown
** MsgType) fails the whole build with IMCAST_E_INVALID and an error_info that names the
** field by its wire name, e.g. "MsgBody[1].MsgContent.Text is missing".
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sdk_internal.h"

/* A body under construction; only the first failure is recorded. */
typedef struct builder {
  imcast_error *err;
  int failed;
} builder;

static void fail(builder *b, imcast_status status, const char *what, const char *why)
{
  if (b->failed)
    return;
  b->failed = 1;
  sdk_error_set(b->err, status, "%s %s", what, why);
}

static void fail_nomem(builder *b)
{
  if (!b->failed) {
    b->failed = 1;
    sdk_error_set(b->err, IMCAST_E_NOMEM, "out of memory building a request");
  }
}

/* A required string: NULL and invalid UTF-8 fail. */
static json_t *str(builder *b, const char *s, const char *what)
{
  if (s == NULL) {
    fail(b, IMCAST_E_INVALID, what, "is missing");
    return NULL;
  }
  json_t *j = json_string(s);
  if (j == NULL)
    fail(b, IMCAST_E_INVALID, what, "is not valid UTF-8");
  return j;
}

/* Sets obj[key] = value (stolen). A NULL value means its maker already failed, or
** memory ran out. */
static void put(builder *b, json_t *obj, const char *key, json_t *value)
{
  if (value == NULL) {
    fail_nomem(b);
    return;
  }
  if (json_object_set_new(obj, key, value) != 0) /* frees value on failure */
    fail_nomem(b);
}

static void append(builder *b, json_t *array, json_t *value)
{
  if (value == NULL) {
    fail_nomem(b);
    return;
  }
  if (json_array_append_new(array, value) != 0) /* frees value on failure */
    fail_nomem(b);
}

static void put_str(builder *b, json_t *obj, const char *key, const char *s, const char *what)
{
  put(b, obj, key, str(b, s, what));
}

static void put_opt_str(builder *b, json_t *obj, const char *key, const char *s,
                        const char *what)
{
  if (s != NULL)
    put_str(b, obj, key, s, what);
}

static void put_int(builder *b, json_t *obj, const char *key, json_int_t v)
{
  put(b, obj, key, json_integer(v));
}

static void put_nonzero_int(builder *b, json_t *obj, const char *key, json_int_t v)
{
  if (v != 0)
    put_int(b, obj, key, v);
}

/* A field path for error messages, e.g. "UserTags[3].To_Account" (cut to fit). */
static const char *where(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *where(char *buf, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
  return buf;
}

/* "<prefix><key>" as a field path. */
static const char *path(char *buf, size_t cap, const char *prefix, const char *key)
{
  return where(buf, cap, "%s%s", prefix, key);
}

/* A list is valid when it has entries or a count of zero. */
static int check_list(builder *b, const void *list, size_t count, const char *what)
{
  if (count > 0 && list == NULL) {
    fail(b, IMCAST_E_INVALID, what, "is NULL with a non-zero count");
    return 0;
  }
  return 1;
}

static json_t *str_array(builder *b, const char *const *list, size_t count, const char *what)
{
  if (!check_list(b, list, count, what))
    return NULL;
  json_t *array = json_array();
  char item[96];
  for (size_t i = 0; i < count && !b->failed; i++) {
    where(item, sizeof item, "%s[%zu]", what, i);
    append(b, array, str(b, list[i], item));
  }
  return array;
}

static json_t *finish(builder *b, json_t *root)
{
  if (root == NULL)
    fail_nomem(b);
  if (b->failed) {
    json_decref(root);
    return NULL;
  }
  sdk_error_clear(b->err);
  return root;
}

/* ------------------------------------------------------------ message elements --- */

static void text_content(builder *b, json_t *c, const imcast_text_elem *e, const char *at)
{
  char w[96];
  put_str(b, c, "Text", e->text, path(w, sizeof w, at, "Text"));
}

static void location_content(builder *b, json_t *c, const imcast_location_elem *e,
                             const char *at)
{
  char w[96];
  put_opt_str(b, c, "Desc", e->desc, path(w, sizeof w, at, "Desc"));
  put(b, c, "Latitude", json_real(e->latitude));
  put(b, c, "Longitude", json_real(e->longitude));
}

static void face_content(builder *b, json_t *c, const imcast_face_elem *e, const char *at)
{
  char w[96];
  put_int(b, c, "Index", e->index);
  put_opt_str(b, c, "Data", e->data, path(w, sizeof w, at, "Data"));
}

static void custom_content(builder *b, json_t *c, const imcast_custom_elem *e, const char *at)
{
  char w[96];
  put_opt_str(b, c, "Data", e->data, path(w, sizeof w, at, "Data"));
  put_opt_str(b, c, "Desc", e->desc, path(w, sizeof w, at, "Desc"));
  put_opt_str(b, c, "Ext", e->ext, path(w, sizeof w, at, "Ext"));
  put_opt_str(b, c, "Sound", e->sound, path(w, sizeof w, at, "Sound"));
}

static void sound_content(builder *b, json_t *c, const imcast_sound_elem *e, const char *at)
{
  char w[96];
  put_opt_str(b, c, "Url", e->url, path(w, sizeof w, at, "Url"));
  put_opt_str(b, c, "UUID", e->uuid, path(w, sizeof w, at, "UUID"));
  put_int(b, c, "Size", e->size);
  put_int(b, c, "Second", e->second);
  put_int(b, c, "Download_Flag", e->download_flag);
}

static json_t *image_info(builder *b, const imcast_image_info *info, const char *at)
{
  char w[96];
  json_t *o = json_object();
  put_int(b, o, "Type", info->type);
  put_int(b, o, "Size", info->size);
  put_int(b, o, "Width", info->width);
  put_int(b, o, "Height", info->height);
  put_opt_str(b, o, "URL", info->url, path(w, sizeof w, at, "URL"));
  return o;
}

static void image_content(builder *b, json_t *c, const imcast_image_elem *e, const char *at)
{
  char w[96];
  put_opt_str(b, c, "UUID", e->uuid, path(w, sizeof w, at, "UUID"));
  put_int(b, c, "ImageFormat", e->image_format);
  if (!check_list(b, e->image_info, e->image_info_count,
                  path(w, sizeof w, at, "ImageInfoArray")))
    return;
  json_t *array = json_array();
  for (size_t i = 0; i < e->image_info_count && !b->failed; i++) {
    where(w, sizeof w, "%sImageInfoArray[%zu].", at, i);
    append(b, array, image_info(b, &e->image_info[i], w));
  }
  put(b, c, "ImageInfoArray", array);
}

static void file_content(builder *b, json_t *c, const imcast_file_elem *e, const char *at)
{
  char w[96];
  put_opt_str(b, c, "Url", e->url, path(w, sizeof w, at, "Url"));
  put_opt_str(b, c, "UUID", e->uuid, path(w, sizeof w, at, "UUID"));
  put_int(b, c, "FileSize", e->file_size);
  put_opt_str(b, c, "FileName", e->file_name, path(w, sizeof w, at, "FileName"));
  put_int(b, c, "Download_Flag", e->download_flag);
}

static void video_content(builder *b, json_t *c, const imcast_video_file_elem *e,
                          const char *at)
{
  char w[96];
  put_opt_str(b, c, "VideoUrl", e->video_url, path(w, sizeof w, at, "VideoUrl"));
  put_opt_str(b, c, "VideoUUID", e->video_uuid, path(w, sizeof w, at, "VideoUUID"));
  put_int(b, c, "VideoSize", e->video_size);
  put_int(b, c, "VideoSecond", e->video_second);
  put_opt_str(b, c, "VideoFormat", e->video_format, path(w, sizeof w, at, "VideoFormat"));
  put_int(b, c, "VideoDownloadFlag", e->video_download_flag);
  put_opt_str(b, c, "ThumbUrl", e->thumb_url, path(w, sizeof w, at, "ThumbUrl"));
  put_opt_str(b, c, "ThumbUUID", e->thumb_uuid, path(w, sizeof w, at, "ThumbUUID"));
  put_int(b, c, "ThumbSize", e->thumb_size);
  put_int(b, c, "ThumbWidth", e->thumb_width);
  put_int(b, c, "ThumbHeight", e->thumb_height);
  put_opt_str(b, c, "ThumbFormat", e->thumb_format, path(w, sizeof w, at, "ThumbFormat"));
  put_int(b, c, "ThumbDownloadFlag", e->thumb_download_flag);
}

static const char *msg_type_name(imcast_msg_type type)
{
  switch (type) {
  case IMCAST_TEXT_ELEM: return "TIMTextElem";
  case IMCAST_LOCATION_ELEM: return "TIMLocationElem";
  case IMCAST_FACE_ELEM: return "TIMFaceElem";
  case IMCAST_CUSTOM_ELEM: return "TIMCustomElem";
  case IMCAST_SOUND_ELEM: return "TIMSoundElem";
  case IMCAST_IMAGE_ELEM: return "TIMImageElem";
  case IMCAST_FILE_ELEM: return "TIMFileElem";
  case IMCAST_VIDEO_FILE_ELEM: return "TIMVideoFileElem";
  }
  return NULL;
}

static void fill_content(builder *b, json_t *c, const imcast_msg_elem *e, const char *at)
{
  switch (e->type) {
  case IMCAST_TEXT_ELEM: text_content(b, c, &e->text, at); break;
  case IMCAST_LOCATION_ELEM: location_content(b, c, &e->location, at); break;
  case IMCAST_FACE_ELEM: face_content(b, c, &e->face, at); break;
  case IMCAST_CUSTOM_ELEM: custom_content(b, c, &e->custom, at); break;
  case IMCAST_SOUND_ELEM: sound_content(b, c, &e->sound, at); break;
  case IMCAST_IMAGE_ELEM: image_content(b, c, &e->image, at); break;
  case IMCAST_FILE_ELEM: file_content(b, c, &e->file, at); break;
  case IMCAST_VIDEO_FILE_ELEM: video_content(b, c, &e->video_file, at); break;
  }
}

static json_t *msg_elem(builder *b, const imcast_msg_elem *e, size_t index)
{
  char at[64];
  where(at, sizeof at, "MsgBody[%zu]", index);
  const char *type = msg_type_name(e->type);
  if (type == NULL) {
    fail(b, IMCAST_E_INVALID, at, "has an unknown MsgType");
    return NULL;
  }
  where(at, sizeof at, "MsgBody[%zu].MsgContent.", index);
  json_t *elem = json_object();
  json_t *content = json_object();
  put(b, elem, "MsgType", json_string(type));
  fill_content(b, content, e, at);
  put(b, elem, "MsgContent", content);
  return elem;
}

static json_t *msg_body(builder *b, const imcast_msg_elem *body, size_t count)
{
  if (count == 0) {
    fail(b, IMCAST_E_INVALID, "MsgBody", "is empty");
    return NULL;
  }
  if (!check_list(b, body, count, "MsgBody"))
    return NULL;
  json_t *array = json_array();
  for (size_t i = 0; i < count && !b->failed; i++)
    append(b, array, msg_elem(b, &body[i], i));
  return array;
}

/* ----------------------------------------------------- Condition, OfflinePushInfo --- */

static json_t *attr_object(builder *b, const imcast_attr *attrs, size_t count,
                           const char *what)
{
  if (!check_list(b, attrs, count, what))
    return NULL;
  json_t *o = json_object();
  char w[96];
  for (size_t i = 0; i < count && !b->failed; i++) {
    where(w, sizeof w, "%s[%zu].name", what, i);
    if (attrs[i].name == NULL) {
      fail(b, IMCAST_E_INVALID, w, "is missing");
      break;
    }
    where(w, sizeof w, "%s.%s", what, attrs[i].name);
    put(b, o, attrs[i].name, str(b, attrs[i].value, w));
  }
  return o;
}

static void put_tag_list(builder *b, json_t *c, const char *key, const char *const *tags,
                         size_t count)
{
  if (count > 0)
    put(b, c, key, str_array(b, tags, count, key));
}

static void put_attr_list(builder *b, json_t *c, const char *key, const imcast_attr *attrs,
                          size_t count)
{
  if (count > 0)
    put(b, c, key, attr_object(b, attrs, count, key));
}

static int condition_is_empty(const imcast_condition *c)
{
  return c == NULL || (c->tags_and_count == 0 && c->tags_or_count == 0 &&
                       c->attrs_and_count == 0 && c->attrs_or_count == 0);
}

static json_t *condition(builder *b, const imcast_condition *cond)
{
  json_t *c = json_object();
  put_tag_list(b, c, "TagsAnd", cond->tags_and, cond->tags_and_count);
  put_tag_list(b, c, "TagsOr", cond->tags_or, cond->tags_or_count);
  put_attr_list(b, c, "AttrsAnd", cond->attrs_and, cond->attrs_and_count);
  put_attr_list(b, c, "AttrsOr", cond->attrs_or, cond->attrs_or_count);
  return c;
}

static json_t *android_info(builder *b, const imcast_android_info *a)
{
  json_t *o = json_object();
  const char *at = "OfflinePushInfo.AndroidInfo.";
  char w[96];
  put_opt_str(b, o, "Sound", a->sound, path(w, sizeof w, at, "Sound"));
  put_opt_str(b, o, "HuaWeiChannelID", a->huawei_channel_id,
              path(w, sizeof w, at, "HuaWeiChannelID"));
  put_opt_str(b, o, "XiaoMiChannelID", a->xiaomi_channel_id,
              path(w, sizeof w, at, "XiaoMiChannelID"));
  put_opt_str(b, o, "OPPOChannelID", a->oppo_channel_id,
              path(w, sizeof w, at, "OPPOChannelID"));
  put_opt_str(b, o, "GoogleChannelID", a->google_channel_id,
              path(w, sizeof w, at, "GoogleChannelID"));
  put_nonzero_int(b, o, "VIVOClassification", a->vivo_classification);
  put_opt_str(b, o, "HuaWeiImportance", a->huawei_importance,
              path(w, sizeof w, at, "HuaWeiImportance"));
  return o;
}

static json_t *apns_info(builder *b, const imcast_apns_info *a)
{
  json_t *o = json_object();
  const char *at = "OfflinePushInfo.ApnsInfo.";
  char w[96];
  put_opt_str(b, o, "Sound", a->sound, path(w, sizeof w, at, "Sound"));
  put_nonzero_int(b, o, "BadgeMode", a->badge_mode);
  put_opt_str(b, o, "Title", a->title, path(w, sizeof w, at, "Title"));
  put_opt_str(b, o, "SubTitle", a->sub_title, path(w, sizeof w, at, "SubTitle"));
  put_opt_str(b, o, "Image", a->image, path(w, sizeof w, at, "Image"));
  put_nonzero_int(b, o, "MutableContent", a->mutable_content);
  return o;
}

static json_t *offline_push_info(builder *b, const imcast_offline_push_info *p)
{
  json_t *o = json_object();
  put_nonzero_int(b, o, "PushFlag", p->push_flag);
  put_opt_str(b, o, "Title", p->title, "OfflinePushInfo.Title");
  put_opt_str(b, o, "Desc", p->desc, "OfflinePushInfo.Desc");
  put_opt_str(b, o, "Ext", p->ext, "OfflinePushInfo.Ext");
  if (p->android_info != NULL)
    put(b, o, "AndroidInfo", android_info(b, p->android_info));
  if (p->apns_info != NULL)
    put(b, o, "ApnsInfo", apns_info(b, p->apns_info));
  return o;
}

/* ------------------------------------------------------------------- the calls --- */

json_t *sdk_req_push(const imcast_push_request *req, uint32_t msg_random, imcast_error *err)
{
  builder b = {err, 0};
  if (req == NULL) {
    sdk_error_set(err, IMCAST_E_INVALID, "the push request is NULL");
    return NULL;
  }
  json_t *root = json_object();
  put_int(&b, root, "MsgRandom", msg_random);
  put(&b, root, "MsgBody", msg_body(&b, req->msg_body, req->msg_body_count));
  put_int(&b, root, "MsgLifeTime", req->msg_life_time);
  put_opt_str(&b, root, "From_Account", req->from_account, "From_Account");
  if (!condition_is_empty(req->condition))
    put(&b, root, "Condition", condition(&b, req->condition));
  if (req->offline_push_info != NULL)
    put(&b, root, "OfflinePushInfo", offline_push_info(&b, req->offline_push_info));
  return finish(&b, root);
}

json_t *sdk_req_set_attr_name(const char *const names[IMCAST_ATTR_SLOTS], imcast_error *err)
{
  builder b = {err, 0};
  if (names == NULL) {
    sdk_error_set(err, IMCAST_E_INVALID, "AttrNames is NULL");
    return NULL;
  }
  json_t *root = json_object();
  json_t *attr_names = json_object();
  char slot[4], what[32];
  for (int i = 0; i < IMCAST_ATTR_SLOTS; i++) {
    if (names[i] == NULL)
      continue;
    where(slot, sizeof slot, "%d", i);
    where(what, sizeof what, "AttrNames.%d", i);
    put_str(&b, attr_names, slot, names[i], what);
  }
  put(&b, root, "AttrNames", attr_names);
  return finish(&b, root);
}

static json_t *id_list_body(const char *key, const char *const *ids, size_t count,
                            imcast_error *err)
{
  builder b = {err, 0};
  json_t *root = json_object();
  put(&b, root, key, str_array(&b, ids, count, key));
  return finish(&b, root);
}

json_t *sdk_req_to_accounts(const char *const *ids, size_t count, imcast_error *err)
{
  return id_list_body("To_Account", ids, count, err);
}

/* Fills the object of one entry of a per-user list; at is the entry's field path with a
** trailing dot, e.g. "UserTags[2].", for the error messages. */
typedef void (*fill_user_entry_fn)(builder *b, json_t *entry, const void *item,
                                   const char *at);

/* {"<list_key>":[{...},...]}: one object a user, filled by fill from items[i] (entries of
** item_size bytes). The shape of im_set_attr, im_remove_attr, im_add_tag, im_remove_tag,
** account_delete and account_check. */
static json_t *per_user_list_body(const char *list_key, const void *items, size_t item_size,
                                  size_t count, fill_user_entry_fn fill, imcast_error *err)
{
  builder b = {err, 0};
  json_t *root = json_object();
  json_t *list = json_array();
  char at[64];
  if (check_list(&b, items, count, list_key)) {
    for (size_t i = 0; i < count && !b.failed; i++) {
      json_t *entry = json_object();
      where(at, sizeof at, "%s[%zu].", list_key, i);
      fill(&b, entry, (const char *)items + i * item_size, at);
      append(&b, list, entry);
    }
  }
  put(&b, root, list_key, list);
  return finish(&b, root);
}

static void put_to_account(builder *b, json_t *entry, const char *to_account, const char *at)
{
  char w[96];
  put_str(b, entry, "To_Account", to_account, path(w, sizeof w, at, "To_Account"));
}

/* {"To_Account":..,"<key>":[strings]}: an entry of im_remove_attr and of the tag calls. */
static void put_account_strings(builder *b, json_t *entry, const char *to_account,
                                const char *key, const char *const *list, size_t count,
                                const char *at)
{
  char w[96];
  put_to_account(b, entry, to_account, at);
  put(b, entry, key, str_array(b, list, count, path(w, sizeof w, at, key)));
}

static void set_attr_entry(builder *b, json_t *entry, const void *item, const char *at)
{
  const imcast_user_attrs *u = item;
  char w[96];
  put_to_account(b, entry, u->to_account, at);
  path(w, sizeof w, at, "Attrs");
  put(b, entry, "Attrs", attr_object(b, u->attrs, u->attr_count, w));
}

static void remove_attr_entry(builder *b, json_t *entry, const void *item, const char *at)
{
  const imcast_user_attr_names *u = item;
  put_account_strings(b, entry, u->to_account, "Attrs", u->names, u->name_count, at);
}

static void user_tags_entry(builder *b, json_t *entry, const void *item, const char *at)
{
  const imcast_user_tags *u = item;
  put_account_strings(b, entry, u->to_account, "Tags", u->tags, u->tag_count, at);
}

static void user_id_entry(builder *b, json_t *entry, const void *item, const char *at)
{
  const char *const *user_id = item;
  char w[96];
  put_str(b, entry, "UserID", *user_id, path(w, sizeof w, at, "UserID"));
}

json_t *sdk_req_set_attr(const imcast_user_attrs *items, size_t count, imcast_error *err)
{
  return per_user_list_body("UserAttrs", items, sizeof *items, count, set_attr_entry, err);
}

json_t *sdk_req_remove_attr(const imcast_user_attr_names *items, size_t count,
                            imcast_error *err)
{
  return per_user_list_body("UserAttrs", items, sizeof *items, count, remove_attr_entry, err);
}

json_t *sdk_req_user_tags(const imcast_user_tags *items, size_t count, imcast_error *err)
{
  return per_user_list_body("UserTags", items, sizeof *items, count, user_tags_entry, err);
}

static json_t *one_string_body(const char *key, const char *value, imcast_error *err)
{
  builder b = {err, 0};
  json_t *root = json_object();
  put_str(&b, root, key, value, key);
  return finish(&b, root);
}

json_t *sdk_req_task(const char *task_id, imcast_error *err)
{
  return one_string_body("TaskId", task_id, err);
}

json_t *sdk_req_audience(const imcast_condition *cond, imcast_error *err)
{
  builder b = {err, 0};
  json_t *root = json_object();
  if (!condition_is_empty(cond))
    put(&b, root, "Condition", condition(&b, cond));
  return finish(&b, root);
}

json_t *sdk_req_account_import(const imcast_account *account, imcast_error *err)
{
  builder b = {err, 0};
  if (account == NULL) {
    sdk_error_set(err, IMCAST_E_INVALID, "the account is NULL");
    return NULL;
  }
  json_t *root = json_object();
  put_str(&b, root, "UserID", account->user_id, "UserID");
  put_opt_str(&b, root, "Nick", account->nick, "Nick");
  put_opt_str(&b, root, "FaceUrl", account->face_url, "FaceUrl");
  return finish(&b, root);
}

json_t *sdk_req_multi_import(const char *const *ids, size_t count, imcast_error *err)
{
  return id_list_body("Accounts", ids, count, err);
}

json_t *sdk_req_user_items(const char *list_key, const char *const *ids, size_t count,
                           imcast_error *err)
{
  return per_user_list_body(list_key, ids, sizeof *ids, count, user_id_entry, err);
}

json_t *sdk_req_kick(const char *user_id, imcast_error *err)
{
  return one_string_body("UserID", user_id, err);
}

json_t *sdk_req_query_state(const char *const *ids, size_t count, int need_detail,
                            imcast_error *err)
{
  builder b = {err, 0};
  json_t *root = json_object();
  put(&b, root, "To_Account", str_array(&b, ids, count, "To_Account"));
  if (need_detail)
    put_int(&b, root, "IsNeedDetail", 1);
  return finish(&b, root);
}
