/*
** test_directory.c — the account directory: accounts, tags, attributes, and the bitmap
** index kept in step with them.
**
** Besides one test per behaviour, a seeded random run drives thousands of operations
** against a plain model, checking every return code, and every so often recomputes every
** bitmap by brute force from the records and compares. A last test loads 1M accounts and
** prints what the directory costs per account.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/directory.h"
#include "core/strmap.h"
#include "support/test_rng.h"

/* ---------------------------------------------------------------- helpers */

/* Asserts that b holds exactly the n uids given (in increasing order). */
static void assert_members(const roaring_bitmap_t *b, size_t n, const uint32_t *uids) {
  assert_non_null(b);
  assert_int_equal(roaring_bitmap_get_cardinality(b), n);
  for (size_t i = 0; i < n; i++)
    assert_true(roaring_bitmap_contains(b, uids[i]));
}

#define MEMBERS(b, ...)                                                              \
  assert_members((b), sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t),          \
                 (uint32_t[]){__VA_ARGS__})

static void assert_tags(const directory *d, uint32_t uid, size_t n, const char *const *expected) {
  size_t count = 99;
  const char *const *tags = directory_tags(d, uid, &count);
  assert_non_null(tags);
  assert_int_equal(count, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(tags[i], expected[i]);
}

#define TAGS(d, uid, ...)                                                            \
  assert_tags((d), (uid), sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *),     \
              (const char *[]){__VA_ARGS__})

static directory *new_directory_with(size_t n_accounts) {
  directory *d = directory_new();
  assert_non_null(d);
  char id[32];
  for (size_t i = 0; i < n_accounts; i++) {
    snprintf(id, sizeof id, "u%zu", i);
    assert_int_equal(directory_add_account(d, directory_next_uid(d), id), 0);
  }
  return d;
}

/* ---------------------------------------------------------------- accounts */

static void test_accounts_add_find_remove(void **state) {
  (void)state;
  directory *d = directory_new();
  assert_non_null(d);
  assert_int_equal(directory_account_count(d), 0);
  assert_int_equal(directory_next_uid(d), 0);
  assert_true(roaring_bitmap_is_empty(directory_all(d)));
  assert_int_equal(directory_find(d, "alice"), DIR_UID_NONE);

  assert_int_equal(directory_add_account(d, 0, "alice"), 0);
  assert_int_equal(directory_add_account(d, 1, "bob"), 0);
  assert_int_equal(directory_find(d, "alice"), 0);
  assert_int_equal(directory_find(d, "bob"), 1);
  assert_string_equal(directory_user_id(d, 1), "bob");
  assert_null(directory_user_id(d, 2));
  assert_null(directory_user_id(d, DIR_UID_NONE));
  assert_int_equal(directory_account_count(d), 2);
  MEMBERS(directory_all(d), 0, 1);

  /* Taken UserID, taken uid, the reserved uid. */
  assert_int_equal(directory_add_account(d, 2, "alice"), -EEXIST);
  assert_int_equal(directory_add_account(d, 1, "carol"), -EEXIST);
  assert_int_equal(directory_add_account(d, DIR_UID_NONE, "carol"), -EINVAL);
  assert_int_equal(directory_account_count(d), 2);
  assert_int_equal(directory_find(d, "carol"), DIR_UID_NONE);

  assert_int_equal(directory_remove_account(d, 0), 0);
  assert_int_equal(directory_remove_account(d, 0), -ENOENT);
  assert_int_equal(directory_remove_account(d, 77), -ENOENT);
  assert_int_equal(directory_find(d, "alice"), DIR_UID_NONE);
  assert_null(directory_user_id(d, 0));
  assert_int_equal(directory_account_count(d), 1);
  MEMBERS(directory_all(d), 1);
  directory_free(d);
}

static void test_uid_never_reused(void **state) {
  (void)state;
  directory *d = directory_new();
  uint32_t previous = DIR_UID_NONE;
  for (int round = 0; round < 50; round++) {
    /* The same UserID re-imported after deletion gets a fresh uid every time. */
    uint32_t uid = directory_next_uid(d);
    assert_int_equal(directory_add_account(d, uid, "phoenix"), 0);
    if (previous != DIR_UID_NONE)
      assert_true(uid > previous);
    assert_int_equal(directory_next_uid(d), uid + 1);
    assert_int_equal(directory_remove_account(d, uid), 0);
    assert_int_equal(directory_next_uid(d), uid + 1);
    previous = uid;
  }
  /* Loading from the store: uids with gaps, in any order. */
  assert_int_equal(directory_add_account(d, 5000, "late"), 0);
  assert_int_equal(directory_add_account(d, 100, "early"), 0);
  assert_int_equal(directory_next_uid(d), 5001);
  MEMBERS(directory_all(d), 100, 5000);
  assert_int_equal(directory_find(d, "early"), 100);
  directory_free(d);
}

/* ---------------------------------------------------------------- tags */

static void test_tags_add_keeps_order(void **state) {
  (void)state;
  directory *d = new_directory_with(3);
  assert_int_equal(directory_add_tag(d, 0, "vip"), 1);
  assert_int_equal(directory_add_tag(d, 0, "beta"), 1);
  assert_int_equal(directory_add_tag(d, 0, "cn"), 1);
  assert_int_equal(directory_add_tag(d, 0, "beta"), 0);
  assert_int_equal(directory_add_tag(d, 2, "beta"), 1);
  assert_int_equal(directory_add_tag(d, 9, "beta"), -ENOENT);
  TAGS(d, 0, "vip", "beta", "cn");
  TAGS(d, 2, "beta");

  size_t count = 42;
  assert_non_null(directory_tags(d, 1, &count));
  assert_int_equal(count, 0);
  assert_null(directory_tags(d, 9, &count));
  assert_int_equal(count, 0);

  assert_true(directory_has_tag(d, 0, "cn"));
  assert_false(directory_has_tag(d, 2, "cn"));
  assert_false(directory_has_tag(d, 0, "nope"));
  assert_false(directory_has_tag(d, 9, "cn"));

  MEMBERS(directory_tag_members(d, "vip"), 0);
  MEMBERS(directory_tag_members(d, "beta"), 0, 2);
  assert_null(directory_tag_members(d, "nope"));
  assert_int_equal(directory_tag_count(d), 3);
  directory_free(d);
}

static void test_tags_cap_of_100(void **state) {
  (void)state;
  directory *d = new_directory_with(1);
  char tag[16];
  for (int i = 0; i < DIR_MAX_TAGS; i++) {
    snprintf(tag, sizeof tag, "t%d", i);
    assert_int_equal(directory_add_tag(d, 0, tag), 1);
  }
  assert_int_equal(directory_add_tag(d, 0, "one-too-many"), -ENOSPC);
  assert_null(directory_tag_members(d, "one-too-many")); /* a refused tag leaves no entry */
  assert_int_equal(directory_add_tag(d, 0, "t57"), 0);    /* already there: no-op, not full */
  assert_int_equal(directory_tag_count(d), DIR_MAX_TAGS);

  size_t count;
  const char *const *tags = directory_tags(d, 0, &count);
  assert_int_equal(count, DIR_MAX_TAGS);
  for (int i = 0; i < DIR_MAX_TAGS; i++) {
    snprintf(tag, sizeof tag, "t%d", i);
    assert_string_equal(tags[i], tag);
  }
  assert_int_equal(directory_remove_tag(d, 0, "t0"), 1);
  assert_int_equal(directory_add_tag(d, 0, "one-more"), 1);
  tags = directory_tags(d, 0, &count);
  assert_int_equal(count, DIR_MAX_TAGS);
  assert_string_equal(tags[0], "t1");
  assert_string_equal(tags[DIR_MAX_TAGS - 1], "one-more");
  directory_free(d);
}

static void test_tags_remove(void **state) {
  (void)state;
  directory *d = new_directory_with(2);
  for (int uid = 0; uid < 2; uid++) {
    assert_int_equal(directory_add_tag(d, (uint32_t)uid, "a"), 1);
    assert_int_equal(directory_add_tag(d, (uint32_t)uid, "b"), 1);
    assert_int_equal(directory_add_tag(d, (uint32_t)uid, "c"), 1);
  }
  assert_int_equal(directory_add_tag(d, 0, "d"), 1);
  assert_int_equal(directory_remove_tag(d, 0, "b"), 1);
  TAGS(d, 0, "a", "c", "d");
  assert_int_equal(directory_remove_tag(d, 0, "b"), 0);
  assert_int_equal(directory_remove_tag(d, 0, "never"), 0);
  assert_int_equal(directory_remove_tag(d, 5, "a"), -ENOENT);
  MEMBERS(directory_tag_members(d, "b"), 1);
  MEMBERS(directory_tag_members(d, "a"), 0, 1);

  /* The last member leaving drops the tag. */
  assert_int_equal(directory_remove_tag(d, 0, "d"), 1);
  assert_null(directory_tag_members(d, "d"));
  assert_int_equal(directory_tag_count(d), 3);
  assert_int_equal(directory_remove_tag(d, 1, "b"), 1);
  assert_null(directory_tag_members(d, "b"));
  assert_int_equal(directory_tag_count(d), 2);
  TAGS(d, 1, "a", "c");
  /* A dropped tag can come back (its id may be reused by another tag meanwhile). */
  assert_int_equal(directory_add_tag(d, 1, "e"), 1);
  assert_int_equal(directory_add_tag(d, 0, "b"), 1);
  MEMBERS(directory_tag_members(d, "b"), 0);
  MEMBERS(directory_tag_members(d, "e"), 1);
  TAGS(d, 0, "a", "c", "b");
  TAGS(d, 1, "a", "c", "e");
  directory_free(d);
}

static void test_tags_remove_all(void **state) {
  (void)state;
  directory *d = new_directory_with(2);
  assert_int_equal(directory_add_tag(d, 0, "x"), 1);
  assert_int_equal(directory_add_tag(d, 0, "y"), 1);
  assert_int_equal(directory_add_tag(d, 1, "y"), 1);
  assert_int_equal(directory_remove_all_tags(d, 0), 2);
  assert_int_equal(directory_remove_all_tags(d, 0), 0);
  assert_int_equal(directory_remove_all_tags(d, 3), -ENOENT);
  size_t count;
  directory_tags(d, 0, &count);
  assert_int_equal(count, 0);
  assert_null(directory_tag_members(d, "x"));
  MEMBERS(directory_tag_members(d, "y"), 1);
  assert_int_equal(directory_tag_count(d), 1);
  /* The account works normally afterwards. */
  assert_int_equal(directory_add_tag(d, 0, "z"), 1);
  TAGS(d, 0, "z");
  directory_free(d);
}

/* ---------------------------------------------------------------- attributes */

static void test_attr_names(void **state) {
  (void)state;
  directory *d = new_directory_with(1);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    assert_null(directory_attr_name(d, s));
  assert_int_equal(directory_set_attr_name(d, 0, "sex"), 0);
  assert_int_equal(directory_set_attr_name(d, 1, "city"), 0);
  assert_string_equal(directory_attr_name(d, 0), "sex");
  assert_int_equal(directory_attr_slot(d, "city"), 1);
  assert_int_equal(directory_attr_slot(d, "age"), -1);

  assert_int_equal(directory_set_attr_name(d, 1, "sex"), -EEXIST);
  assert_string_equal(directory_attr_name(d, 1), "city");
  assert_int_equal(directory_set_attr_name(d, 0, "sex"), 0); /* same name again */
  assert_int_equal(directory_set_attr_name(d, -1, "x"), -EINVAL);
  assert_int_equal(directory_set_attr_name(d, DIR_ATTR_SLOTS, "x"), -EINVAL);
  assert_null(directory_attr_name(d, -1));
  assert_null(directory_attr_name(d, DIR_ATTR_SLOTS));

  /* Renaming keeps the slot's values and frees the old name for other slots. */
  assert_int_equal(directory_set_attr(d, 0, 0, "F"), 0);
  assert_int_equal(directory_set_attr_name(d, 0, "gender"), 0);
  assert_int_equal(directory_attr_slot(d, "sex"), -1);
  assert_int_equal(directory_attr_slot(d, "gender"), 0);
  assert_string_equal(directory_attr_value(d, 0, 0), "F");
  MEMBERS(directory_attr_members(d, 0, "F"), 0);
  assert_int_equal(directory_set_attr_name(d, 9, "sex"), 0);
  assert_int_equal(directory_attr_slot(d, "sex"), 9);
  directory_free(d);
}

static void test_attr_values(void **state) {
  (void)state;
  directory *d = new_directory_with(3);
  assert_int_equal(directory_set_attr(d, 0, 1, "SZ"), 0);
  assert_int_equal(directory_set_attr(d, 1, 1, "SZ"), 0);
  assert_int_equal(directory_set_attr(d, 0, 0, "F"), 0);
  assert_int_equal(directory_set_attr(d, 0, 9, "gold"), 0);
  assert_string_equal(directory_attr_value(d, 0, 0), "F");
  assert_string_equal(directory_attr_value(d, 0, 1), "SZ");
  assert_string_equal(directory_attr_value(d, 0, 9), "gold");
  assert_null(directory_attr_value(d, 0, 5));
  assert_null(directory_attr_value(d, 2, 1));
  assert_null(directory_attr_value(d, 0, -1));
  assert_null(directory_attr_value(d, 7, 1));
  MEMBERS(directory_attr_members(d, 1, "SZ"), 0, 1);
  MEMBERS(directory_attr_members(d, 0, "F"), 0);
  /* Values are per slot: "SZ" in slot 0 is another entry. */
  assert_null(directory_attr_members(d, 0, "SZ"));
  assert_null(directory_attr_members(d, DIR_ATTR_SLOTS, "SZ"));

  /* Replacing moves the account between value bitmaps and drops an emptied value. */
  assert_int_equal(directory_set_attr(d, 0, 1, "BJ"), 0);
  assert_string_equal(directory_attr_value(d, 0, 1), "BJ");
  MEMBERS(directory_attr_members(d, 1, "SZ"), 1);
  MEMBERS(directory_attr_members(d, 1, "BJ"), 0);
  assert_int_equal(directory_set_attr(d, 1, 1, "BJ"), 0);
  assert_null(directory_attr_members(d, 1, "SZ"));
  MEMBERS(directory_attr_members(d, 1, "BJ"), 0, 1);
  assert_int_equal(directory_set_attr(d, 1, 1, "BJ"), 0); /* same value: no change */
  MEMBERS(directory_attr_members(d, 1, "BJ"), 0, 1);

  /* The other slots of the account are untouched by a change in one. */
  assert_string_equal(directory_attr_value(d, 0, 0), "F");
  assert_string_equal(directory_attr_value(d, 0, 9), "gold");

  assert_int_equal(directory_remove_attr(d, 0, 0), 1);
  assert_int_equal(directory_remove_attr(d, 0, 0), 0);
  assert_null(directory_attr_value(d, 0, 0));
  assert_null(directory_attr_members(d, 0, "F"));
  assert_string_equal(directory_attr_value(d, 0, 1), "BJ");
  assert_string_equal(directory_attr_value(d, 0, 9), "gold");

  assert_int_equal(directory_set_attr(d, 9, 0, "F"), -ENOENT);
  assert_int_equal(directory_set_attr(d, 0, DIR_ATTR_SLOTS, "F"), -EINVAL);
  assert_int_equal(directory_set_attr(d, 0, -1, "F"), -EINVAL);
  assert_int_equal(directory_remove_attr(d, 9, 0), -ENOENT);
  assert_int_equal(directory_remove_attr(d, 0, 10), -EINVAL);
  directory_free(d);
}

/* Tags and attributes share one block per account; changing one must not disturb the other. */
static void test_tags_and_attrs_together(void **state) {
  (void)state;
  directory *d = new_directory_with(1);
  char tag[16];
  for (int i = 0; i < 20; i++) {
    snprintf(tag, sizeof tag, "tag%d", i);
    assert_int_equal(directory_add_tag(d, 0, tag), 1);
    if (i % 2 == 0) {
      snprintf(tag, sizeof tag, "val%d", i);
      assert_int_equal(directory_set_attr(d, 0, (i / 2) % DIR_ATTR_SLOTS, tag), 0);
    }
  }
  assert_int_equal(directory_remove_attr(d, 0, 3), 1);
  assert_int_equal(directory_set_attr(d, 0, 3, "back"), 0);
  size_t count;
  const char *const *tags = directory_tags(d, 0, &count);
  assert_int_equal(count, 20);
  for (int i = 0; i < 20; i++) {
    snprintf(tag, sizeof tag, "tag%d", i);
    assert_string_equal(tags[i], tag);
  }
  assert_string_equal(directory_attr_value(d, 0, 0), "val0");
  assert_string_equal(directory_attr_value(d, 0, 3), "back");
  assert_string_equal(directory_attr_value(d, 0, 9), "val18");
  assert_string_equal(directory_user_id(d, 0), "u0");
  assert_int_equal(directory_find(d, "u0"), 0);
  directory_free(d);
}

static void test_remove_account_clears_everything(void **state) {
  (void)state;
  directory *d = new_directory_with(2);
  assert_int_equal(directory_add_tag(d, 0, "solo"), 1);
  assert_int_equal(directory_add_tag(d, 0, "shared"), 1);
  assert_int_equal(directory_add_tag(d, 1, "shared"), 1);
  assert_int_equal(directory_set_attr(d, 0, 2, "only-mine"), 0);
  assert_int_equal(directory_set_attr(d, 0, 3, "common"), 0);
  assert_int_equal(directory_set_attr(d, 1, 3, "common"), 0);

  assert_int_equal(directory_remove_account(d, 0), 0);
  assert_null(directory_tag_members(d, "solo"));
  MEMBERS(directory_tag_members(d, "shared"), 1);
  assert_null(directory_attr_members(d, 2, "only-mine"));
  MEMBERS(directory_attr_members(d, 3, "common"), 1);
  MEMBERS(directory_all(d), 1);
  assert_int_equal(directory_tag_count(d), 1);
  assert_false(directory_has_tag(d, 0, "shared"));
  assert_null(directory_attr_value(d, 0, 3));
  assert_int_equal(directory_add_tag(d, 0, "x"), -ENOENT);
  assert_int_equal(directory_set_attr(d, 0, 3, "x"), -ENOENT);

  /* Re-importing the same UserID starts clean, under a new uid. */
  uint32_t uid = directory_next_uid(d);
  assert_int_equal(directory_add_account(d, uid, "u0"), 0);
  size_t count;
  directory_tags(d, uid, &count);
  assert_int_equal(count, 0);
  assert_null(directory_attr_value(d, uid, 3));
  directory_free(d);
}

static const char *test_key_of(const void *ctx, uint32_t value) {
  const char (*keys)[12] = ctx;
  return keys[value];
}

/* The strmap under the UserID index: heavy churn must keep every key findable
** (backward-shift deletion has to move exactly the right entries). */
static void test_strmap_churn(void **state) {
  (void)state;
  enum { N = 20000 };
  static char keys[N][12];
  static bool present[N];
  strmap m;
  strmap_init(&m, test_key_of, keys);
  for (uint32_t i = 0; i < N; i++)
    snprintf(keys[i], sizeof keys[i], "k%u", i);
  rng_seed(7);
  size_t count = 0;
  for (int op = 0; op < 200000; op++) {
    uint32_t i = rng_below(N);
    if (rng_below(2)) {
      assert_int_equal(strmap_put(&m, keys[i], i), present[i] ? -EEXIST : 0);
      count += !present[i];
      present[i] = true;
    } else {
      assert_int_equal(strmap_remove(&m, keys[i]), present[i] ? i : STRMAP_NONE);
      count -= present[i];
      present[i] = false;
    }
  }
  assert_int_equal(strmap_count(&m), count);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(strmap_get(&m, keys[i]), present[i] ? i : STRMAP_NONE);
  assert_int_equal(strmap_put(&m, "x", STRMAP_NONE), -EINVAL);
  assert_true(strmap_memory_bytes(&m) >= count * sizeof(strmap_slot) * 4 / 3);
  strmap_destroy(&m);
}

/* ---------------------------------------------------------------- random model check */

enum {
  MODEL_MAX_UIDS = 1500,
  MODEL_MAX_LIVE = 8,
  TAG_POOL = 130,
  VALUE_POOL = 5,
  NAME_POOL = 14,
  RANDOM_OPS = 30000,
};

typedef struct model_account {
  bool live;
  char user_id[16];
  int n_tags;
  int tags[DIR_MAX_TAGS]; /* indexes into the tag pool, in order added */
  int attrs[DIR_ATTR_SLOTS]; /* index into the value pool, or -1 */
} model_account;

typedef struct model {
  model_account accounts[MODEL_MAX_UIDS];
  uint32_t next_uid;
  int n_live;
  int attr_names[DIR_ATTR_SLOTS]; /* index into the name pool, or -1 */
  int next_account_name;
  int enospc_seen;
} model;

static const char *tag_name(int i) {
  static char names[TAG_POOL][16];
  if (!names[i][0])
    snprintf(names[i], sizeof names[i], "t%03d", i);
  return names[i];
}

static const char *value_name(int i) {
  static char names[VALUE_POOL][16];
  if (!names[i][0])
    snprintf(names[i], sizeof names[i], "v%d", i);
  return names[i];
}

static const char *attr_name_of(int i) {
  static char names[NAME_POOL][16];
  if (!names[i][0])
    snprintf(names[i], sizeof names[i], "n%d", i);
  return names[i];
}

static int model_tag_index(const model_account *a, int tag) {
  for (int i = 0; i < a->n_tags; i++)
    if (a->tags[i] == tag)
      return i;
  return -1;
}

/* Mostly a live account, sometimes any uid (dead, or never used) for the error paths. */
static uint32_t pick_uid(const model *m) {
  if (m->n_live > 0 && rng_below(10) < 8) {
    for (;;) {
      uint32_t uid = rng_below(m->next_uid);
      if (m->accounts[uid].live)
        return uid;
    }
  }
  return rng_below(m->next_uid + 3);
}

static bool model_live(const model *m, uint32_t uid) {
  return uid < MODEL_MAX_UIDS && m->accounts[uid].live;
}

static void op_add_account(directory *d, model *m) {
  if (m->n_live >= MODEL_MAX_LIVE || m->next_uid >= MODEL_MAX_UIDS)
    return;
  uint32_t uid = directory_next_uid(d);
  assert_int_equal(uid, m->next_uid);
  char user_id[16];
  /* Sometimes a UserID that is live (refused) or was deleted earlier (fine). */
  int name = rng_below(4) == 0 && m->next_account_name > 0 ? (int)rng_below(m->next_account_name)
                                                           : m->next_account_name++;
  snprintf(user_id, sizeof user_id, "acct%d", name);
  bool taken = false;
  for (uint32_t u = 0; u < m->next_uid; u++)
    taken |= m->accounts[u].live && strcmp(m->accounts[u].user_id, user_id) == 0;
  if (taken) {
    assert_int_equal(directory_add_account(d, uid, user_id), -EEXIST);
    return;
  }
  assert_int_equal(directory_add_account(d, uid, user_id), 0);
  model_account *a = &m->accounts[uid];
  memset(a, 0, sizeof *a);
  a->live = true;
  strcpy(a->user_id, user_id);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    a->attrs[s] = -1;
  m->next_uid++;
  m->n_live++;
}

static void op_remove_account(directory *d, model *m) {
  uint32_t uid = pick_uid(m);
  if (!model_live(m, uid)) {
    assert_int_equal(directory_remove_account(d, uid), -ENOENT);
    return;
  }
  assert_int_equal(directory_remove_account(d, uid), 0);
  m->accounts[uid].live = false;
  m->n_live--;
}

static void op_add_tag(directory *d, model *m) {
  uint32_t uid = pick_uid(m);
  int tag = (int)rng_below(TAG_POOL);
  int rc = directory_add_tag(d, uid, tag_name(tag));
  if (!model_live(m, uid)) {
    assert_int_equal(rc, -ENOENT);
    return;
  }
  model_account *a = &m->accounts[uid];
  if (model_tag_index(a, tag) >= 0) {
    assert_int_equal(rc, 0);
  } else if (a->n_tags == DIR_MAX_TAGS) {
    assert_int_equal(rc, -ENOSPC);
    m->enospc_seen++;
  } else {
    assert_int_equal(rc, 1);
    a->tags[a->n_tags++] = tag;
  }
}

static void op_remove_tag(directory *d, model *m) {
  uint32_t uid = pick_uid(m);
  int tag = (int)rng_below(TAG_POOL);
  if (model_live(m, uid) && m->accounts[uid].n_tags > 0 && rng_below(2))
    tag = m->accounts[uid].tags[rng_below((uint32_t)m->accounts[uid].n_tags)];
  int rc = directory_remove_tag(d, uid, tag_name(tag));
  if (!model_live(m, uid)) {
    assert_int_equal(rc, -ENOENT);
    return;
  }
  model_account *a = &m->accounts[uid];
  int i = model_tag_index(a, tag);
  assert_int_equal(rc, i >= 0 ? 1 : 0);
  if (i >= 0) {
    memmove(&a->tags[i], &a->tags[i + 1], (size_t)(a->n_tags - i - 1) * sizeof a->tags[0]);
    a->n_tags--;
  }
}

static void op_remove_all_tags(directory *d, model *m) {
  uint32_t uid = pick_uid(m);
  int rc = directory_remove_all_tags(d, uid);
  if (!model_live(m, uid)) {
    assert_int_equal(rc, -ENOENT);
    return;
  }
  assert_int_equal(rc, m->accounts[uid].n_tags);
  m->accounts[uid].n_tags = 0;
}

static void op_set_attr(directory *d, model *m) {
  uint32_t uid = pick_uid(m);
  int slot = (int)rng_below(DIR_ATTR_SLOTS + 1); /* one bad slot in eleven */
  int value = (int)rng_below(VALUE_POOL);
  int rc = directory_set_attr(d, uid, slot, value_name(value));
  if (slot >= DIR_ATTR_SLOTS) {
    assert_int_equal(rc, -EINVAL);
  } else if (!model_live(m, uid)) {
    assert_int_equal(rc, -ENOENT);
  } else {
    assert_int_equal(rc, 0);
    m->accounts[uid].attrs[slot] = value;
  }
}

static void op_remove_attr(directory *d, model *m) {
  uint32_t uid = pick_uid(m);
  int slot = (int)rng_below(DIR_ATTR_SLOTS);
  int rc = directory_remove_attr(d, uid, slot);
  if (!model_live(m, uid)) {
    assert_int_equal(rc, -ENOENT);
    return;
  }
  assert_int_equal(rc, m->accounts[uid].attrs[slot] >= 0 ? 1 : 0);
  m->accounts[uid].attrs[slot] = -1;
}

static void op_set_attr_name(directory *d, model *m) {
  int slot = (int)rng_below(DIR_ATTR_SLOTS);
  int name = (int)rng_below(NAME_POOL);
  int rc = directory_set_attr_name(d, slot, attr_name_of(name));
  int owner = -1;
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    if (m->attr_names[s] == name)
      owner = s;
  if (owner >= 0 && owner != slot) {
    assert_int_equal(rc, -EEXIST);
  } else {
    assert_int_equal(rc, 0);
    m->attr_names[slot] = name;
  }
}

/* The records agree with the model, account by account. */
static void check_records(const directory *d, const model *m) {
  assert_int_equal(directory_next_uid(d), m->next_uid);
  assert_int_equal(directory_account_count(d), (size_t)m->n_live);
  for (uint32_t uid = 0; uid < m->next_uid + 3; uid++) {
    if (!model_live(m, uid)) {
      assert_null(directory_user_id(d, uid));
      continue;
    }
    const model_account *a = &m->accounts[uid];
    assert_string_equal(directory_user_id(d, uid), a->user_id);
    assert_int_equal(directory_find(d, a->user_id), uid);
    size_t count;
    const char *const *tags = directory_tags(d, uid, &count);
    assert_int_equal(count, (size_t)a->n_tags);
    for (int i = 0; i < a->n_tags; i++)
      assert_string_equal(tags[i], tag_name(a->tags[i]));
    for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
      const char *value = directory_attr_value(d, uid, s);
      if (a->attrs[s] < 0)
        assert_null(value);
      else
        assert_string_equal(value, value_name(a->attrs[s]));
    }
  }
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
    if (m->attr_names[s] < 0)
      assert_null(directory_attr_name(d, s));
    else
      assert_string_equal(directory_attr_name(d, s), attr_name_of(m->attr_names[s]));
  }
}

/* A bitmap the directory returned (NULL = nobody) equals the expected set. */
static void assert_index_matches(const roaring_bitmap_t *actual, const roaring_bitmap_t *expected) {
  if (roaring_bitmap_is_empty(expected)) {
    assert_null(actual);
  } else {
    assert_non_null(actual);
    assert_true(roaring_bitmap_equals(actual, expected));
  }
}

/* Recomputes every bitmap by brute force from the directory's own records. */
static void check_bitmaps(const directory *d, uint32_t uid_limit) {
  roaring_bitmap_t *all = roaring_bitmap_create();
  roaring_bitmap_t *by_tag[TAG_POOL];
  roaring_bitmap_t *by_value[DIR_ATTR_SLOTS][VALUE_POOL];
  for (int t = 0; t < TAG_POOL; t++)
    by_tag[t] = roaring_bitmap_create();
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    for (int v = 0; v < VALUE_POOL; v++)
      by_value[s][v] = roaring_bitmap_create();

  for (uint32_t uid = 0; uid < uid_limit; uid++) {
    if (!directory_user_id(d, uid))
      continue;
    roaring_bitmap_add(all, uid);
    size_t count;
    const char *const *tags = directory_tags(d, uid, &count);
    for (size_t i = 0; i < count; i++)
      roaring_bitmap_add(by_tag[atoi(tags[i] + 1)], uid);
    for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
      const char *value = directory_attr_value(d, uid, s);
      if (value)
        roaring_bitmap_add(by_value[s][atoi(value + 1)], uid);
    }
  }

  assert_true(roaring_bitmap_equals(directory_all(d), all));
  size_t distinct_tags = 0;
  for (int t = 0; t < TAG_POOL; t++) {
    assert_index_matches(directory_tag_members(d, tag_name(t)), by_tag[t]);
    distinct_tags += !roaring_bitmap_is_empty(by_tag[t]);
    roaring_bitmap_free(by_tag[t]);
  }
  assert_int_equal(directory_tag_count(d), distinct_tags);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
    for (int v = 0; v < VALUE_POOL; v++) {
      assert_index_matches(directory_attr_members(d, s, value_name(v)), by_value[s][v]);
      roaring_bitmap_free(by_value[s][v]);
    }
  }
  roaring_bitmap_free(all);
}

static void test_random_operations_match_model(void **state) {
  (void)state;
  static model m; /* large; keep it off the stack */
  memset(&m, 0, sizeof m);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    m.attr_names[s] = -1;
  directory *d = directory_new();
  assert_non_null(d);
  rng_seed(20240611);
  for (int op = 0; op < RANDOM_OPS; op++) {
    /* Per mille. Accounts live long enough, and few enough share the tag adds, that some
    ** reach the 100-tag cap; a few are removed and re-imported all along. */
    uint32_t r = rng_below(1000);
    if (r < 30)
      op_add_account(d, &m);
    else if (r < 33)
      op_remove_account(d, &m);
    else if (r < 560)
      op_add_tag(d, &m);
    else if (r < 640)
      op_remove_tag(d, &m);
    else if (r < 645)
      op_remove_all_tags(d, &m);
    else if (r < 815)
      op_set_attr(d, &m);
    else if (r < 925)
      op_remove_attr(d, &m);
    else
      op_set_attr_name(d, &m);
    if (op % 97 == 0) {
      check_records(d, &m);
      check_bitmaps(d, m.next_uid + 3);
    }
  }
  check_records(d, &m);
  check_bitmaps(d, m.next_uid + 3);
  /* The run reached the tag cap and the account churn it was meant to. */
  assert_true(m.enospc_seen > 0);
  assert_true(m.next_uid > 50);
  print_message("random run: %u uids, %d live, %d refusals at the tag cap, %zu distinct tags\n",
                m.next_uid, m.n_live, m.enospc_seen, directory_tag_count(d));

  /* Removing every account empties every index. */
  for (uint32_t uid = 0; uid < m.next_uid; uid++)
    if (m.accounts[uid].live)
      assert_int_equal(directory_remove_account(d, uid), 0);
  assert_int_equal(directory_tag_count(d), 0);
  assert_true(roaring_bitmap_is_empty(directory_all(d)));
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    for (int v = 0; v < VALUE_POOL; v++)
      assert_null(directory_attr_members(d, s, value_name(v)));
  directory_free(d);
}

/* ---------------------------------------------------------------- memory */

static void test_memory_one_million_accounts(void **state) {
  (void)state;
  enum { N = 1000000, TAGS_EACH = 3, TAG_KINDS = 50, CITIES = 30 };
  static const char *const sexes[] = {"F", "M"};
  char user_id[32], text[32];

  struct mallinfo2 heap_before = mallinfo2();
  clock_t started = clock();
  directory *d = directory_new();
  assert_non_null(d);
  assert_int_equal(directory_set_attr_name(d, 0, "sex"), 0);
  assert_int_equal(directory_set_attr_name(d, 1, "city"), 0);
  rng_seed(99);
  size_t id_bytes = 0;
  for (uint32_t i = 0; i < N; i++) {
    snprintf(user_id, sizeof user_id, "user_%07u", i);
    uint32_t uid = directory_next_uid(d);
    assert_int_equal(directory_add_account(d, uid, user_id), 0);
    id_bytes += strlen(user_id) + 1;
    /* Three distinct tags: a random start and two steps that cannot wrap onto it. */
    uint32_t first = rng_below(TAG_KINDS);
    for (uint32_t k = 0; k < TAGS_EACH; k++) {
      snprintf(text, sizeof text, "tag_%02u", (first + k * 7) % TAG_KINDS);
      assert_int_equal(directory_add_tag(d, uid, text), 1);
    }
    assert_int_equal(directory_set_attr(d, uid, 0, sexes[rng_below(2)]), 0);
    snprintf(text, sizeof text, "city_%02u", rng_below(CITIES));
    assert_int_equal(directory_set_attr(d, uid, 1, text), 0);
  }
  double seconds = (double)(clock() - started) / CLOCKS_PER_SEC;
  size_t bytes = directory_memory_bytes(d);
  struct mallinfo2 heap_after = mallinfo2();
  size_t heap = (heap_after.uordblks + heap_after.hblkhd) - (heap_before.uordblks + heap_before.hblkhd);

  assert_int_equal(directory_account_count(d), N);
  assert_int_equal(roaring_bitmap_get_cardinality(directory_all(d)), N);
  assert_int_equal(directory_tag_count(d), TAG_KINDS);
  uint64_t memberships = 0;
  for (int t = 0; t < TAG_KINDS; t++) {
    snprintf(text, sizeof text, "tag_%02d", t);
    memberships += roaring_bitmap_get_cardinality(directory_tag_members(d, text));
  }
  assert_int_equal(memberships, (uint64_t)N * TAGS_EACH);
  assert_int_equal(directory_find(d, "user_0765432"), 765432);

  print_message("1M accounts (3 tags, 2 attrs each) loaded in %.2f s\n", seconds);
  print_message("directory_memory_bytes: %.1f bytes/account (%.1f beyond the %.1f-byte UserIDs)\n",
                (double)bytes / N, (double)(bytes - id_bytes) / N, (double)id_bytes / N);
  print_message("malloc's own count (mallinfo2, meaningless under ASan): %.1f bytes/account\n",
                (double)heap / N);
  assert_true(bytes / N < 200);
  directory_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accounts_add_find_remove),
      cmocka_unit_test(test_uid_never_reused),
      cmocka_unit_test(test_tags_add_keeps_order),
      cmocka_unit_test(test_tags_cap_of_100),
      cmocka_unit_test(test_tags_remove),
      cmocka_unit_test(test_tags_remove_all),
      cmocka_unit_test(test_attr_names),
      cmocka_unit_test(test_attr_values),
      cmocka_unit_test(test_tags_and_attrs_together),
      cmocka_unit_test(test_remove_account_clears_everything),
      cmocka_unit_test(test_strmap_churn),
      cmocka_unit_test(test_random_operations_match_model),
      cmocka_unit_test(test_memory_one_million_accounts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
