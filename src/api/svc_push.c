/*
** svc_push.c — im_push and its extensions: the push report, revoke, and the audience dry
** run (service all_member_push).
**
** im_push validates the whole request (rest-api.md §4.1), returns the first TaskId for a
** repeated (sender, MsgRandom) within 7 days without pushing again, applies the optional
** rate limits, fixes the audience as a bitmap, stores ONE record when MsgLifeTime > 0, and
** answers once that record is committed. Live delivery runs right after the commit
** (receivers.c), so no receiver ever holds a push whose OK could still be lost.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "common/json_span.h"
#include "common/text.h"

#define MAX_CONDITION_TAGS 10
#define MAX_LIFETIME_S 604800
#define MAX_LIVE_PUSHES_DEFAULT 10000

/* ------------------------------------------------------------------ Condition */

/* A validated Condition, ready for audience_compute(). Strings point into the request. */
typedef struct condition {
  const char *tags_and[MAX_CONDITION_TAGS], *tags_or[MAX_CONDITION_TAGS];
  size_t n_tags_and, n_tags_or;
  audience_attr attrs_and[DIR_ATTR_SLOTS], attrs_or[DIR_ATTR_SLOTS];
  size_t n_attrs_and, n_attrs_or;
  char values[2 * DIR_ATTR_SLOTS][64];   /* numbers and booleans as text */
  size_t n_values;
  json_t *merged;                        /* owns the merged Condition object */
} condition;

static void condition_free(condition *q) { json_decref(q->merged); }

static audience_query condition_query(const condition *q)
{
  audience_query aq = {q->tags_and, q->n_tags_and, q->tags_or, q->n_tags_or,
                       q->attrs_and, q->n_attrs_and, q->attrs_or, q->n_attrs_or};
  return aq;
}

/* Adds a Condition member to the merged object (official SDK: Condition as an array of
** objects, merged as one). Takes over the reference `from`. */
static void merge_member(json_t *into, const char *key, json_t *from)
{
  json_t *have = json_object_get(into, key);
  if (json_is_array(have) && json_is_array(from)) { /* each is false for NULL */
    json_array_extend(have, from);
    json_decref(from);
  } else if (json_is_object(have) && json_is_object(from)) {
    json_object_update(have, from);
    json_decref(from);
  } else {
    json_object_set_new(into, key, from);   /* mismatched shapes: validation will say so */
  }
}

/* The Condition as one object whose members are never null (NULL when it is absent or
** empty); false after failing the call. */
static bool merged_condition(api_call *c, json_t **out)
{
  static const char *const keys[] = {"TagsAnd", "TagsOr", "AttrsAnd", "AttrsOr"};
  json_t *cond = api_field(c->body, "Condition");
  *out = NULL;
  if (!cond) return true;
  json_t *parts = json_is_array(cond) ? json_incref(cond) : json_pack("[O]", cond);
  json_t *merged = json_object();
  size_t i;
  json_t *part;
  json_array_foreach(parts, i, part) {
    if (json_is_null(part)) continue;
    if (!json_is_object(part)) {
      api_fail(c, IMC_E_JSON, "Condition%s must be an object, not %s",
               json_is_array(cond) ? "[...]" : "", api_json_type(part));
      json_decref(parts);
      json_decref(merged);
      return false;
    }
    for (size_t k = 0; k < 4; k++) {
      json_t *member = api_field(part, keys[k]);
      if (member) merge_member(merged, keys[k], json_deep_copy(member));
    }
  }
  json_decref(parts);
  *out = merged;
  return true;
}

/* True when a member is present and not empty (empty arrays and objects are absent). */
static bool present(const json_t *v)
{
  if (!v) return false;
  if (json_is_array(v)) return json_array_size(v) > 0;
  if (json_is_object(v)) return json_object_size(v) > 0;
  return true;
}

static bool read_tags(api_call *c, json_t *list, const char *key, const char **out, size_t *n)
{
  if (!present(list)) return true;
  if (!json_is_array(list)) {
    api_fail(c, IMC_E_JSON, "Condition.%s must be an array of tags, not %s", key,
             api_json_type(list));
    return false;
  }
  size_t i;
  json_t *tag;
  json_array_foreach(list, i, tag) {
    if (!json_is_string(tag)) {
      api_fail(c, IMC_E_TAG_TOO_LONG, "Condition.%s[%zu] must be a string tag, not %s", key, i,
               api_json_type(tag));
      return false;
    }
    size_t len = json_string_length(tag);
    if (len == 0) {
      api_fail(c, IMC_E_EMPTY_TAG, "Condition.%s[%zu] is an empty tag", key, i);
      return false;
    }
    if (len > TAG_MAX_BYTES) {
      api_fail(c, IMC_E_TAG_TOO_LONG, "Condition.%s[%zu] is %zu bytes; a tag is at most %d",
               key, i, len, TAG_MAX_BYTES);
      return false;
    }
    if (*n == MAX_CONDITION_TAGS) {
      api_fail(c, IMC_E_TOO_MANY_TAGS, "Condition names more than %d tags (TagsAnd and TagsOr "
               "together)", MAX_CONDITION_TAGS);
      return false;
    }
    out[(*n)++] = json_string_value(tag);
  }
  return true;
}

static bool read_attrs(api_call *c, condition *q, json_t *obj, const char *key,
                       audience_attr *out, size_t *n)
{
  if (!present(obj)) return true;
  if (!json_is_object(obj)) {
    api_fail(c, IMC_E_BAD_ATTR, "Condition.%s must be an object of name -> value, not %s",
             key, api_json_type(obj));
    return false;
  }
  const char *name;
  json_t *v;
  json_object_foreach(obj, name, v) {
    int slot = directory_attr_slot(c->api->dir, name);
    if (slot < 0) {
      api_fail(c, IMC_E_BAD_ATTR, "Condition.%s: attribute '%.60s' is not defined "
               "(set it with im_set_attr_name)", key, name);
      return false;
    }
    const char *text = NULL;
    if (json_is_string(v)) {
      text = json_string_value(v);
    } else if (json_is_number(v) || json_is_boolean(v)) {
      char *dumped = json_dumps(v, JSON_ENCODE_ANY);
      size_t dlen = dumped ? strlen(dumped) : 0;
      if (dumped && dlen < sizeof q->values[0])
        text = memcpy(q->values[q->n_values++], dumped, dlen + 1);
      free(dumped);
    }
    if (!text || !*text || strlen(text) > ATTR_MAX_BYTES) {
      api_fail(c, IMC_E_BAD_ATTR, "Condition.%s.%.60s must be a value of 1..%d bytes", key,
               name, ATTR_MAX_BYTES);
      return false;
    }
    out[*n].slot = slot;
    out[(*n)++].value = text;
  }
  return true;
}

/* Validates the Condition by Tencent's rules, in Tencent's order of codes. */
static bool parse_condition(api_call *c, condition *q)
{
  memset(q, 0, sizeof *q);
  if (!merged_condition(c, &q->merged)) return false;
  if (!q->merged) return true;
  json_t *ta = json_object_get(q->merged, "TagsAnd"), *to = json_object_get(q->merged, "TagsOr");
  json_t *aa = json_object_get(q->merged, "AttrsAnd"), *ao = json_object_get(q->merged, "AttrsOr");
  if ((present(ta) || present(to)) && (present(aa) || present(ao)))
    return api_fail(c, IMC_E_TAGS_AND_ATTRS, "Condition mixes tag conditions (TagsAnd/TagsOr) "
                    "with attribute conditions (AttrsAnd/AttrsOr)"), false;
  size_t total = 0;
  if (!read_tags(c, ta, "TagsAnd", q->tags_and, &q->n_tags_and)) return false;
  total = q->n_tags_and;
  if (!read_tags(c, to, "TagsOr", q->tags_or, &q->n_tags_or)) return false;
  if (total + q->n_tags_or > MAX_CONDITION_TAGS)
    return api_fail(c, IMC_E_TOO_MANY_TAGS, "Condition names %zu tags (TagsAnd and TagsOr "
                    "together); at most %d", total + q->n_tags_or, MAX_CONDITION_TAGS), false;
  for (size_t i = 0; i < q->n_tags_and; i++)
    for (size_t j = 0; j < q->n_tags_or; j++)
      if (strcmp(q->tags_and[i], q->tags_or[j]) == 0)
        return api_fail(c, IMC_E_TAG_IN_BOTH, "tag '%s' is in both TagsAnd and TagsOr",
                        q->tags_and[i]), false;
  return read_attrs(c, q, aa, "AttrsAnd", q->attrs_and, &q->n_attrs_and) &&
         read_attrs(c, q, ao, "AttrsOr", q->attrs_or, &q->n_attrs_or);
}

/* ------------------------------------------------------------------ the message */

static const char *const msg_types[] = {
  "TIMTextElem", "TIMLocationElem", "TIMFaceElem", "TIMCustomElem",
  "TIMSoundElem", "TIMImageElem", "TIMFileElem", "TIMVideoFileElem",
};

static bool known_msg_type(const char *type)
{
  for (size_t i = 0; i < sizeof msg_types / sizeof msg_types[0]; i++)
    if (strcmp(msg_types[i], type) == 0) return true;
  return false;
}

/* MsgBody: a non-empty array of {"MsgType": known, "MsgContent": {...}}, at most one
** TIMCustomElem. MsgContent is kept verbatim. */
static json_t *parse_msg_body(api_call *c)
{
  json_t *body = api_field(c->body, "MsgBody");
  if (!body || !json_is_array(body))
    return api_fail(c, IMC_E_MSGBODY_TYPE, "MsgBody must be an array of message elements%s",
                    body ? "" : " (it is missing)"), NULL;
  if (json_array_size(body) == 0)
    return api_fail(c, IMC_E_MSGBODY_MALFORMED, "MsgBody is empty"), NULL;
  size_t customs = 0, i;
  json_t *elem;
  json_array_foreach(body, i, elem) {
    json_t *type = json_is_object(elem) ? api_field(elem, "MsgType") : NULL;
    json_t *content = json_is_object(elem) ? api_field(elem, "MsgContent") : NULL;
    if (!json_is_string(type) || !json_is_object(content))
      return api_fail(c, IMC_E_MSGBODY_MALFORMED, "MsgBody[%zu] must be {\"MsgType\":string,"
                      "\"MsgContent\":object}", i), NULL;
    if (!known_msg_type(json_string_value(type)))
      return api_fail(c, IMC_E_BAD_ELEM, "MsgBody[%zu].MsgType '%.40s' is not a known element "
                      "type", i, json_string_value(type)), NULL;
    if (strcmp(json_string_value(type), "TIMCustomElem") == 0 && ++customs > 1)
      return api_fail(c, IMC_E_BAD_ELEM, "MsgBody[%zu]: at most one TIMCustomElem per "
                      "message", i), NULL;
  }
  return body;
}

/* An optional integer field in [lo, hi]; false after failing with `code`. */
static bool integer_field(api_call *c, const char *key, bool required, json_int_t lo,
                          json_int_t hi, int code, json_int_t *out)
{
  json_t *v = api_field(c->body, key);
  if (!v && !required) return true;
  if (!v)
    return api_fail(c, code, "%s is missing", key), false;
  if (!json_is_integer(v))
    return api_fail(c, code, "%s must be an integer, not %s", key, api_json_type(v)), false;
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi)
    return api_fail(c, code, "%s is %lld; it must be %lld..%lld", key, (long long)n,
                    (long long)lo, (long long)hi), false;
  *out = n;
  return true;
}

/* From_Account: absent = the calling admin; given = an imported account or an admin. */
static const char *parse_sender(api_call *c, const char *admin)
{
  json_t *from = api_field(c->body, "From_Account");
  if (!from) return admin;
  if (!json_is_string(from))
    return api_fail(c, IMC_E_NOT_IMPORTED, "From_Account must be a string UserID, not %s",
                    api_json_type(from)), NULL;
  const char *id = json_string_value(from);
  if (api_find_account(c->api, id) == DIR_UID_NONE && !api_is_admin(c->api, id))
    return api_fail(c, IMC_E_NOT_IMPORTED, "From_Account '%.64s' is not an imported account "
                    "or an admin", id), NULL;
  return id;
}

typedef struct push_request {
  json_int_t msg_random, lifetime;
  json_t *msg_body;
  json_t *offline_push_info;   /* NULL when absent */
  const char *sender;
  condition cond;
} push_request;

static bool parse_push(api_call *c, push_request *r)
{
  memset(r, 0, sizeof *r);
  if (!integer_field(c, "MsgRandom", true, 0, 4294967295LL, IMC_E_MSGRANDOM, &r->msg_random))
    return false;
  if (!(r->msg_body = parse_msg_body(c))) return false;
  if (!integer_field(c, "MsgLifeTime", false, 0, MAX_LIFETIME_S, IMC_E_MSGLIFETIME, &r->lifetime))
    return false;
  if (!(r->sender = parse_sender(c, c->identifier))) return false;
  r->offline_push_info = api_field(c->body, "OfflinePushInfo");
  if (r->offline_push_info && !json_is_object(r->offline_push_info))
    return api_fail(c, IMC_E_JSON, "OfflinePushInfo must be an object, not %s",
                    api_json_type(r->offline_push_info)), false;
  return parse_condition(c, &r->cond);
}

/* The raw JSON text of a body member, or (when it cannot be located as written, e.g. an
** escaped key or a merged form) its re-serialization. Free with free(). */
static char *member_text(const api_call *c, const char *key, const json_t *parsed)
{
  size_t off, len;
  if (c->body_text && json_member_span(c->body_text, c->body_len, key, &off, &len))
    return strndup(c->body_text + off, len);
  return json_dumps(parsed, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The receiver's Msg event, serialized once for every receiver (no To_Account: the bytes
** are shared, and each client knows who it is — docs/client-protocol.md). MsgBody and
** OfflinePushInfo are forwarded byte for byte as the caller wrote them. */
static char *msg_event(const api_call *c, const push_request *r, uint64_t seq,
                       const char *task_id, int64_t now)
{
  json_t *sender_json = json_string(r->sender);
  char *sender = json_dumps(sender_json, JSON_ENCODE_ANY);
  json_decref(sender_json);
  char *body = member_text(c, "MsgBody", r->msg_body);
  char *info = r->offline_push_info ? member_text(c, "OfflinePushInfo", r->offline_push_info)
                                    : NULL;
  if (!sender || !body || (r->offline_push_info && !info)) api_out_of_memory();
  char *text = NULL;
  int n = asprintf(&text, "{\"Event\":\"Msg\",\"Seq\":%llu,\"TaskId\":\"%s\",\"From_Account\":%s,"
                   "\"MsgRandom\":%lld,\"MsgTime\":%lld,\"MsgBody\":%s%s%s}",
                   (unsigned long long)seq, task_id, sender, (long long)r->msg_random,
                   (long long)now, body, info ? ",\"OfflinePushInfo\":" : "", info ? info : "");
  free(sender);
  free(body);
  free(info);
  if (n < 0) api_out_of_memory();
  return text;
}

/* ------------------------------------------------------------------ rate limits */

static bool within_rate_limits(api_call *c, int64_t now)
{
  api *a = c->api;
  uint64_t now_ms = uv_now(a->loop);
  if (a->opts.push_min_interval_ms && a->last_push_ms &&
      now_ms - a->last_push_ms < a->opts.push_min_interval_ms)
    return api_fail(c, IMC_E_PUSH_TOO_OFTEN, "pushes must be at least %llu ms apart",
                    (unsigned long long)a->opts.push_min_interval_ms), false;
  if (a->quota_day != now / 86400) {
    a->quota_day = now / 86400;
    a->quota_used = 0;
  }
  if (a->opts.push_daily_quota && a->quota_used >= a->opts.push_daily_quota)
    return api_fail(c, IMC_E_DAILY_QUOTA, "the daily quota of %llu pushes is used up (UTC day)",
                    (unsigned long long)a->opts.push_daily_quota), false;
  uint64_t cap = a->opts.max_live_pushes ? a->opts.max_live_pushes : MAX_LIVE_PUSHES_DEFAULT;
  if (push_registry_count(a->pushes) >= cap)
    return api_fail(c, IMC_E_PUSH_TOO_OFTEN, "%llu pushes are alive, the most this server keeps; "
                    "retry when some expire or use a shorter MsgLifeTime",
                    (unsigned long long)cap), false;
  return true;
}

static void count_push(api *a)
{
  a->last_push_ms = uv_now(a->loop);
  a->quota_used++;
}

/* ------------------------------------------------------------------ im_push */

static push *new_push(const api_call *c, const push_request *r, uint64_t seq,
                      const char *task_id, int64_t now, roaring_bitmap_t *audience)
{
  push *p = calloc(1, sizeof *p);
  if (!p) api_out_of_memory();
  p->seq = seq;
  snprintf(p->task_id, sizeof p->task_id, "%s", task_id);
  p->msg_random = (uint32_t)r->msg_random;
  p->sender = strdup(r->sender);
  p->created_at = now;
  p->expires_at = now + r->lifetime;
  p->msg_json = msg_event(c, r, seq, task_id, now);
  p->msg_len = strlen(p->msg_json);
  p->audience = audience;
  p->delivered = roaring_bitmap_create();
  p->state = PUSH_FANNING_OUT;
  if (!p->sender || !p->delivered) api_out_of_memory();
  return p;
}

static bool save_push(api_call *c, const push *p, bool stored)
{
  api *a = c->api;
  char next[24];
  snprintf(next, sizeof next, "%llu", (unsigned long long)p->seq + 1);
  if (!api_store_ok(c, store_meta_put(a->st, "next_seq", next))) return false;
  if (!api_store_ok(c, store_put_retry(a->st, p->sender, p->msg_random, p->task_id,
                                       p->created_at)))
    return false;
  if (!stored) return true;
  store_push sp = {.seq = p->seq, .task_id = p->task_id, .msg_random = p->msg_random,
                   .sender = p->sender, .created_at = p->created_at,
                   .expires_at = p->expires_at, .state = p->state, .msg_json = p->msg_json,
                   .msg_len = p->msg_len, .audience = p->audience, .delivered = p->delivered};
  return api_store_ok(c, store_put_push(a->st, &sp));
}

void svc_im_push(api_call *c)
{
  api *a = c->api;
  push_request r;
  if (!parse_push(c, &r)) goto out;
  int64_t now = (int64_t)time(NULL);
  const char *first = push_registry_seen(a->pushes, r.sender, (uint32_t)r.msg_random, now);
  if (first) {                        /* a retry: the same answer, nothing pushed again */
    a->metrics.push_retries++;
    json_object_set_new(c->reply, "TaskId", json_string(first));
    goto out;
  }
  if (!within_rate_limits(c, now)) goto out;

  audience_query q = condition_query(&r.cond);
  roaring_bitmap_t *audience = audience_compute(a->dir, &q);
  if (!audience) api_out_of_memory();
  uint64_t seq = push_registry_next_seq(a->pushes);
  char task_id[PUSH_TASK_ID_MAX];
  push_make_task_id(task_id, now, a->opts.sdkappid, seq, (uint32_t)r.msg_random);
  push *p = new_push(c, &r, seq, task_id, now, audience);
  bool stored = r.lifetime > 0;

  if (api_write_begin(c)) {
    push_free(p, api_free_frame);
    goto out;
  }
  if (!save_push(c, p, stored)) {
    api_write_end(c, false);
    push_free(p, api_free_frame);
    goto out;
  }
  api_write_end(c, true);
  push_registry_bump_seq(a->pushes, seq + 1);
  if (push_registry_remember(a->pushes, p->sender, p->msg_random, task_id, now) != 0)
    api_out_of_memory();
  if (stored && push_registry_add(a->pushes, p) != 0) api_out_of_memory();
  receivers_queue_fanout(a, p, !stored, c->started_ns);
  count_push(a);
  a->metrics.pushes++;
  json_object_set_new(c->reply, "TaskId", json_string(task_id));
out:
  condition_free(&r.cond);
}

/* ------------------------------------------------------------------ extensions */

static push *task_param(api_call *c)
{
  json_t *id = api_field(c->body, "TaskId");
  if (!json_is_string(id))
    return api_fail(c, IMC_E_UNKNOWN_TASK, "TaskId must be a string%s",
                    id ? "" : " (it is missing)"), NULL;
  push *p = push_registry_find_task(c->api->pushes, json_string_value(id));
  if (!p)
    api_fail(c, IMC_E_UNKNOWN_TASK, "TaskId '%.64s' is unknown or expired (MsgLifeTime 0 "
             "pushes are not kept)", json_string_value(id));
  return p;
}

static const char *state_name(const push *p, int64_t now)
{
  if (p->state == PUSH_REVOKED) return "Revoked";
  if (p->state == PUSH_EXPIRED || now >= p->expires_at) return "Expired";
  return p->state == PUSH_FANNING_OUT ? "FanningOut" : "Done";
}

void svc_get_push_report(api_call *c)
{
  push *p = task_param(c);
  if (!p) return;
  int64_t now = (int64_t)time(NULL);
  uint64_t audience = push_audience_count(p), delivered = push_delivered_count(p);
  const char *state = state_name(p, now);
  bool alive = strcmp(state, "Done") == 0 || strcmp(state, "FanningOut") == 0;
  json_t *r = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "TaskId", p->task_id,
                        "State", state, "Audience", (json_int_t)audience, "OnlineAtPush",
                        (json_int_t)p->online_at_push, "Delivered", (json_int_t)delivered,
                        "Pending", (json_int_t)(alive ? audience - delivered : 0),
                        "CreatedAt", (json_int_t)p->created_at, "ExpiresAt",
                        (json_int_t)p->expires_at, "FanoutDoneAt", (json_int_t)p->fanout_done_at);
  json_object_update(c->reply, r);
  json_decref(r);
}

void svc_revoke(api_call *c)
{
  push *p = task_param(c);
  if (!p || p->state == PUSH_REVOKED) return;   /* revoking twice is a success */
  if (api_write_begin(c)) return;
  bool ok = api_store_ok(c, store_del_push(c->api->st, p->seq));
  api_write_end(c, ok);
  if (!ok) return;
  receivers_revoke(c->api, p);
  c->api->metrics.revoked++;
  /* The record stays (without its message) until it would have expired, so that its
  ** report still answers "Revoked"; catch-up skips it. */
  p->state = PUSH_REVOKED;
  free(p->msg_json);
  p->msg_json = NULL;
  p->msg_len = 0;
  if (p->frame) {
    api_free_frame(p->frame);
    p->frame = NULL;
  }
}

void svc_get_audience(api_call *c)
{
  condition q;
  if (parse_condition(c, &q)) {
    audience_query aq = condition_query(&q);
    roaring_bitmap_t *audience = audience_compute(c->api->dir, &aq);
    if (!audience) api_out_of_memory();
    uint64_t online = roaring_bitmap_and_cardinality(audience, sessions_online(c->api->online));
    json_object_set_new(c->reply, "Audience",
                        json_integer((json_int_t)roaring_bitmap_get_cardinality(audience)));
    json_object_set_new(c->reply, "Online", json_integer((json_int_t)online));
    roaring_bitmap_free(audience);
  }
  condition_free(&q);
}
