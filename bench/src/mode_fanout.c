/*
** mode_fanout.c — `imcast-bench fanout`: N receivers, K pushes in bursts of B.
**
** Per push: the time from just before its request is written to each receiver holding it
** (p50, p99, max over every delivery), and to the LAST receiver (median over pushes).
** Per burst: deliveries / (last arrival of the burst - first send of the burst), median
** over bursts. After a burst the next one waits until the burst reached every receiver
** (or --timeout-ms), then --gap-ms.
*/
#include <stdio.h>
#include <stdlib.h>

#include "modes.h"
#include "pusher.h"

typedef struct fanout_run {
  uint32_t k, b;            /* pushes, burst */
  uint64_t *sent;           /* per push: send time */
  double *answer_ms;        /* per push: time to its answer */
  long long min_redis_receivers;
  uint32_t incomplete;      /* bursts that timed out */
  double user_ms, sys_ms;   /* the server's CPU over the pushes (--pid), -1 unknown */
} fanout_run;

/* Writes one burst back to back, then reads its answers. 0 or -1. */
static int send_burst(pusher *p, fanout_run *run, uint32_t first, uint32_t n)
{
  for (uint32_t j = 0; j < n; j++) {
    run->sent[first + j] = now_ns();
    if (pusher_send(p, first + j, run->sent[first + j], p->o->lifetime) != 0) return -1;
  }
  for (uint32_t j = 0; j < n; j++) {
    long long receivers;
    if (pusher_answer(p, NULL, 0, &receivers) != 0) return -1;
    run->answer_ms[first + j] = ms_between(run->sent[first + j], now_ns());
    if (receivers >= 0 && (run->min_redis_receivers < 0 || receivers < run->min_redis_receivers))
      run->min_redis_receivers = receivers;
  }
  return 0;
}

/* The server's CPU time since the last call (--pid): run->user_ms and sys_ms. */
static void server_cpu(const bench_opts *o, fanout_run *run, bool start)
{
  double u, s;
  if (!o->pid || cpu_ms(o->pid, &u, &s) != 0) {
    run->user_ms = run->sys_ms = -1;
  } else if (start) {
    run->user_ms = u;
    run->sys_ms = s;
  } else if (run->user_ms >= 0) {
    run->user_ms = u - run->user_ms;
    run->sys_ms = s - run->sys_ms;
  }
}

static int run_pushes(const bench_opts *o, rx_set *s, fanout_run *run)
{
  pusher p;
  if (pusher_open(&p, o) != 0) return -1;
  server_cpu(o, run, true);
  for (uint32_t first = 0; first < run->k; first += run->b) {
    uint32_t n = run->k - first < run->b ? run->k - first : run->b;
    if (send_burst(&p, run, first, n) != 0) {
      pusher_close(&p);
      return -1;
    }
    if (rx_wait_pushes(s, first, n, o->timeout_ms) != 0) run->incomplete++;
    if (o->gap_ms > 0) sleep_ms(o->gap_ms);
  }
  server_cpu(o, run, false);
  pusher_close(&p);
  return 0;
}

typedef struct fanout_result {
  uint64_t delivered, expected;
  double last_ms_median, rate_median, answer_ms_median;
} fanout_result;

static void summarize(const fanout_run *run, const rx_totals *t, fanout_result *res)
{
  uint32_t n_bursts = (run->k + run->b - 1) / run->b;
  double *last = xcalloc(run->k, sizeof *last), *rate = xcalloc(n_bursts, sizeof *rate);
  size_t n_last = 0, n_rate = 0;
  res->delivered = 0;
  res->expected = (uint64_t)run->k * t->open;
  for (uint32_t k = 0; k < run->k; k++) {
    res->delivered += t->count[k];
    if (t->count[k]) last[n_last++] = ms_between(run->sent[k], t->last[k]);
  }
  for (uint32_t first = 0; first < run->k; first += run->b) {
    uint64_t end = 0, delivered = 0;
    for (uint32_t k = first; k < first + run->b && k < run->k; k++) {
      delivered += t->count[k];
      if (t->last[k] > end) end = t->last[k];
    }
    double ms = ms_between(run->sent[first], end);
    if (delivered && ms > 0) rate[n_rate++] = (double)delivered / (ms / 1000);
  }
  res->last_ms_median = median_d(last, n_last);
  res->rate_median = median_d(rate, n_rate);
  double *answers = xcalloc(run->k, sizeof *answers);
  for (uint32_t k = 0; k < run->k; k++) answers[k] = run->answer_ms[k];
  res->answer_ms_median = median_d(answers, run->k);
  free(answers);
  free(last);
  free(rate);
}

static void print_result(const bench_opts *o, const fanout_run *run, const rx_totals *t,
                         const fanout_result *res, double connect_s)
{
  double per = run->user_ms >= 0 && res->delivered ? (run->user_ms + run->sys_ms) * 1000 / (double)res->delivered : -1;
  double bench_per = res->delivered ? (double)t->cpu_us_after_open / (double)res->delivered : -1;
  printf("mode=fanout target=%s receivers=%u open=%llu pushes=%u burst=%u payload=%u tags=%u "
         "procs=%d delivered=%llu expected=%llu lost=%llu incomplete_bursts=%u "
         "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f last_ms_median=%.3f deliveries_per_s=%.0f "
         "answer_ms_median=%.3f connect_s=%.2f bench_rss_kib=%ld server_user_ms=%.0f "
         "server_sys_ms=%.0f server_cpu_us_per_delivery=%.2f bench_cpu_us_per_delivery=%.2f\n",
         target_name(o), o->receivers, (unsigned long long)t->open, run->k, run->b, o->payload,
         o->tags, t->procs, (unsigned long long)res->delivered, (unsigned long long)res->expected,
         (unsigned long long)t->lost, run->incomplete, hist_quantile_ms(&t->latency, 0.5),
         hist_quantile_ms(&t->latency, 0.99), hist_max_ms(&t->latency), res->last_ms_median,
         res->rate_median, res->answer_ms_median, connect_s, t->rss_kib, run->user_ms,
         run->sys_ms, per, bench_per);
  printf("# %s fan-out to %llu receivers, %u pushes in bursts of %u (%u-byte payload):\n"
         "#   push->receiver p50 %.1f ms, p99 %.1f ms, max %.1f ms; last receiver (median) %.1f ms\n"
         "#   %.0f deliveries/s (median over bursts); %llu of %llu delivered; answer %.2f ms\n",
         target_name(o), (unsigned long long)t->open, run->k, run->b, o->payload,
         hist_quantile_ms(&t->latency, 0.5), hist_quantile_ms(&t->latency, 0.99),
         hist_max_ms(&t->latency), res->last_ms_median, res->rate_median,
         (unsigned long long)res->delivered, (unsigned long long)res->expected,
         res->answer_ms_median);
  if (per >= 0)
    printf("#   server CPU over the pushes: %.0f ms user + %.0f ms system = %.2f us per delivery"
           " (receivers: %.2f us)\n", run->user_ms, run->sys_ms, per, bench_per);
  if (run->min_redis_receivers >= 0 && (uint64_t)run->min_redis_receivers < t->open)
    printf("# warning: a PUBLISH reached only %lld subscribers\n", run->min_redis_receivers);
}

int mode_fanout(const bench_opts *o)
{
  if (setup_accounts(o, o->receivers) != 0) return 1;
  rx_conf conf = receivers_conf(o, o->receivers, o->pushes, 0);
  double connect_s;
  rx_set *s = open_receivers(&conf, &connect_s);
  if (!s) return 1;
  sleep_ms(300);                            /* let the logins' last writes settle */
  fanout_run run = {.k = o->pushes, .b = o->burst, .min_redis_receivers = -1};
  run.sent = xcalloc(run.k, sizeof *run.sent);
  run.answer_ms = xcalloc(run.k, sizeof *run.answer_ms);
  int rc = run_pushes(o, s, &run);
  rx_totals t;
  rx_finish(s, &t);
  if (rc == 0) {
    fanout_result res;
    summarize(&run, &t, &res);
    print_result(o, &run, &t, &res, connect_s);
  }
  rx_totals_free(&t);
  free(run.sent);
  free(run.answer_ms);
  return rc == 0 ? 0 : 1;
}
