/*
** rx_internal.h — what the parent (rxproc.c) and a receiver process (rxchild.c) say to
** each other over their pipes.
**
** Child -> parent: fixed-size rx_event records (atomic pipe writes). At the end, an
** RX_EV_STATS record is followed by rx_child_stats, count[max_pushes], last[max_pushes]
** and the two histograms. Parent -> child: one byte, RX_CMD_STATS ("send and exit").
*/
#ifndef IMCAST_BENCH_RX_INTERNAL_H
#define IMCAST_BENCH_RX_INTERNAL_H

#include <stdint.h>

#include "rxproc.h"

enum {
  RX_EV_OPEN = 1,      /* b = open, c = failed, d = time the last one opened */
  RX_EV_PUSH_DONE,     /* a = push index, b = arrivals, c = latest arrival */
  RX_EV_CAUGHT_UP,     /* b = receivers, c = time */
  RX_EV_STATS          /* a = max_pushes; the stats follow */
};

#define RX_CMD_STATS 'S'
#define RX_CTL_IN 3      /* a child's pipe from the parent */
#define RX_CTL_OUT 4     /* a child's pipe to the parent */

typedef struct rx_event {
  uint32_t type, a;
  uint64_t b, c, d;
} rx_event;

typedef struct rx_child_stats {
  uint64_t open, failed, lost, caught_up;
  uint64_t t_first_start, t_all_open, t_caught_up;
  int64_t rss_kib;
  uint64_t cpu_us_after_open;   /* this process's CPU time since every receiver was open */
} rx_child_stats;

/* Runs receivers [first, first+count) of conf in this (forked) process; never returns. */
void rx_child_main(const rx_conf *conf, uint32_t first, uint32_t count)
  __attribute__((noreturn));

/* Writes or reads exactly n bytes on a blocking fd. 0 or -1. */
int rx_write_all(int fd, const void *p, size_t n);
int rx_read_all(int fd, void *p, size_t n);

#endif
