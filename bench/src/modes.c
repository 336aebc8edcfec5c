/*
** modes.c — setup shared by the modes (see modes.h).
*/
#include <stdio.h>

#include "modes.h"
#include "rest.h"

#define IMPORT_WINDOW 8

const char *target_name(const bench_opts *o) { return o->target == TARGET_REDIS ? "redis" : "imcast"; }

rx_conf receivers_conf(const bench_opts *o, uint32_t n, uint32_t max_pushes, uint32_t expect)
{
  rx_conf c = {.target = o->target, .key = o->key, .sdkappid = o->sdkappid,
               .prefix = o->prefix, .channel = o->channel, .total = n, .procs = o->procs,
               .src_addrs = o->src_addrs, .window = o->window, .max_pushes = max_pushes,
               .expect = expect, .ack = !o->no_ack, .ack_delay_ms = o->ack_delay_ms, .ping_ms = o->ping_ms,
               .run = o->run};
  const char *host = o->target == TARGET_REDIS ? o->redis_host : o->host;
  snprintf(c.host, sizeof c.host, "%s", host);
  c.port = o->target == TARGET_REDIS ? o->redis_port : o->port;
  return c;
}

int setup_accounts(const bench_opts *o, uint32_t n)
{
  if (o->target == TARGET_REDIS) return 0;
  rest r;
  if (rest_open(&r, o) != 0) return -1;
  uint64_t t0 = now_ns();
  int rc = rest_import(&r, o->prefix, 0, n, o->tags, IMPORT_WINDOW);
  rest_close(&r);
  if (rc == 0)
    fprintf(stderr, "imported %u accounts%s in %.1f s\n", n, o->tags ? " (tagged)" : "",
            ms_between(t0, now_ns()) / 1000);
  return rc;
}

rx_set *open_receivers(const rx_conf *c, double *connect_s)
{
  uint64_t t0 = now_ns(), open, failed, t_all;
  rx_set *s = rx_start(c);
  int timeout_ms = 60000 + (int)(c->total / 10);
  if (rx_wait_open(s, timeout_ms, &open, &failed, &t_all) != 0) {
    fprintf(stderr, "imcast-bench: receivers not open after %d ms (%llu open)\n", timeout_ms,
            (unsigned long long)open);
    rx_totals t;
    rx_finish(s, &t);
    rx_totals_free(&t);
    return NULL;
  }
  *connect_s = ms_between(t0, t_all) / 1000;
  if (failed)
    fprintf(stderr, "imcast-bench: %llu of %u receivers could not connect\n",
            (unsigned long long)failed, c->total);
  fprintf(stderr, "%llu receivers open in %.1f s\n", (unsigned long long)open, *connect_s);
  return s;
}
