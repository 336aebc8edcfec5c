/*
** test_sessions.c — the online registry against a brute-force model, under churn.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/sessions.h"

static void test_one_account_several_connections(void **state)
{
  (void)state;
  sessions *r = sessions_new();
  session a = {.uid = 7}, b = {.uid = 7}, c = {.uid = 9};
  assert_int_equal(sessions_add(r, &a), 0);
  assert_int_equal(sessions_add(r, &b), 0);
  assert_int_equal(sessions_add(r, &c), 0);
  assert_int_equal(sessions_count_of(r, 7), 2);
  assert_int_equal(sessions_total(r), 3);
  assert_true(roaring_bitmap_contains(sessions_online(r), 7));
  sessions_remove(r, &a);
  assert_int_equal(sessions_count_of(r, 7), 1);
  assert_ptr_equal(sessions_of(r, 7), &b);
  assert_true(roaring_bitmap_contains(sessions_online(r), 7));
  sessions_remove(r, &b);
  assert_null(sessions_of(r, 7));
  assert_false(roaring_bitmap_contains(sessions_online(r), 7));
  assert_ptr_equal(sessions_of(r, 9), &c);
  sessions_remove(r, &c);
  assert_int_equal(sessions_total(r), 0);
  assert_int_equal(roaring_bitmap_get_cardinality(sessions_online(r)), 0);
  sessions_free(r);
}

/* Random adds and removes across a few thousand uids (forcing growth and backward-shift
** deletions); after every step the registry agrees with a plain per-uid count. */
static void test_churn_matches_model(void **state)
{
  (void)state;
  enum { N = 6000, UIDS = 2500, STEPS = 40000 };
  sessions *r = sessions_new();
  session *pool = calloc(N, sizeof *pool);
  int *in = calloc(N, sizeof *in);
  int *count = calloc(UIDS, sizeof *count);
  srand(12345);
  size_t total = 0;
  for (int step = 0; step < STEPS; step++) {
    int i = rand() % N;
    if (!in[i]) {
      pool[i].uid = (uint32_t)(rand() % UIDS) * 4099u;  /* spread, colliding hashes */
      assert_int_equal(sessions_add(r, &pool[i]), 0);
      in[i] = 1;
      count[pool[i].uid / 4099u]++;
      total++;
    } else {
      sessions_remove(r, &pool[i]);
      in[i] = 0;
      count[pool[i].uid / 4099u]--;
      total--;
    }
    if (step % 997 == 0) {
      for (uint32_t u = 0; u < UIDS; u++) {
        assert_int_equal(sessions_count_of(r, u * 4099u), count[u]);
        assert_int_equal(roaring_bitmap_contains(sessions_online(r), u * 4099u), count[u] > 0);
      }
      assert_int_equal(sessions_total(r), total);
    }
  }
  sessions_free(r);
  free(pool);
  free(in);
  free(count);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_one_account_several_connections),
    cmocka_unit_test(test_churn_matches_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
