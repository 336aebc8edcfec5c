/*
** metrics.c — Prometheus text exposition helpers. See metrics.h.
*/
#include "common/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                         5,      10};
const size_t metrics_latency_n = sizeof metrics_latency_bounds / sizeof metrics_latency_bounds[0];

void histogram_init(histogram *h, const double *bounds, size_t n_bounds)
{
  memset(h, 0, sizeof *h);
  h->bounds = bounds;
  h->n_bounds = n_bounds > METRICS_MAX_BUCKETS ? METRICS_MAX_BUCKETS : n_bounds;
}

void histogram_observe(histogram *h, double value)
{
  size_t i = 0;
  while (i < h->n_bounds && value > h->bounds[i]) i++;
  h->counts[i]++;
  h->count++;
  h->sum += value;
}

void metrics_text_free(metrics_text *t)
{
  free(t->buf);
  memset(t, 0, sizeof *t);
}

void metrics_printf(metrics_text *t, const char *fmt, ...)
{
  if (t->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->cap - t->len;
    int n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if ((size_t)n < room) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
    char *grown = realloc(t->buf, cap);
    if (!grown) {
      t->failed = 1;
      return;
    }
    t->buf = grown;
    t->cap = cap;
  }
}

void metrics_header(metrics_text *t, const char *name, const char *type, const char *help)
{
  metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(metrics_text *t, const char *name, const char *labels, double value)
{
  metrics_printf(t, "%s%s %.17g\n", name, labels, value);
}

void metrics_histogram(metrics_text *t, const char *name, const char *help, const histogram *h)
{
  metrics_header(t, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h->n_bounds; i++) {
    cumulative += h->counts[i];
    metrics_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
                   (unsigned long long)cumulative);
  }
  metrics_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n", name,
                 (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}
