/*
** mode_idle.c — `imcast-bench idle`: N receivers connect and stay idle; the server's RSS
** (VmRSS of --pid) before and after gives its memory per idle connection. The accounts
** are imported before the first reading, so only the connections are counted.
*/
#include <stdio.h>

#include "modes.h"

#define SETTLE_MS 1500

int mode_idle(const bench_opts *o)
{
  if (setup_accounts(o, o->receivers) != 0) return 1;
  sleep_ms(SETTLE_MS);
  long before = o->pid ? rss_kib(o->pid) : -1;
  rx_conf conf = receivers_conf(o, o->receivers, 1, 0);
  double connect_s;
  rx_set *s = open_receivers(&conf, &connect_s);
  if (!s) return 1;
  sleep_ms(SETTLE_MS);
  long after = o->pid ? rss_kib(o->pid) : -1;
  rx_totals t;
  rx_finish(s, &t);
  double per_conn = before > 0 && after > 0 && t.open ? (double)(after - before) * 1024 / (double)t.open : -1;
  double bench_per_conn = t.open ? (double)t.rss_kib * 1024 / (double)t.open : -1;
  printf("mode=idle target=%s receivers=%u open=%llu server_pid=%d rss_before_kib=%ld "
         "rss_after_kib=%ld bytes_per_conn=%.0f bench_bytes_per_conn=%.0f connect_s=%.2f\n",
         target_name(o), o->receivers, (unsigned long long)t.open, o->pid, before, after,
         per_conn, bench_per_conn, connect_s);
  if (per_conn >= 0)
    printf("# %s: %llu idle receivers grew the server's RSS by %ld KiB: %.0f bytes per connection\n",
           target_name(o), (unsigned long long)t.open, after - before, per_conn);
  else
    printf("# %s: %llu idle receivers open (pass --pid to read the server's RSS)\n",
           target_name(o), (unsigned long long)t.open);
  rx_totals_free(&t);
  return 0;
}
