/*
** metrics.h — counters and histograms, written out in the Prometheus text format.
**
** The owner keeps its metrics in plain structs (one loop thread: no atomics) and renders
** them on GET /metrics. A histogram has fixed bucket bounds (seconds); observing is a
** short scan over at most METRICS_MAX_BUCKETS bounds.
*/
#ifndef IMCAST_METRICS_H
#define IMCAST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_BUCKETS 16

typedef struct histogram {
  const double *bounds;          /* increasing upper bounds, without +Inf */
  size_t n_bounds;
  uint64_t counts[METRICS_MAX_BUCKETS + 1];   /* per bucket (not cumulative); last = +Inf */
  uint64_t count;
  double sum;
} histogram;

/* Latency buckets from 100 µs to 10 s, for requests, commits and deliveries. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_latency_n;

void histogram_init(histogram *h, const double *bounds, size_t n_bounds);
void histogram_observe(histogram *h, double value);

/* A growing text buffer for the exposition. */
typedef struct metrics_text {
  char *buf;
  size_t len, cap;
  int failed;                    /* out of memory: the text is incomplete */
} metrics_text;

void metrics_text_free(metrics_text *t);
void metrics_printf(metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "# HELP name help\n# TYPE name type\n" */
void metrics_header(metrics_text *t, const char *name, const char *type, const char *help);
/* One sample line; labels is "" or e.g. "{command=\"im_push\"}". */
void metrics_sample(metrics_text *t, const char *name, const char *labels, double value);
/* A whole histogram family (with HELP/TYPE), cumulative buckets, _sum and _count. */
void metrics_histogram(metrics_text *t, const char *name, const char *help, const histogram *h);

#endif
