/*
** test_ipcount.c — per-address counts through growth and removal.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "net/ipcount.h"

static void test_counts(void **state)
{
  (void)state;
  ipcount *t = ipcount_new();
  char ip[64];
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 2000; i++) {
      snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
      assert_int_equal(ipcount_add(t, ip), (uint32_t)round + 1);
    }
  assert_int_equal(ipcount_add(t, "::1"), 1);
  for (int i = 0; i < 2000; i++) {
    snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
    ipcount_remove(t, ip);
    assert_int_equal(ipcount_get(t, ip), 2);
  }
  ipcount_remove(t, "::1");
  assert_int_equal(ipcount_get(t, "::1"), 0);
  ipcount_remove(t, "never seen");   /* harmless */
  ipcount_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_counts)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
