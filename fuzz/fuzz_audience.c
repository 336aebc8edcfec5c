/*
** fuzz_audience.c — the Condition -> audience compiler: im_get_audience through the api
** (svc_push.c's Condition parsing and merging, then core/audience.c over core/directory.c),
** and audience_compute directly, against a brute-force model of docs/rest-api.md §4.1.
**
** Input: byte 0 = the number of accounts (1 + byte % 48); 3 bytes per account: its tags (a
** bit per tag of TAGS), its attribute values (2 bits per slot, 0 = none), and churn (what
** happens to it after all are made: removed, tags cleared, a tag removed, an attribute
** removed, or re-imported under a new uid). The rest builds the Condition, one op per byte
** (low 4 bits the op, high 4 bits its argument; see build_condition).
** The directory is built from scratch for each input and lent to the process's api for one
** im_get_audience call (the api's own directory is put back after).
**
** Checked: the api's code is the one the contract gives for the first rule broken (or 0),
** its Audience is the brute-force count over the model and Online is 0 (no receivers);
** audience_compute on the same (valid) query gives exactly the model's set; the directory's
** indexes (tag members, attribute members, all accounts) agree with the model.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audience.h"
#include "core/directory.h"
#include "harness.h"

#define MAX_ACCOUNTS 48
#define N_TAGS 8
#define N_SLOTS 4

static const char *const TAGS[N_TAGS] = {"a", "b", "c", "vip", "标签", "t5",
                                         "0123456789012345678901234567890123456789012345678X",
                                         "t 7"};
/* Tags a Condition may name: the accounts' ones and others. */
static const char *const COND_TAGS[16] = {
  "a", "b", "c", "vip", "标签", "t5", "0123456789012345678901234567890123456789012345678X", "t 7",
  "zz", "", "0123456789012345678901234567890123456789012345678XY", "A", "a ", "t5", "b", "é"};
static const char *const SLOT_NAMES[N_SLOTS] = {"sex", "city", "level", "vip"};
static const char *const COND_NAMES[8] = {"sex", "city", "level", "vip", "nope", "Sex", "", "sex"};
/* Users' values per slot (index 1..3; 0 = none). */
static const char *const USER_VALUES[N_SLOTS][4] = {
  {NULL, "F", "M", "3"}, {NULL, "SZ", "深圳", "true"}, {NULL, "3", "3.5", "F"},
  {NULL, "true", "M", "3.5"}};

typedef struct account {
  bool alive;
  uint32_t uid;
  char id[16];
  uint8_t tags;                  /* bit i: has TAGS[i] */
  const char *value[N_SLOTS];
} account;

static account model[MAX_ACCOUNTS];
static size_t n_model;

/* A Condition value (attribute value) from a 4-bit index. */
static json_t *cond_value(unsigned k)
{
  switch (k & 15) {
    case 0: return json_string("F");
    case 1: return json_string("M");
    case 2: return json_string("SZ");
    case 3: return json_string("3");
    case 4: return json_integer(3);
    case 5: return json_true();
    case 6: return json_string("");
    case 7: return json_string("012345678901234567890123456789012345678901234567890");
    case 8: return json_real(3.5);
    case 9: return json_pack("{s:i}", "x", 1);
    case 10: return json_string("深圳");
    case 11: return json_false();
    case 12: return json_null();
    case 13: return json_string("true");
    case 14: return json_pack("[s]", "F");
    default: return json_string("3.5");
  }
}

/* ---------------------------------------------------------------- the directory */

static directory *build_directory(const uint8_t **pp, const uint8_t *end)
{
  const uint8_t *p = *pp;
  directory *d = directory_new();
  if (!d) abort();
  for (int s = 0; s < N_SLOTS; s++)
    if (directory_set_attr_name(d, s, SLOT_NAMES[s]) != 0) fz_fail("set_attr_name");
  n_model = p < end ? 1 + *p++ % MAX_ACCOUNTS : 1;
  uint8_t churn[MAX_ACCOUNTS];
  for (size_t i = 0; i < n_model; i++) {
    account *a = &model[i];
    memset(a, 0, sizeof *a);
    a->alive = true;
    a->uid = (uint32_t)i * 3 + 1;   /* sparse, as after deletions */
    snprintf(a->id, sizeof a->id, "u%zu", i);
    a->tags = p < end ? *p++ : 0;
    uint8_t vals = p < end ? *p++ : 0;
    churn[i] = p < end ? *p++ : 0;
    if (directory_add_account(d, a->uid, a->id) != 0) fz_fail("add_account");
    for (int t = 0; t < N_TAGS; t++)
      if (a->tags >> t & 1 && directory_add_tag(d, a->uid, TAGS[t]) != 1) fz_fail("add_tag");
    for (int s = 0; s < N_SLOTS; s++) {
      a->value[s] = USER_VALUES[s][vals >> (2 * s) & 3];
      if (a->value[s] && directory_set_attr(d, a->uid, s, a->value[s]) != 0) fz_fail("set_attr");
    }
  }
  uint32_t next = (uint32_t)n_model * 3 + 1;
  for (size_t i = 0; i < n_model; i++) {
    account *a = &model[i];
    unsigned arg = churn[i] >> 3;
    switch (churn[i] & 7) {
      case 1: /* deleted */
        if (directory_remove_account(d, a->uid) != 0) fz_fail("remove_account");
        a->alive = false;
        break;
      case 2: /* every tag removed */
        if (directory_remove_all_tags(d, a->uid) != __builtin_popcount(a->tags))
          fz_fail("remove_all_tags count");
        a->tags = 0;
        break;
      case 3: { /* one tag removed (or a tag it does not have) */
        int t = arg % N_TAGS;
        if (directory_remove_tag(d, a->uid, TAGS[t]) != (a->tags >> t & 1)) fz_fail("remove_tag");
        a->tags &= (uint8_t)~(1u << t);
        break;
      }
      case 4: { /* one attribute removed */
        int s = arg % N_SLOTS;
        if (directory_remove_attr(d, a->uid, s) != (a->value[s] != NULL)) fz_fail("remove_attr");
        a->value[s] = NULL;
        break;
      }
      case 5: /* deleted and imported again: a new uid, nothing kept */
        if (directory_remove_account(d, a->uid) != 0) fz_fail("remove_account");
        a->uid = next++;
        a->tags = 0;
        memset(a->value, 0, sizeof a->value);
        if (directory_add_account(d, a->uid, a->id) != 0) fz_fail("re-add");
        break;
      case 6: { /* an attribute changed */
        int s = arg % N_SLOTS;
        a->value[s] = USER_VALUES[s][1 + (arg / N_SLOTS) % 3];
        if (directory_set_attr(d, a->uid, s, a->value[s]) != 0) fz_fail("set_attr");
        break;
      }
      default:
        break;
    }
  }
  *pp = p;
  return d;
}

/* The directory's indexes against the model. */
static void check_directory(const directory *d)
{
  size_t alive = 0;
  for (size_t i = 0; i < n_model; i++) {
    const account *a = &model[i];
    if (!a->alive) {
      if (directory_find(d, a->id) != DIR_UID_NONE) fz_fail("deleted %s still found", a->id);
      continue;
    }
    alive++;
    if (directory_find(d, a->id) != a->uid) fz_fail("%s: wrong uid", a->id);
    if (!roaring_bitmap_contains(directory_all(d), a->uid)) fz_fail("%s not in all", a->id);
    size_t n;
    directory_tags(d, a->uid, &n);
    if (n != (size_t)__builtin_popcount(a->tags)) fz_fail("%s: %zu tags, model %d", a->id, n, __builtin_popcount(a->tags));
    for (int t = 0; t < N_TAGS; t++) {
      const roaring_bitmap_t *m = directory_tag_members(d, TAGS[t]);
      bool in = m && roaring_bitmap_contains(m, a->uid);
      if (in != (a->tags >> t & 1) || directory_has_tag(d, a->uid, TAGS[t]) != in)
        fz_fail("%s: tag index of '%s' disagrees", a->id, TAGS[t]);
    }
    for (int s = 0; s < N_SLOTS; s++) {
      const char *v = directory_attr_value(d, a->uid, s);
      if ((v == NULL) != (a->value[s] == NULL) || (v && strcmp(v, a->value[s])))
        fz_fail("%s: slot %d value disagrees", a->id, s);
      for (int k = 1; k < 4; k++) {
        const roaring_bitmap_t *m = directory_attr_members(d, s, USER_VALUES[s][k]);
        bool in = m && roaring_bitmap_contains(m, a->uid);
        if (in != (a->value[s] && strcmp(a->value[s], USER_VALUES[s][k]) == 0))
          fz_fail("%s: attribute index of slot %d '%s' disagrees", a->id, s, USER_VALUES[s][k]);
      }
    }
  }
  if (roaring_bitmap_get_cardinality(directory_all(d)) != alive ||
      directory_account_count(d) != alive)
    fz_fail("%zu accounts in the model, %llu in the directory", alive,
            (unsigned long long)roaring_bitmap_get_cardinality(directory_all(d)));
}

/* ---------------------------------------------------------------- the Condition */

/* Ops (low 4 bits; high 4 bits = arg):
**  0 TagsAnd += COND_TAGS[arg]        1 TagsOr += COND_TAGS[arg]
**  2 AttrsAnd[COND_NAMES[arg&7]] = value of the next byte   3 the same for AttrsOr
**  4 start a new part (the Condition becomes an array)      5 a null part
**  6 the current part's member arg&3 becomes null / [] / {} / "x" (by arg>>2)
**  7 a part that is not an object (arg: 1, "x", [])          8 Condition itself: null/[]/{}/"s"
**  others: nothing */
static const char *const MEMBERS[4] = {"TagsAnd", "TagsOr", "AttrsAnd", "AttrsOr"};

static json_t *build_condition(const uint8_t *p, const uint8_t *end)
{
  json_t *parts = json_array(), *cur = json_object();
  json_t *whole = NULL;  /* op 8 */
  bool as_array = false;
  json_array_append_new(parts, cur);
  for (; p < end; p++) {
    unsigned op = *p & 15, arg = *p >> 4;
    json_t *m;
    switch (op) {
      case 0: case 1:
        m = json_object_get(cur, MEMBERS[op]);
        if (!json_is_array(m)) json_object_set_new(cur, MEMBERS[op], m = json_array());
        json_array_append_new(m, json_string(COND_TAGS[arg]));
        break;
      case 2: case 3: {
        m = json_object_get(cur, MEMBERS[op]);
        if (!json_is_object(m)) json_object_set_new(cur, MEMBERS[op], m = json_object());
        unsigned v = p + 1 < end ? *++p : 0;
        json_object_set_new(m, COND_NAMES[arg & 7], cond_value(v));
        break;
      }
      case 4:
        cur = json_object();
        json_array_append_new(parts, cur);
        as_array = true;
        break;
      case 5:
        json_array_append_new(parts, json_null());
        as_array = true;
        break;
      case 6: {
        json_t *v = (arg >> 2) == 0 ? json_null() : (arg >> 2) == 1 ? json_array()
                  : (arg >> 2) == 2 ? json_object() : json_string("x");
        json_object_set_new(cur, MEMBERS[arg & 3], v);
        break;
      }
      case 7:
        json_array_append_new(parts, arg % 3 == 0 ? json_integer(1) : arg % 3 == 1 ? json_string("x")
                                                                                  : json_array());
        as_array = true;
        break;
      case 8:
        json_decref(whole);
        whole = arg % 4 == 0 ? json_null() : arg % 4 == 1 ? json_array()
              : arg % 4 == 2 ? json_object() : json_string("s");
        break;
      default:
        break;
    }
  }
  if (whole) {
    json_decref(parts);
    return whole;
  }
  if (as_array) return parts;
  json_incref(cur);
  json_decref(parts);
  return cur;
}

/* ---------------------------------------------------------------- the model of §4.1 */

typedef struct query_model {
  const char *tags_and[64], *tags_or[64];
  size_t n_and, n_or;
  int attr_and_slot[16], attr_or_slot[16];
  char attr_and_val[16][64], attr_or_val[16][64];
  size_t n_attr_and, n_attr_or;
} query_model;

static bool present(const json_t *v)
{
  if (!v || json_is_null(v)) return false;
  if (json_is_array(v)) return json_array_size(v) > 0;
  if (json_is_object(v)) return json_object_size(v) > 0;
  return true;
}

static int model_tags(const json_t *list, const char **out, size_t *n, size_t *total)
{
  if (!present(list)) return 0;
  if (!json_is_array(list)) return 90001;
  size_t i;
  const json_t *t;
  json_array_foreach(list, i, t) {
    if (!json_is_string(t)) return 90020;
    if (json_string_length(t) == 0) return 90040;
    if (json_string_length(t) > 50) return 90020;
    if (++*total > 10) return 90032;
    out[(*n)++] = json_string_value(t);
  }
  return 0;
}

static int model_attrs(const json_t *obj, int *slots, char (*vals)[64], size_t *n)
{
  if (!present(obj)) return 0;
  if (!json_is_object(obj)) return 90033;
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)obj, name, v) {
    int slot = -1;
    for (int s = 0; s < N_SLOTS; s++)
      if (strcmp(SLOT_NAMES[s], name) == 0) slot = s;
    if (slot < 0) return 90033;
    char text[64] = "";
    if (json_is_string(v)) {
      if (json_string_length(v) >= sizeof text) return 90033;
      snprintf(text, sizeof text, "%s", json_string_value(v));
    } else if (json_is_number(v) || json_is_boolean(v)) {
      char *s = json_dumps(v, JSON_ENCODE_ANY);
      snprintf(text, sizeof text, "%s", s);
      free(s);
    }
    if (!*text || strlen(text) > 50) return 90033;
    slots[*n] = slot;
    snprintf(vals[(*n)++], 64, "%s", text);
  }
  return 0;
}

/* The contract's answer to the Condition: 0 and a query, or the code of the first rule it
** breaks, in the order rest-api.md lists them and Tencent checks them. */
static int model_condition(const json_t *cond, query_model *q, json_t **merged_out)
{
  memset(q, 0, sizeof *q);
  *merged_out = NULL;
  if (!cond || json_is_null(cond)) return 0;
  json_t *merged = json_object();
  *merged_out = merged;
  size_t i;
  const json_t *part;
  json_t *single = json_is_array(cond) ? NULL : json_pack("[O]", cond);
  const json_t *parts = single ? single : cond;
  int rc = 0;
  json_array_foreach(parts, i, part) {
    if (json_is_null(part)) continue;
    if (!json_is_object(part)) { rc = 90001; break; }
    for (int k = 0; k < 4; k++) {
      json_t *m = json_object_get(part, MEMBERS[k]);
      if (!m || json_is_null(m)) continue;
      json_t *have = json_object_get(merged, MEMBERS[k]);
      if (json_is_array(have) && json_is_array(m)) json_array_extend(have, m);
      else if (json_is_object(have) && json_is_object(m)) json_object_update(have, m);
      else json_object_set_new(merged, MEMBERS[k], json_deep_copy(m));
    }
  }
  json_decref(single);
  if (rc) return rc;
  json_t *ta = json_object_get(merged, "TagsAnd"), *to = json_object_get(merged, "TagsOr"),
         *aa = json_object_get(merged, "AttrsAnd"), *ao = json_object_get(merged, "AttrsOr");
  if ((present(ta) || present(to)) && (present(aa) || present(ao))) return 90039;
  size_t total = 0;
  if ((rc = model_tags(ta, q->tags_and, &q->n_and, &total))) return rc;
  size_t or_total = 0;
  rc = model_tags(to, q->tags_or, &q->n_or, &or_total);
  if (rc == 90032 || (!rc && total + or_total > 10)) {
    /* TagsOr's own items are checked first; its count is judged with TagsAnd's */
    if (rc == 90032) return 90032;
    return 90032;
  }
  if (rc) return rc;
  for (size_t a = 0; a < q->n_and; a++)
    for (size_t b = 0; b < q->n_or; b++)
      if (strcmp(q->tags_and[a], q->tags_or[b]) == 0) return 90022;
  if ((rc = model_attrs(aa, q->attr_and_slot, q->attr_and_val, &q->n_attr_and))) return rc;
  return model_attrs(ao, q->attr_or_slot, q->attr_or_val, &q->n_attr_or);
}

static bool has_tag(const account *a, const char *tag)
{
  for (int t = 0; t < N_TAGS; t++)
    if (a->tags >> t & 1 && strcmp(TAGS[t], tag) == 0) return true;
  return false;
}

static bool has_value(const account *a, int slot, const char *v)
{
  return a->value[slot] && strcmp(a->value[slot], v) == 0;
}

static bool matches(const account *a, const query_model *q)
{
  for (size_t i = 0; i < q->n_and; i++)
    if (!has_tag(a, q->tags_and[i])) return false;
  bool any = q->n_or == 0;
  for (size_t i = 0; i < q->n_or && !any; i++) any = has_tag(a, q->tags_or[i]);
  if (!any) return false;
  for (size_t i = 0; i < q->n_attr_and; i++)
    if (!has_value(a, q->attr_and_slot[i], q->attr_and_val[i])) return false;
  any = q->n_attr_or == 0;
  for (size_t i = 0; i < q->n_attr_or && !any; i++)
    any = has_value(a, q->attr_or_slot[i], q->attr_or_val[i]);
  return any;
}

/* ---------------------------------------------------------------- the call */

static int ask_api(fz_api *e, directory *d, const json_t *cond, long long *audience, long long *online)
{
  json_t *body = json_object();
  if (cond) json_object_set(body, "Condition", (json_t *)cond);
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  char req[8192];
  int n = snprintf(req, sizeof req,
                   "POST /v4/all_member_push/im_get_audience?sdkappid=%llu&identifier=%s&usersig=%s"
                   " HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                   FZ_SDKAPPID, FZ_ADMIN, e->admin_sig, strlen(text), text);
  free(text);
  if (n < 0 || (size_t)n >= sizeof req) return -1;
  directory *own = e->a->dir;
  e->a->dir = d;
  conn *c = fake_conn_accept(e->hub);
  fake_conn_send(c, req, (size_t)n);
  fz_run(e, 0);
  size_t len;
  const char *out = fake_conn_received(c, &len);
  fz_response r;
  if (fz_parse_responses(out, len, &r, 1) != 1) fz_fail("no answer from im_get_audience");
  int code = fz_check_envelope(r.body, r.body_len);
  json_t *v = json_loadb(r.body, r.body_len, 0, NULL);
  *audience = json_integer_value(json_object_get(v, "Audience"));
  *online = json_integer_value(json_object_get(v, "Online"));
  json_decref(v);
  fake_conn_free(c);
  fz_run(e, 0);
  e->a->dir = own;
  return code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_api *e = fz_api_get();
  const uint8_t *p = data, *end = data + size;
  directory *d = build_directory(&p, end);
  check_directory(d);
  json_t *cond = build_condition(p, end);
  query_model q;
  json_t *merged;
  int want = model_condition(cond, &q, &merged);
  size_t expect = 0;
  for (size_t i = 0; i < n_model; i++) expect += model[i].alive && matches(&model[i], &q);

  long long audience = -1, online = -1;
  int code = ask_api(e, d, cond, &audience, &online);
  if (code >= 0) {
    char *ct = json_dumps(cond, JSON_COMPACT | JSON_ENCODE_ANY);
    if (code != want) fz_fail("Condition %s: api says %d, the contract %d", ct ? ct : "(none)", code, want);
    if (code == 0 && (audience != (long long)expect || online != 0))
      fz_fail("Condition %s: Audience %lld Online %lld, model %zu", ct ? ct : "(none)", audience, online, expect);
    free(ct);
  }
  if (want == 0) { /* the core alone, on the same query */
    audience_attr aa[16], ao[16];
    for (size_t i = 0; i < q.n_attr_and; i++) aa[i] = (audience_attr){q.attr_and_slot[i], q.attr_and_val[i]};
    for (size_t i = 0; i < q.n_attr_or; i++) ao[i] = (audience_attr){q.attr_or_slot[i], q.attr_or_val[i]};
    audience_query aq = {q.tags_and, q.n_and, q.tags_or, q.n_or, aa, q.n_attr_and, ao, q.n_attr_or};
    roaring_bitmap_t *got = audience_compute(d, &aq);
    if (!got) fz_fail("audience_compute returned NULL");
    for (size_t i = 0; i < n_model; i++) {
      bool in = model[i].alive && matches(&model[i], &q);
      if (roaring_bitmap_contains(got, model[i].uid) != in && model[i].alive)
        fz_fail("audience_compute: %s is %s", model[i].id, in ? "missing" : "extra");
    }
    if (roaring_bitmap_get_cardinality(got) != expect)
      fz_fail("audience_compute: %llu accounts, model %zu",
              (unsigned long long)roaring_bitmap_get_cardinality(got), expect);
    roaring_bitmap_free(got);
  }
  json_decref(merged);
  json_decref(cond);
  directory_free(d);
  return 0;
}
