/*
** loop_thread.h — the server under test on a libuv loop of its own thread.
**
** Tests of net/ servers run the server on lt->loop in a second thread and speak to it from
** the test thread with blocking sockets (net_client.h). Like imcastd, the loop has a
** uv_check handle that calls http_server_flush after every iteration. The life of one:
**
**   loop_thread_init(&fx->lt, fx)        test thread: the loop and the hand-over lock
**   ...build the server on &fx->lt.loop, listen_local(...)
**   loop_thread_start(&fx->lt, srv)      the check and the loop thread start
**   loop_thread_call(&fx->lt, fn, arg)   test thread: fn(fx, arg) runs on the loop thread
**   http_server_shutdown(srv, loop_thread_done, &fx->lt)   loop thread: when drained, the
**                                        handles close and the loop ends
**   loop_thread_join(&fx->lt)            test thread: waits for it (and asserts it ended
**                                        through loop_thread_done, once)
**   ...free the server
**   loop_thread_destroy(&fx->lt)         the loop (which must have nothing left) and lock
**
** Everything that touches the loop or the server runs on the loop thread: between start
** and join, the test thread reaches it only through loop_thread_call.
*/
#ifndef IMCAST_TEST_LOOP_THREAD_H
#define IMCAST_TEST_LOOP_THREAD_H

#include "net/http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

/* Runs on the loop thread; ctx is what loop_thread_init was given. */
typedef void (*loop_call_fn)(void *ctx, void *arg);

typedef struct loop_thread {
  uv_loop_t loop;
  atomic_int done; /* how many times loop_thread_done ran */
  /* private */
  void *ctx;
  http_server *flush;
  uv_check_t check;
  uv_async_t async;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  loop_call_fn call_fn;
  void *call_arg;
  bool call_done;
} loop_thread;

void loop_thread_init(loop_thread *lt, void *ctx);
void loop_thread_start(loop_thread *lt, http_server *flush);
void loop_thread_call(loop_thread *lt, loop_call_fn fn, void *arg);

/* http_server_shutdown's done callback (lt as its ctx): closes the loop thread's handles,
** so the loop ends once the server's own are closed too. */
void loop_thread_done(void *lt);

void loop_thread_join(loop_thread *lt);
void loop_thread_destroy(loop_thread *lt);

/* Opens srv's plain port on 127.0.0.1 (an ephemeral one, into *port) and, when cert is
** not NULL, a TLS port with cert and key (into *tls_port). */
void listen_local(http_server *srv, const char *cert, const char *key, int *port,
                  int *tls_port);

#endif
