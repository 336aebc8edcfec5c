/*
** hist.c — log-linear latency histogram (see hist.h).
*/
#include "hist.h"

static unsigned bucket_of(uint64_t us)
{
  if (us < 128) return (unsigned)us;
  unsigned e = 63u - (unsigned)__builtin_clzll(us);      /* 7 .. 63 */
  if (e > 46) return HIST_BUCKETS - 1;
  unsigned mant = (unsigned)(us >> (e - 6)) & 63u;
  return 128u + (e - 7u) * 64u + mant;
}

/* The middle of a bucket, in microseconds. */
static double bucket_mid(unsigned b)
{
  if (b < 128) return b;
  unsigned e = (b - 128) / 64 + 7, mant = (b - 128) % 64;
  double lo = (double)((64ull + mant) << (e - 6)), width = (double)(1ull << (e - 6));
  return lo + width / 2;
}

void hist_add(hist *h, uint64_t us)
{
  h->bucket[bucket_of(us)]++;
  h->count++;
  h->sum_us += us;
  if (us > h->max_us) h->max_us = us;
}

void hist_merge(hist *into, const hist *from)
{
  into->count += from->count;
  into->sum_us += from->sum_us;
  if (from->max_us > into->max_us) into->max_us = from->max_us;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) into->bucket[i] += from->bucket[i];
}

double hist_quantile_ms(const hist *h, double q)
{
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->count);
  if (rank >= h->count) rank = h->count - 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->bucket[i];
    if (seen > rank) {
      double v = bucket_mid(i);
      return (v > (double)h->max_us ? (double)h->max_us : v) / 1000.0;
    }
  }
  return (double)h->max_us / 1000.0;
}

double hist_max_ms(const hist *h) { return (double)h->max_us / 1000.0; }
