/*
** test_workers.c — every item runs exactly once, across many jobs, with any pool size.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "net/workers.h"

static void bump(void *item, void *ctx)
{
  (*(int *)item)++;
  (void)ctx;
}

static void test_each_item_once(void **state)
{
  (void)state;
  enum { N = 5000 };
  int *counts = calloc(N, sizeof *counts);
  void **items = malloc(N * sizeof *items);
  for (size_t i = 0; i < N; i++) items[i] = &counts[i];
  for (unsigned threads = 2; threads <= 4; threads++) {
    workers *w = workers_new(threads);
    assert_non_null(w);
    for (int job = 0; job < 200; job++) workers_run(w, items, (size_t)(job * 37) % N, bump, NULL);
    workers_run(w, items, N, bump, NULL);
    workers_free(w);
  }
  int expected_min = 3;   /* the final full job of each of the three pools */
  long total = 0;
  for (size_t i = 0; i < N; i++) {
    assert_true(counts[i] >= expected_min);
    total += counts[i];
  }
  long want = 0;
  for (int job = 0; job < 200; job++) want += (job * 37) % N;
  assert_int_equal(total, 3 * (want + N));
  free(counts);
  free(items);
}

static void test_single_thread_is_serial(void **state)
{
  (void)state;
  assert_null(workers_new(1));
  assert_null(workers_new(0));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_each_item_once),
    cmocka_unit_test(test_single_thread_is_serial),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
