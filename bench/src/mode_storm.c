/*
** mode_storm.c — `imcast-bench login-storm`: N offline accounts each have P live pushes
** pending (P pushes with MsgLifeTime 3600, to the accounts' bench tag, before anyone is
** connected); then all N log in as fast as the connect window allows. Measured: from the
** first connect to every receiver holding its P messages with its Ack written (logins/s),
** the per-login time (connect -> P messages), and until im_get_push_report counts every
** account as Delivered for all P pushes.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modes.h"
#include "pusher.h"
#include "rest.h"

#define STORM_LIFETIME 3600
#define REPORT_POLL_MS 20

typedef struct task_id { char s[96]; } task_id;

/* Pushes P times to the bench's accounts, back to back, keeping the TaskIds. */
static int push_pending(const bench_opts *o, task_id *tasks, uint32_t p)
{
  pusher ps;
  if (pusher_open(&ps, o) != 0) return -1;
  int rc = 0;
  for (uint32_t k = 0; k < p && rc == 0; k++) {
    rc = pusher_send(&ps, k, now_ns(), STORM_LIFETIME);
    if (rc == 0) rc = pusher_answer(&ps, tasks[k].s, sizeof tasks[k].s, NULL);
  }
  pusher_close(&ps);
  return rc;
}

/* Polls the push reports until each push counts n delivered accounts. The time of the
** last poll, or 0 on timeout. */
static uint64_t wait_acked(const bench_opts *o, const task_id *tasks, uint32_t p, uint64_t n,
                           int timeout_ms)
{
  rest r;
  if (rest_open(&r, o) != 0) return 0;
  uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u, done_at = 0;
  uint32_t k = 0;
  while (k < p && now_ns() < deadline) {
    char body[160];
    const char *a;
    size_t alen;
    int len = snprintf(body, sizeof body, "{\"TaskId\":\"%s\"}", tasks[k].s);
    if (rest_call(&r, "all_member_push/im_get_push_report", body, (size_t)len, &a, &alen) != 0) break;
    if (answer_int(a, alen, "Delivered") >= (long long)n) k++;
    else sleep_ms(REPORT_POLL_MS);
  }
  if (k == p) done_at = now_ns();
  rest_close(&r);
  return done_at;
}

static void print_result(const bench_opts *o, const rx_totals *t, uint64_t acked_at)
{
  double caught_s = ms_between(t->t_first_start, t->t_caught_up) / 1000;
  double acked_s = acked_at ? ms_between(t->t_first_start, acked_at) / 1000 : -1;
  double rate = t->caught_up == o->accounts && caught_s > 0 ? o->accounts / caught_s : 0;
  printf("mode=login-storm target=imcast accounts=%u pending=%u payload=%u procs=%d window=%d "
         "caught_up=%llu failed=%llu lost=%llu all_received_s=%.3f all_acked_s=%.3f "
         "logins_per_s=%.0f login_p50_ms=%.1f login_p99_ms=%.1f login_max_ms=%.1f\n",
         o->accounts, o->pending, o->payload, t->procs, o->window,
         (unsigned long long)t->caught_up, (unsigned long long)t->failed,
         (unsigned long long)t->lost, caught_s, acked_s, rate,
         hist_quantile_ms(&t->login, 0.5), hist_quantile_ms(&t->login, 0.99),
         hist_max_ms(&t->login));
  printf("# login storm: %u accounts with %u pending pushes each logged in: %.0f logins/s "
         "(all %u messages held after %.2f s, acked in the push reports after %.2f s);\n"
         "#   per login (connect -> %u messages) p50 %.1f ms, p99 %.1f ms\n",
         o->accounts, o->pending, rate, o->pending, caught_s, acked_s, o->pending,
         hist_quantile_ms(&t->login, 0.5), hist_quantile_ms(&t->login, 0.99));
}

int mode_login_storm(const bench_opts *opts)
{
  bench_opts o = *opts;
  if (o.target != TARGET_IMCAST) die("login-storm needs --target imcast (Redis keeps no offline messages)");
  if (!o.tags) o.tags = 1;                  /* the pushes reach exactly these accounts */
  if (setup_accounts(&o, o.accounts) != 0) return 1;
  task_id *tasks = xcalloc(o.pending, sizeof *tasks);
  if (push_pending(&o, tasks, o.pending) != 0) return 1;
  fprintf(stderr, "%u pushes pending for %u offline accounts\n", o.pending, o.accounts);
  rx_conf conf = receivers_conf(&o, o.accounts, o.pending, o.pending);
  rx_set *s = rx_start(&conf);
  int timeout_ms = 120000 + (int)(o.accounts / 10);
  if (rx_wait_caught_up(s, timeout_ms) != 0)
    fprintf(stderr, "imcast-bench: not every receiver caught up within %d ms\n", timeout_ms);
  uint64_t acked_at = wait_acked(&o, tasks, o.pending, o.accounts, 60000);
  rx_totals t;
  rx_finish(s, &t);
  print_result(&o, &t, acked_at);
  rx_totals_free(&t);
  free(tasks);
  return t.caught_up == o.accounts ? 0 : 1;
}
