/*
** test_regress_auth_expiry.c — regression for a crash found by fuzz/fuzz_usersig.c.
**
** auth_check caches a verified sig with its absolute expiry TLS.time + TLS.expire. For a
** sig whose sum passes INT64_MAX (usersig_verify treats it as "never expires") the sum
** overflowed: undefined behaviour (UBSan aborts), and in practice a negative expiry, so
** the first call said 0 and every cached call after it said 70001 (expired).
** The input is the fuzzer's: time 5490817391271751754, expire 8743285057033678155, replayed
** through the same entry point (usersig_gen, then auth_check twice); plus the edge cases.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/auth.h"
#include "common/usersig.h"

#define KEY "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
#define APPID 1400000000ull
#define NOW 1700000100LL

static void check_twice(int64_t time, int64_t expire, int64_t now, int want)
{
  char sig[USERSIG_MAX_LEN + 1];
  assert_true(usersig_gen(KEY, APPID, "u1", time, expire, sig, sizeof sig) > 0);
  auth_cache *c = auth_cache_new();
  assert_non_null(c);
  assert_int_equal(auth_check(c, KEY, APPID, "u1", sig, now), want); /* verified */
  assert_int_equal(auth_check(c, KEY, APPID, "u1", sig, now), want); /* from the cache */
  auth_cache_free(c);
}

static void fuzzer_input(void **state)
{
  (void)state;
  check_twice(5490817391271751754LL, 8743285057033678155LL, NOW, 0);
}

static void never_expires(void **state)
{
  (void)state;
  check_twice(NOW, INT64_MAX, NOW, 0);
  check_twice(INT64_MAX, INT64_MAX, NOW, 0);
  check_twice(1, INT64_MAX - 1, INT64_MAX, 0);   /* exactly INT64_MAX: valid up to it */
}

static void still_expires(void **state)
{
  (void)state;
  check_twice(NOW - 100, 99, NOW, 70001);
  check_twice(INT64_MIN, INT64_MAX, NOW, 70001);  /* sums to -1 without overflow */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(fuzzer_input),
    cmocka_unit_test(never_expires),
    cmocka_unit_test(still_expires),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
