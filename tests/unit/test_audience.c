/*
** test_audience.c — audience_compute: every condition shape of rest-api.md §4.1 on a small
** hand-made directory, then seeded random queries checked against a brute-force scan, on
** a small directory and on one large enough to use every CRoaring container kind.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audience.h"
#include "core/directory.h"
#include "support/test_rng.h"

/* ---------------------------------------------------------------- helpers */

/* Computes the audience and asserts it is exactly the n uids given; frees it. */
static void assert_audience(const directory *d, const audience_query *q, size_t n,
                            const uint32_t *uids) {
  roaring_bitmap_t *result = audience_compute(d, q);
  assert_non_null(result);
  roaring_bitmap_t *expected = roaring_bitmap_of_ptr(n, uids);
  if (!roaring_bitmap_equals(result, expected)) {
    roaring_bitmap_printf(result);
    printf(" (got)\n");
    roaring_bitmap_printf(expected);
    printf(" (expected)\n");
  }
  assert_true(roaring_bitmap_equals(result, expected));
  roaring_bitmap_free(expected);
  roaring_bitmap_free(result);
}

#define AUDIENCE(d, q, ...)                                                          \
  assert_audience((d), (q), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),    \
                  (uint32_t[]){__VA_ARGS__})
#define AUDIENCE_EMPTY(d, q) assert_audience((d), (q), 0, NULL)

#define LIST(...) ((const char *const[]){__VA_ARGS__})
#define COUNT(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *))
#define TAGS_AND(...) .tags_and = LIST(__VA_ARGS__), .n_tags_and = COUNT(__VA_ARGS__)
#define TAGS_OR(...) .tags_or = LIST(__VA_ARGS__), .n_tags_or = COUNT(__VA_ARGS__)
#define ATTRS(...) ((const audience_attr[]){__VA_ARGS__})
#define NATTRS(...) (sizeof((audience_attr[]){__VA_ARGS__}) / sizeof(audience_attr))
#define ATTRS_AND(...) .attrs_and = ATTRS(__VA_ARGS__), .n_attrs_and = NATTRS(__VA_ARGS__)
#define ATTRS_OR(...) .attrs_or = ATTRS(__VA_ARGS__), .n_attrs_or = NATTRS(__VA_ARGS__)

enum { SEX = 0, CITY = 1 };

/*
** uid  tags     sex  city
**  0   a b      F    SZ
**  1   a        M    SZ
**  2   b c      F    BJ
**  3   a b c    F    -
**  4   -        -    -
**  5   c        -    BJ
**  6   a c      M    SH
**  7   a b c d  F    SZ   (then deleted: must never appear)
*/
static int setup_fixture(void **state) {
  static const char *const tags[] = {"a b", "a", "b c", "a b c", "", "c", "a c", "a b c d"};
  static const char *const sex[] = {"F", "M", "F", "F", NULL, NULL, "M", "F"};
  static const char *const city[] = {"SZ", "SZ", "BJ", NULL, NULL, "BJ", "SH", "SZ"};
  directory *d = directory_new();
  assert_non_null(d);
  assert_int_equal(directory_set_attr_name(d, SEX, "sex"), 0);
  assert_int_equal(directory_set_attr_name(d, CITY, "city"), 0);
  for (uint32_t uid = 0; uid < 8; uid++) {
    char id[8];
    snprintf(id, sizeof id, "u%u", uid);
    assert_int_equal(directory_add_account(d, uid, id), 0);
    for (const char *t = tags[uid]; *t; t++) {
      char tag[2] = {*t, 0};
      if (*t != ' ')
        assert_int_equal(directory_add_tag(d, uid, tag), 1);
    }
    if (sex[uid])
      assert_int_equal(directory_set_attr(d, uid, SEX, sex[uid]), 0);
    if (city[uid])
      assert_int_equal(directory_set_attr(d, uid, CITY, city[uid]), 0);
  }
  assert_int_equal(directory_remove_account(d, 7), 0);
  *state = d;
  return 0;
}

static int teardown_fixture(void **state) {
  directory_free(*state);
  return 0;
}

/* ---------------------------------------------------------------- fixed cases */

static void test_no_condition_is_everyone(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &(audience_query){0}, 0, 1, 2, 3, 4, 5, 6);
  AUDIENCE(d, NULL, 0, 1, 2, 3, 4, 5, 6);
  /* Empty lists count as absent (the api layer passes n = 0 for [] and null). */
  AUDIENCE(d, &((audience_query){.tags_and = LIST("a"), .n_tags_and = 0}), 0, 1, 2, 3, 4, 5, 6);
  /* A copy: the caller may free or change it without touching the directory. */
  roaring_bitmap_t *everyone = audience_compute(d, NULL);
  assert_ptr_not_equal(everyone, directory_all(d));
  roaring_bitmap_add(everyone, 1000);
  assert_false(roaring_bitmap_contains(directory_all(d), 1000));
  roaring_bitmap_free(everyone);
}

static void test_tags_and(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &((audience_query){TAGS_AND("a")}), 0, 1, 3, 6);
  AUDIENCE(d, &((audience_query){TAGS_AND("a", "b")}), 0, 3);
  AUDIENCE(d, &((audience_query){TAGS_AND("c", "b", "a")}), 3);
  AUDIENCE(d, &((audience_query){TAGS_AND("a", "a")}), 0, 1, 3, 6);
}

static void test_tags_or(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &((audience_query){TAGS_OR("b", "c")}), 0, 2, 3, 5, 6);
  AUDIENCE(d, &((audience_query){TAGS_OR("b")}), 0, 2, 3);
  AUDIENCE(d, &((audience_query){TAGS_OR("a", "b", "c")}), 0, 1, 2, 3, 5, 6);
}

static void test_tags_and_with_or(void **state) {
  const directory *d = *state;
  /* Has a, and at least one of b, c. */
  AUDIENCE(d, &((audience_query){TAGS_AND("a"), TAGS_OR("b", "c")}), 0, 3, 6);
  AUDIENCE(d, &((audience_query){TAGS_AND("b", "c"), TAGS_OR("a")}), 3);
  AUDIENCE(d, &((audience_query){TAGS_AND("c"), TAGS_OR("b")}), 2, 3);
}

static void test_unknown_tags(void **state) {
  const directory *d = *state;
  /* Nobody has "zzz": an AND with it is empty, an OR just ignores it. */
  AUDIENCE_EMPTY(d, &((audience_query){TAGS_AND("a", "zzz")}));
  AUDIENCE_EMPTY(d, &((audience_query){TAGS_AND("zzz")}));
  AUDIENCE(d, &((audience_query){TAGS_OR("zzz", "b")}), 0, 2, 3);
  AUDIENCE(d, &((audience_query){TAGS_AND("a"), TAGS_OR("b", "zzz")}), 0, 3);
  /* An OR of only unknown tags: nobody has at least one of them. */
  AUDIENCE_EMPTY(d, &((audience_query){TAGS_OR("zzz", "yyy")}));
  AUDIENCE_EMPTY(d, &((audience_query){TAGS_AND("a"), TAGS_OR("zzz")}));
  AUDIENCE_EMPTY(d, &((audience_query){TAGS_AND("zzz"), TAGS_OR("a")}));
  /* "d" belonged only to the deleted account 7: it is unknown now. */
  assert_null(directory_tag_members(d, "d"));
  AUDIENCE_EMPTY(d, &((audience_query){TAGS_AND("a", "d")}));
  AUDIENCE(d, &((audience_query){TAGS_OR("d", "b")}), 0, 2, 3);
}

static void test_attrs_and(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &((audience_query){ATTRS_AND({SEX, "F"})}), 0, 2, 3);
  AUDIENCE(d, &((audience_query){ATTRS_AND({SEX, "F"}, {CITY, "SZ"})}), 0);
  AUDIENCE(d, &((audience_query){ATTRS_AND({CITY, "BJ"}, {SEX, "F"})}), 2);
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({SEX, "F"}, {SEX, "M"})}));
  /* Unknown value, a value of another slot, a bad slot: all match nobody. */
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({SEX, "F"}, {CITY, "NY"})}));
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({SEX, "SZ"})}));
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({DIR_ATTR_SLOTS, "F"})}));
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({-1, "F"})}));
}

static void test_attrs_or(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &((audience_query){ATTRS_OR({CITY, "SZ"}, {CITY, "BJ"})}), 0, 1, 2, 5);
  AUDIENCE(d, &((audience_query){ATTRS_OR({SEX, "M"}, {CITY, "BJ"})}), 1, 2, 5, 6);
  AUDIENCE(d, &((audience_query){ATTRS_OR({CITY, "NY"}, {SEX, "M"})}), 1, 6);
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_OR({CITY, "NY"})}));
}

static void test_attrs_and_with_or(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &((audience_query){ATTRS_AND({SEX, "F"}), ATTRS_OR({CITY, "SZ"}, {CITY, "BJ"})}),
           0, 2);
  AUDIENCE(d, &((audience_query){ATTRS_AND({SEX, "M"}), ATTRS_OR({CITY, "SH"}, {CITY, "NY"})}),
           6);
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({SEX, "M"}), ATTRS_OR({CITY, "NY"})}));
  AUDIENCE_EMPTY(d, &((audience_query){ATTRS_AND({SEX, "X"}), ATTRS_OR({CITY, "SZ"})}));
}

/* The api layer rejects tags mixed with attributes (90039); if it ever let one through,
** every part must still hold rather than one being silently dropped. */
static void test_mixed_parts_all_hold(void **state) {
  const directory *d = *state;
  AUDIENCE(d, &((audience_query){TAGS_AND("a"), ATTRS_AND({SEX, "F"})}), 0, 3);
  AUDIENCE(d, &((audience_query){TAGS_OR("c"), ATTRS_OR({CITY, "BJ"}, {CITY, "SH"})}), 2, 5, 6);
}

/* The audience is fixed when computed: later changes to the directory do not reach it. */
static void test_result_is_a_snapshot(void **state) {
  (void)state;
  directory *d = directory_new();
  assert_int_equal(directory_add_account(d, 0, "x"), 0);
  assert_int_equal(directory_add_tag(d, 0, "t"), 1);
  audience_query q = {TAGS_AND("t")};
  roaring_bitmap_t *before = audience_compute(d, &q);
  assert_int_equal(directory_add_account(d, 1, "y"), 0);
  assert_int_equal(directory_add_tag(d, 1, "t"), 1);
  assert_int_equal(directory_remove_account(d, 0), 0);
  assert_int_equal(roaring_bitmap_get_cardinality(before), 1);
  assert_true(roaring_bitmap_contains(before, 0));
  roaring_bitmap_free(before);
  AUDIENCE(d, &q, 1);
  directory_free(d);
}

/* ---------------------------------------------------------------- random cross-check */

enum { TAG_KINDS = 12, SLOTS_USED = 3, VALUE_KINDS = 4, MAX_CONDITIONS = 4 };

/* What the test put into the directory, for the brute-force scan. */
typedef struct truth {
  uint32_t n_uids;
  bool *live;
  uint16_t *tag_bits;  /* bit t: has tag t */
  int8_t (*values)[SLOTS_USED]; /* value index per slot, or -1 */
} truth;

static const char *tag_name(int i) {
  static char names[TAG_KINDS + 1][16];
  if (!names[i][0])
    snprintf(names[i], sizeof names[i], i == TAG_KINDS ? "unknown" : "tag%d", i);
  return names[i];
}

static const char *value_name(int i) {
  static char names[VALUE_KINDS + 1][16];
  if (!names[i][0])
    snprintf(names[i], sizeof names[i], i == VALUE_KINDS ? "nobody" : "val%d", i);
  return names[i];
}

/* Tag t is taken with probability (t + 1) / (TAG_KINDS + 1): rare to common tags, so
** bitmaps range from sparse array containers to dense bitset containers. */
static truth build_random_directory(directory *d, uint32_t n_uids, uint64_t seed) {
  truth t = {.n_uids = n_uids};
  t.live = calloc(n_uids, sizeof *t.live);
  t.tag_bits = calloc(n_uids, sizeof *t.tag_bits);
  t.values = calloc(n_uids, sizeof *t.values);
  assert_non_null(t.live);
  assert_non_null(t.tag_bits);
  assert_non_null(t.values);
  rng_seed(seed);
  char id[24];
  for (uint32_t uid = 0; uid < n_uids; uid++) {
    snprintf(id, sizeof id, "user%u", uid);
    assert_int_equal(directory_add_account(d, uid, id), 0);
    t.live[uid] = true;
    for (int k = 0; k < TAG_KINDS; k++) {
      if (rng_below(TAG_KINDS + 1) <= (uint32_t)k) {
        assert_int_equal(directory_add_tag(d, uid, tag_name(k)), 1);
        t.tag_bits[uid] |= (uint16_t)(1u << k);
      }
    }
    for (int s = 0; s < SLOTS_USED; s++) {
      t.values[uid][s] = (int8_t)((int)rng_below(VALUE_KINDS + 1) - 1);
      if (t.values[uid][s] >= 0)
        assert_int_equal(directory_set_attr(d, uid, s, value_name(t.values[uid][s])), 0);
    }
  }
  /* Delete one in ten: deleted accounts must drop out of every audience. */
  for (uint32_t uid = 0; uid < n_uids; uid++) {
    if (rng_below(10) == 0) {
      assert_int_equal(directory_remove_account(d, uid), 0);
      t.live[uid] = false;
    }
  }
  return t;
}

static void free_truth(truth *t) {
  free(t->live);
  free(t->tag_bits);
  free(t->values);
}

typedef struct random_query {
  audience_query q;
  const char *tags_and[MAX_CONDITIONS], *tags_or[MAX_CONDITIONS];
  int tag_and_idx[MAX_CONDITIONS], tag_or_idx[MAX_CONDITIONS];
  audience_attr attrs_and[MAX_CONDITIONS], attrs_or[MAX_CONDITIONS];
  int value_and_idx[MAX_CONDITIONS], value_or_idx[MAX_CONDITIONS];
} random_query;

/* Tags or attributes (rarely neither), AND and OR lists of 0..3 items each, sometimes
** naming a tag or value that nobody has. */
static void make_random_query(random_query *r) {
  memset(r, 0, sizeof *r);
  uint32_t kind = rng_below(10);
  if (kind == 0)
    return;
  if (kind < 6) {
    r->q.n_tags_and = rng_below(MAX_CONDITIONS);
    r->q.n_tags_or = rng_below(MAX_CONDITIONS);
    for (size_t i = 0; i < r->q.n_tags_and; i++)
      r->tags_and[i] = tag_name(r->tag_and_idx[i] = (int)rng_below(TAG_KINDS + 1));
    for (size_t i = 0; i < r->q.n_tags_or; i++)
      r->tags_or[i] = tag_name(r->tag_or_idx[i] = (int)rng_below(TAG_KINDS + 1));
    r->q.tags_and = r->tags_and;
    r->q.tags_or = r->tags_or;
  } else {
    r->q.n_attrs_and = rng_below(MAX_CONDITIONS);
    r->q.n_attrs_or = rng_below(MAX_CONDITIONS);
    for (size_t i = 0; i < r->q.n_attrs_and; i++) {
      r->attrs_and[i].slot = (int)rng_below(SLOTS_USED);
      r->attrs_and[i].value = value_name(r->value_and_idx[i] = (int)rng_below(VALUE_KINDS + 1));
    }
    for (size_t i = 0; i < r->q.n_attrs_or; i++) {
      r->attrs_or[i].slot = (int)rng_below(SLOTS_USED);
      r->attrs_or[i].value = value_name(r->value_or_idx[i] = (int)rng_below(VALUE_KINDS + 1));
    }
    r->q.attrs_and = r->attrs_and;
    r->q.attrs_or = r->attrs_or;
  }
}

static bool has_tag(const truth *t, uint32_t uid, int tag) {
  return tag < TAG_KINDS && ((t->tag_bits[uid] >> tag) & 1u);
}

static bool has_value(const truth *t, uint32_t uid, const audience_attr *a, int value) {
  return value < VALUE_KINDS && t->values[uid][a->slot] == value;
}

/* rest-api.md §4.1 read literally, one account at a time. */
static bool matches(const truth *t, uint32_t uid, const random_query *r) {
  const audience_query *q = &r->q;
  for (size_t i = 0; i < q->n_tags_and; i++)
    if (!has_tag(t, uid, r->tag_and_idx[i]))
      return false;
  for (size_t i = 0; i < q->n_attrs_and; i++)
    if (!has_value(t, uid, &r->attrs_and[i], r->value_and_idx[i]))
      return false;
  if (q->n_tags_or > 0) {
    bool any = false;
    for (size_t i = 0; i < q->n_tags_or; i++)
      any |= has_tag(t, uid, r->tag_or_idx[i]);
    if (!any)
      return false;
  }
  if (q->n_attrs_or > 0) {
    bool any = false;
    for (size_t i = 0; i < q->n_attrs_or; i++)
      any |= has_value(t, uid, &r->attrs_or[i], r->value_or_idx[i]);
    if (!any)
      return false;
  }
  return true;
}

static void cross_check_random_queries(uint32_t n_uids, int n_queries, uint64_t seed) {
  directory *d = directory_new();
  assert_non_null(d);
  truth t = build_random_directory(d, n_uids, seed);
  size_t nonempty = 0;
  for (int i = 0; i < n_queries; i++) {
    random_query r;
    make_random_query(&r);
    roaring_bitmap_t *expected = roaring_bitmap_create();
    for (uint32_t uid = 0; uid < n_uids; uid++)
      if (t.live[uid] && matches(&t, uid, &r))
        roaring_bitmap_add(expected, uid);
    roaring_bitmap_t *result = audience_compute(d, &r.q);
    assert_non_null(result);
    assert_true(roaring_bitmap_equals(result, expected));
    nonempty += !roaring_bitmap_is_empty(result);
    roaring_bitmap_free(result);
    roaring_bitmap_free(expected);
  }
  /* The queries were not all trivially empty. */
  assert_true(nonempty > (size_t)n_queries / 4);
  print_message("%u accounts: %d random queries match brute force (%zu non-empty)\n", n_uids,
                n_queries, nonempty);
  free_truth(&t);
  directory_free(d);
}

static void test_random_queries_small(void **state) {
  (void)state;
  cross_check_random_queries(500, 3000, 11);
}

/* 200K uids span four roaring containers; common tags become bitset containers. */
static void test_random_queries_large(void **state) {
  (void)state;
  cross_check_random_queries(200000, 60, 12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_condition_is_everyone, setup_fixture,
                                      teardown_fixture),
      cmocka_unit_test_setup_teardown(test_tags_and, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_tags_or, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_tags_and_with_or, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_unknown_tags, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_attrs_and, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_attrs_or, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_attrs_and_with_or, setup_fixture, teardown_fixture),
      cmocka_unit_test_setup_teardown(test_mixed_parts_all_hold, setup_fixture, teardown_fixture),
      cmocka_unit_test(test_result_is_a_snapshot),
      cmocka_unit_test(test_random_queries_small),
      cmocka_unit_test(test_random_queries_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
