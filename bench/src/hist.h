/*
** hist.h — a log-linear latency histogram (microseconds, under 1% relative error).
**
** Values below 128 us are exact; above, each power of two is split into 64 buckets. It is
** a flat struct of counters, so receiver processes send it to the parent as raw bytes and
** the parent merges them with hist_merge().
*/
#ifndef IMCAST_BENCH_HIST_H
#define IMCAST_BENCH_HIST_H

#include <stdint.h>

#define HIST_BUCKETS (128 + 40 * 64)

typedef struct hist {
  uint64_t count, max_us, sum_us;
  uint64_t bucket[HIST_BUCKETS];
} hist;

void hist_add(hist *h, uint64_t us);
void hist_merge(hist *into, const hist *from);
/* The value under which a fraction q (0..1) of the samples fall, in milliseconds. */
double hist_quantile_ms(const hist *h, double q);
double hist_max_ms(const hist *h);

#endif
