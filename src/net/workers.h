/*
** workers.h — a small fixed pool of threads that runs one function over many items.
**
** Used by the connection hub to spread the write syscalls of a large flush (one push
** fanned out to thousands of receivers) over every core: the kernel's cost per write is
** the bulk of fan-out time. The calling thread works too and workers_run() returns only
** when every item is done, so the caller's data needs no locking beyond what fn itself
** touches: fn must only touch its own item.
*/
#ifndef IMCAST_WORKERS_H
#define IMCAST_WORKERS_H

#include <stddef.h>

typedef struct workers workers;

/* A pool of `threads` threads in all, the caller included (so threads - 1 are started).
** NULL when threads < 2 or the threads cannot be made: callers then run serially. */
workers *workers_new(unsigned threads);
void workers_free(workers *w);

/* Runs fn(items[i], ctx) for every i, spread over the pool; returns when all are done. */
void workers_run(workers *w, void **items, size_t n, void (*fn)(void *item, void *ctx),
                 void *ctx);

#endif
