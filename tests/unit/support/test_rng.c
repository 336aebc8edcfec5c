/* test_rng.c — see test_rng.h. */
#include "support/test_rng.h"

static uint64_t rng_state = 1;

void rng_seed(uint64_t seed) { rng_state = seed ? seed : 1; } /* 0 would stay 0 for ever */

uint32_t rng_next(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t rng_below(uint32_t n) { return rng_next() % n; }
