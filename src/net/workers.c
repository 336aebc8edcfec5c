/*
** workers.c — the thread pool of workers.h.
**
** One job at a time: the caller publishes (items, n, fn, ctx) under the mutex and bumps
** the generation; every thread, the caller included, takes items by an atomic index
** until none is left; the caller then waits until every worker has finished the
** generation. Items are coarse (a write syscall each), so one atomic add per item is
** cheap next to the work.
*/
#include "net/workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct workers {
  pthread_mutex_t mu;
  pthread_cond_t start, finished;
  pthread_t *threads;
  unsigned n_threads;          /* started threads (the caller not counted) */
  unsigned busy;               /* threads still working on this generation */
  unsigned long generation;
  bool stopping;
  void **items;
  size_t n;
  void (*fn)(void *item, void *ctx);
  void *ctx;
  atomic_size_t next;
};

static void drain(workers *w)
{
  size_t i;
  while ((i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed)) < w->n)
    w->fn(w->items[i], w->ctx);
}

static void *worker_main(void *arg)
{
  workers *w = arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->stopping && w->generation == seen) pthread_cond_wait(&w->start, &w->mu);
    if (w->stopping) break;
    seen = w->generation;
    pthread_mutex_unlock(&w->mu);
    drain(w);
    pthread_mutex_lock(&w->mu);
    if (--w->busy == 0) pthread_cond_signal(&w->finished);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

workers *workers_new(unsigned threads)
{
  if (threads < 2) return NULL;
  workers *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->threads = calloc(threads - 1, sizeof *w->threads);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->start, NULL);
  pthread_cond_init(&w->finished, NULL);
  for (unsigned i = 0; w->threads && i < threads - 1; i++) {
    if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) break;
    w->n_threads++;
  }
  if (w->n_threads == 0) {
    workers_free(w);
    return NULL;
  }
  return w;
}

void workers_free(workers *w)
{
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stopping = true;
  pthread_cond_broadcast(&w->start);
  pthread_mutex_unlock(&w->mu);
  for (unsigned i = 0; i < w->n_threads; i++) pthread_join(w->threads[i], NULL);
  pthread_cond_destroy(&w->start);
  pthread_cond_destroy(&w->finished);
  pthread_mutex_destroy(&w->mu);
  free(w->threads);
  free(w);
}

void workers_run(workers *w, void **items, size_t n, void (*fn)(void *item, void *ctx),
                 void *ctx)
{
  pthread_mutex_lock(&w->mu);
  w->items = items;
  w->n = n;
  w->fn = fn;
  w->ctx = ctx;
  atomic_store(&w->next, 0);
  w->busy = w->n_threads;
  w->generation++;
  pthread_cond_broadcast(&w->start);
  pthread_mutex_unlock(&w->mu);

  drain(w);

  pthread_mutex_lock(&w->mu);
  while (w->busy > 0) pthread_cond_wait(&w->finished, &w->mu);
  pthread_mutex_unlock(&w->mu);
}
