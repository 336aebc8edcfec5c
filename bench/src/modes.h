/*
** modes.h — what the modes (mode_*.c) share: the receivers' configuration from the
** options, account setup, and printing the result line.
*/
#ifndef IMCAST_BENCH_MODES_H
#define IMCAST_BENCH_MODES_H

#include "bench.h"
#include "rxproc.h"

/* The receivers of a mode: n of them, counting push indexes below max_pushes. */
rx_conf receivers_conf(const bench_opts *o, uint32_t n, uint32_t max_pushes, uint32_t expect);
/* imcast: imports prefix+[0, n) (and tags them); Redis: nothing. 0 or -1. */
int setup_accounts(const bench_opts *o, uint32_t n);
/* Opens the receivers and waits for all; prints a line if some failed. NULL on timeout. */
rx_set *open_receivers(const rx_conf *c, double *connect_s);
const char *target_name(const bench_opts *o);

#endif
