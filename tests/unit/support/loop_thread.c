/* loop_thread.c — see loop_thread.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/loop_thread.h"

#include <string.h>

void loop_thread_init(loop_thread *lt, void *ctx) {
  memset(lt, 0, sizeof *lt);
  atomic_init(&lt->done, 0);
  lt->ctx = ctx;
  assert_int_equal(uv_loop_init(&lt->loop), 0);
  pthread_mutex_init(&lt->mu, NULL);
  pthread_cond_init(&lt->cv, NULL);
}

static void check_cb(uv_check_t *h) {
  loop_thread *lt = h->data;
  http_server_flush(lt->flush);
}

static void async_cb(uv_async_t *h) {
  loop_thread *lt = h->data;
  pthread_mutex_lock(&lt->mu);
  if (lt->call_fn) {
    lt->call_fn(lt->ctx, lt->call_arg);
    lt->call_fn = NULL;
    lt->call_done = true;
    pthread_cond_broadcast(&lt->cv);
  }
  pthread_mutex_unlock(&lt->mu);
}

static void *loop_main(void *arg) {
  loop_thread *lt = arg;
  uv_run(&lt->loop, UV_RUN_DEFAULT);
  return NULL;
}

void loop_thread_start(loop_thread *lt, http_server *flush) {
  lt->flush = flush;
  uv_check_init(&lt->loop, &lt->check);
  lt->check.data = lt;
  uv_check_start(&lt->check, check_cb);
  uv_async_init(&lt->loop, &lt->async, async_cb);
  lt->async.data = lt;
  assert_int_equal(pthread_create(&lt->thread, NULL, loop_main, lt), 0);
}

void loop_thread_call(loop_thread *lt, loop_call_fn fn, void *arg) {
  pthread_mutex_lock(&lt->mu);
  lt->call_fn = fn;
  lt->call_arg = arg;
  lt->call_done = false;
  uv_async_send(&lt->async);
  while (!lt->call_done) pthread_cond_wait(&lt->cv, &lt->mu);
  pthread_mutex_unlock(&lt->mu);
}

void loop_thread_done(void *arg) {
  loop_thread *lt = arg;
  atomic_fetch_add(&lt->done, 1);
  uv_close((uv_handle_t *)&lt->check, NULL);
  uv_close((uv_handle_t *)&lt->async, NULL);
}

void loop_thread_join(loop_thread *lt) {
  pthread_join(lt->thread, NULL);
  assert_int_equal(atomic_load(&lt->done), 1);
}

void loop_thread_destroy(loop_thread *lt) {
  assert_int_equal(uv_loop_close(&lt->loop), 0);
  pthread_mutex_destroy(&lt->mu);
  pthread_cond_destroy(&lt->cv);
}

void listen_local(http_server *srv, const char *cert, const char *key, int *port,
                  int *tls_port) {
  assert_int_equal(http_server_listen(srv, "127.0.0.1", 0, NULL, port), 0);
  if (!cert) return;
  char err[256];
  SSL_CTX *ctx = http_tls_context(cert, key, err, sizeof err);
  if (!ctx) fail_msg("http_tls_context: %s", err);
  assert_int_equal(http_server_listen(srv, "127.0.0.1", 0, ctx, tls_port), 0);
  SSL_CTX_free(ctx); /* the server holds its own reference */
}
