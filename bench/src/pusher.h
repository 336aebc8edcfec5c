/*
** pusher.h — the sending side of a fan-out, the same for both targets: an im_push over
** one keep-alive HTTP connection to imcastd, or a PUBLISH over one connection to Redis.
** Sends and answers are separate so a burst is written back to back (pipelined) before
** its answers are read. Redis publishes the very bytes of the im_push body.
*/
#ifndef IMCAST_BENCH_PUSHER_H
#define IMCAST_BENCH_PUSHER_H

#include "bench.h"
#include "rest.h"

typedef struct pusher {
  const bench_opts *o;
  rest rest;               /* imcast */
  bconn redis;             /* redis */
  char *body;
  size_t cap;
} pusher;

int pusher_open(pusher *p, const bench_opts *o);
/* Writes push `index`, stamping it with sent_ns. 0 or -1. */
int pusher_send(pusher *p, uint32_t index, uint64_t sent_ns, uint32_t lifetime);
/* Reads the next answer: for imcast its TaskId (task may be NULL), for Redis the
** receiver count in *receivers. 0, or -1 when the push failed. */
int pusher_answer(pusher *p, char *task, size_t cap, long long *receivers);
void pusher_close(pusher *p);

#endif
