/*
** test_ratelimit.c — the per-address token buckets, on a clock the test moves by hand.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "net/ratelimit.h"

#define MS 1000000ULL
#define T0 (1000 * 1000 * MS)   /* an arbitrary monotonic start, not 0 */

/* How many of n requests from ip at `now` are allowed. */
static int allowed(ratelimit *rl, const char *ip, uint64_t now, int n)
{
  int ok = 0;
  for (int i = 0; i < n; i++) ok += ratelimit_take(rl, ip, now, NULL);
  return ok;
}

static void test_burst_then_refill(void **state)
{
  (void)state;
  ratelimit *rl = ratelimit_new(5, 100);
  assert_int_equal(allowed(rl, "10.0.0.1", T0, 8), 5);          /* one second's worth */
  uint64_t retry = 0;
  assert_false(ratelimit_take(rl, "10.0.0.1", T0, &retry));
  assert_int_equal(retry, 200 * MS);                             /* one interval */
  assert_false(ratelimit_take(rl, "10.0.0.1", T0 + 199 * MS, &retry));
  assert_int_equal(retry, 1 * MS);
  assert_true(ratelimit_take(rl, "10.0.0.1", T0 + 200 * MS, NULL));
  assert_false(ratelimit_take(rl, "10.0.0.1", T0 + 200 * MS, NULL));
  /* steady at the rate: every 200 ms one more, never two */
  for (int i = 2; i < 20; i++) {
    assert_true(ratelimit_take(rl, "10.0.0.1", T0 + (uint64_t)i * 200 * MS, NULL));
    assert_false(ratelimit_take(rl, "10.0.0.1", T0 + (uint64_t)i * 200 * MS, NULL));
  }
  /* after a quiet second the whole burst is back, and no more */
  assert_int_equal(allowed(rl, "10.0.0.1", T0 + 5000 * MS, 9), 5);
  ratelimit_free(rl);
}

static void test_refused_requests_cost_nothing(void **state)
{
  (void)state;
  ratelimit *rl = ratelimit_new(2, 100);
  assert_int_equal(allowed(rl, "a", T0, 2), 2);
  assert_int_equal(allowed(rl, "a", T0 + 100 * MS, 1000), 0);   /* a flood of refusals */
  assert_true(ratelimit_take(rl, "a", T0 + 500 * MS, NULL));     /* not pushed back */
  ratelimit_free(rl);
}

static void test_addresses_are_independent(void **state)
{
  (void)state;
  ratelimit *rl = ratelimit_new(3, 100);
  assert_int_equal(allowed(rl, "10.0.0.1", T0, 4), 3);
  assert_int_equal(allowed(rl, "10.0.0.2", T0, 4), 3);
  assert_int_equal(allowed(rl, "::1", T0, 4), 3);
  assert_int_equal(ratelimit_entries(rl), 3);
  ratelimit_free(rl);
}

static void test_one_per_second(void **state)
{
  (void)state;
  ratelimit *rl = ratelimit_new(1, 10);
  uint64_t retry = 0;
  assert_true(ratelimit_take(rl, "x", T0, NULL));
  assert_false(ratelimit_take(rl, "x", T0 + 999 * MS, &retry));
  assert_int_equal(retry, 1 * MS);
  assert_true(ratelimit_take(rl, "x", T0 + 1000 * MS, NULL));
  ratelimit_free(rl);
}

/* Addresses idle for a second are forgotten: memory follows the active ones. */
static void test_idle_entries_dropped(void **state)
{
  (void)state;
  ratelimit *rl = ratelimit_new(10, 100000);
  char ip[64];
  for (int i = 0; i < 5000; i++) {
    snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
    assert_true(ratelimit_take(rl, ip, T0 + (uint64_t)i * 100, NULL));
  }
  assert_int_equal(ratelimit_entries(rl), 5000);
  assert_true(ratelimit_take(rl, "10.9.9.9", T0 + 1100 * MS, NULL));
  assert_int_equal(ratelimit_entries(rl), 1);                    /* the others were full */
  ratelimit_free(rl);
}

/* At the cap the least recently seen address makes room; the busy ones stay limited. */
static void test_cap_evicts_coldest(void **state)
{
  (void)state;
  ratelimit *rl = ratelimit_new(2, 4);
  char ip[32];
  assert_int_equal(allowed(rl, "hot", T0, 2), 2);
  for (int i = 0; i < 50; i++) {
    snprintf(ip, sizeof ip, "10.0.0.%d", i);
    uint64_t now = T0 + (uint64_t)i * MS;
    assert_true(ratelimit_take(rl, ip, now, NULL));
    assert_false(ratelimit_take(rl, "hot", now, NULL));          /* stays hot, stays limited */
    assert_true(ratelimit_entries(rl) <= 4);
  }
  /* 10.0.0.0 was evicted long ago: it starts again with a full burst */
  assert_int_equal(allowed(rl, "10.0.0.0", T0 + 50 * MS, 3), 2);
  ratelimit_free(rl);
}

static void test_bad_arguments(void **state)
{
  (void)state;
  assert_null(ratelimit_new(0, 10));
  assert_null(ratelimit_new(10, 0));
  ratelimit_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_then_refill),
      cmocka_unit_test(test_refused_requests_cost_nothing),
      cmocka_unit_test(test_addresses_are_independent),
      cmocka_unit_test(test_one_per_second),
      cmocka_unit_test(test_idle_entries_dropped),
      cmocka_unit_test(test_cap_evicts_coldest),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
