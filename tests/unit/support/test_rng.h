/*
** test_rng.h — xorshift64*: a fixed, libc-independent random sequence for the random tests.
**
** A seed gives the same sequence on every machine and libc, so a failing random test can
** be replayed from its seed. One sequence a test program (the state is global).
*/
#ifndef IMCAST_TEST_RNG_H
#define IMCAST_TEST_RNG_H

#include <stdint.h>

void rng_seed(uint64_t seed);
uint32_t rng_next(void);

/* A value in 0..n-1 (n > 0). */
uint32_t rng_below(uint32_t n);

#endif
