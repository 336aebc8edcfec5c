/*
** rxproc.h — many receivers, in one or more forked processes.
**
** A receiver is either an imcast WebSocket receiver (GET /v4/ws with its own UserSig,
** waits for Hello, Acks every Msg: one Ack per connection per loop turn, for the highest
** Seq) or a Redis subscriber (SUBSCRIBE channel, waits for the confirmation). Both time
** each message's arrival with uv_hrtime() against the send time carried in the payload
** (payload_make) and keep, per push index, the number of arrivals and the latest one.
**
** Receivers beyond one process's file limit are spread over several processes (fork),
** and over several source addresses 127.0.0.1..N (bind before connect, the port picked at
** connect time), so 20,000+ receivers fit in the ephemeral port range. Connects are paced:
** at most `window` handshakes in flight per process; a failed connect is retried.
**
** The parent talks to its processes through pipes: they report when every receiver is
** open, when each push reached all of their receivers, when every receiver holds
** `expect` messages; at the end they send their counters and histograms and exit,
** resetting their connections (no TIME_WAIT left behind).
*/
#ifndef IMCAST_BENCH_RXPROC_H
#define IMCAST_BENCH_RXPROC_H

#include "bench.h"
#include "hist.h"

typedef struct rx_conf {
  bench_target target;
  char host[64];
  int port;
  const char *key;
  uint64_t sdkappid;
  const char *prefix;      /* receiver i is account prefix + i */
  const char *channel;     /* Redis */
  uint32_t total;          /* receivers over all processes */
  int procs;               /* 0: as few as the file limit allows */
  int src_addrs;
  int window;
  uint32_t max_pushes;     /* push indexes counted: 0 .. max_pushes-1 */
  uint32_t expect;         /* login storm: messages each receiver waits for; 0: none */
  bool ack;
  int ack_delay_ms;        /* 0: Acks at the end of each loop turn */
  int ping_ms;
  uint32_t run;            /* only payloads of this run are counted */
} rx_conf;

typedef struct rx_totals {
  uint64_t open, failed, lost, caught_up;
  uint64_t t_first_start, t_all_open, t_caught_up;   /* uv_hrtime() */
  uint32_t max_pushes;
  uint64_t *count, *last;  /* per push index: arrivals, latest arrival time */
  hist latency;            /* push -> receiver, every arrival */
  hist login;              /* login storm: connect start -> `expect` messages held */
  long rss_kib;            /* the receiver processes' RSS, summed */
  uint64_t cpu_us_after_open;  /* their CPU time once every receiver was open, summed */
  int procs;
} rx_totals;

typedef struct rx_set rx_set;

/* Forks the receiver processes; they start connecting at once. */
rx_set *rx_start(const rx_conf *conf);
/* Waits until every receiver is open or has failed for good. 0, or -1 on timeout. */
int rx_wait_open(rx_set *s, int timeout_ms, uint64_t *open, uint64_t *failed,
                 uint64_t *t_all_open);
/* Waits until pushes [first, first+n) reached every open receiver. 0, or -1 on timeout. */
int rx_wait_pushes(rx_set *s, uint32_t first, uint32_t n, int timeout_ms);
/* Waits until every receiver holds `expect` messages (their Acks written). 0 or -1. */
int rx_wait_caught_up(rx_set *s, int timeout_ms);
/* Collects the processes' results into t, ends them, frees s. */
void rx_finish(rx_set *s, rx_totals *t);
void rx_totals_free(rx_totals *t);

#endif
