/*
** mode_load.c — `imcast-bench load`: bulk-imports N accounts through the API
** (multiaccount_import, 100 a call, pipelined), then times --pushes im_push calls to every
** account — all offline — with MsgLifeTime --lifetime (3600): the median answer time.
*/
#include <stdio.h>
#include <stdlib.h>

#include "modes.h"
#include "pusher.h"
#include "rest.h"

#define LOAD_WINDOW 16
#define PUSH_GAP_MS 200

/* Times each push alone (its answer), with a pause between them. */
static int time_pushes(const bench_opts *o, double *ms, uint32_t n)
{
  pusher p;
  if (pusher_open(&p, o) != 0) return -1;
  for (uint32_t k = 0; k < n; k++) {
    uint64_t t0 = now_ns();
    char task[96];
    if (pusher_send(&p, k, t0, o->lifetime) != 0 || pusher_answer(&p, task, sizeof task, NULL) != 0) {
      pusher_close(&p);
      return -1;
    }
    ms[k] = ms_between(t0, now_ns());
    sleep_ms(PUSH_GAP_MS);
  }
  pusher_close(&p);
  return 0;
}

int mode_load(const bench_opts *o)
{
  if (o->target != TARGET_IMCAST) die("load needs --target imcast");
  rest r;
  if (rest_open(&r, o) != 0) return 1;
  uint64_t t0 = now_ns();
  int rc = rest_import(&r, o->prefix, 0, o->accounts, o->tags, LOAD_WINDOW);
  double load_s = ms_between(t0, now_ns()) / 1000;
  rest_close(&r);
  if (rc != 0) return 1;
  long rss = o->pid ? rss_kib(o->pid) : -1;
  double *ms = xcalloc(o->pushes, sizeof *ms);
  if (time_pushes(o, ms, o->pushes) != 0) return 1;
  double worst = 0;
  for (uint32_t k = 0; k < o->pushes; k++) worst = ms[k] > worst ? ms[k] : worst;
  double med = median_d(ms, o->pushes);       /* sorts ms */
  printf("mode=load target=imcast accounts=%u tags=%u load_s=%.1f accounts_per_s=%.0f rss_kib=%ld "
         "pushes=%u lifetime=%u push_ms_median=%.3f push_ms_min=%.3f push_ms_max=%.3f\n",
         o->accounts, o->tags, load_s, o->accounts / load_s, rss, o->pushes, o->lifetime, med,
         o->pushes ? ms[0] : 0, worst);
  printf("# loaded %u accounts in %.1f s (%.0f/s); im_push to all of them, offline, MsgLifeTime %u:\n"
         "#   median %.2f ms over %u pushes (min %.2f, max %.2f)\n",
         o->accounts, load_s, o->accounts / load_s, o->lifetime, med, o->pushes,
         o->pushes ? ms[0] : 0, worst);
  free(ms);
  return 0;
}
