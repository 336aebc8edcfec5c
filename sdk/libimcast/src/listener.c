/*
** listener.c — the receiver API of imcast.h on sdk/receiver (libuv + wslay).
**
** An imcast_listener owns a private uv loop and, while imcast_listener_run runs, one
** imcast_receiver on it. The receiver does the protocol work (upgrade, events, coalesced
** Acks, pings, jittered exponential backoff); this file adapts its callbacks to the
** imcast.h ones, turns its errors into imcast_error (a refused login's 70xxx envelope
** becomes IMCAST_E_TENCENT with that code), and decides when run returns.
**
** Guarantees: imcast_listener_run returns once the receiver has stopped for good (stop
** requested, Kicked, a login refused with 4xx, or the first end with no_reconnect) and
** every handle of that run has closed, so it may be called again. imcast_listener_stop
** only touches an atomic flag and uv_async_send, so it is safe from any thread and from
** a signal handler. A listener made with a key mints its user's UserSig itself, valid for
** LISTENER_SIG_EXPIRE seconds.
*/
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <uv.h>

#include "imcast_receiver.h"
#include "sdk_internal.h"

#define LISTENER_SIG_EXPIRE ((int64_t)30 * 86400)
#define FIRST_BACKOFF_MS 500
#define KICKED_CLOSE_CODE 4001

struct imcast_listener {
  uv_loop_t loop;
  uv_async_t wake;              /* stop requests from other threads */
  imcast_receiver *rx;          /* during run only */
  atomic_int stop_requested;

  char *ws_url;
  uint64_t sdkappid;
  char *user_id;
  char *usersig;
  char *ca_file;
  int insecure, manual_ack, no_reconnect;
  uint32_t ack_delay_ms;
  uint32_t reconnect_max_ms;
  imcast_listener_callbacks cb;
  void *user;

  int finished;                 /* the receiver of this run has stopped */
  int kicked;
  imcast_error last_error;      /* why the last attempt failed */
};

/* ------------------------------------------------------------------ set-up --- */

/* http(s):// -> ws(s)://; ws(s):// as it is; NULL for anything else. */
static char *websocket_url(const char *url)
{
  static const struct { const char *from, *to; } schemes[] = {
    {"http://", "ws://"}, {"https://", "wss://"}, {"ws://", "ws://"}, {"wss://", "wss://"},
  };
  for (size_t i = 0; url != NULL && i < sizeof schemes / sizeof schemes[0]; i++) {
    size_t n = strlen(schemes[i].from);
    if (strncasecmp(url, schemes[i].from, n) != 0)
      continue;
    size_t len = strlen(schemes[i].to) + strlen(url + n) + 1;
    char *out = malloc(len);
    if (out != NULL)
      snprintf(out, len, "%s%s", schemes[i].to, url + n);
    return out;
  }
  return NULL;
}

static char *mint_usersig(const imcast_listener_options *o)
{
  char sig[IMCAST_USERSIG_MAX];
  if (o->key == NULL ||
      imcast_usersig_gen(o->key, o->sdkappid, o->user_id, LISTENER_SIG_EXPIRE, sig,
                         sizeof sig) < 0)
    return NULL;
  return strdup(sig);
}

static imcast_status copy_listener_options(imcast_listener *l,
                                           const imcast_listener_options *o,
                                           imcast_error *err)
{
  l->ws_url = websocket_url(o->url);
  if (l->ws_url == NULL)
    return sdk_error_set(err, IMCAST_E_INVALID,
                         "the listener URL must be http(s):// or ws(s)://, not \"%s\"",
                         o->url ? o->url : "(null)");
  if (o->user_id == NULL || o->user_id[0] == '\0')
    return sdk_error_set(err, IMCAST_E_INVALID, "the listener needs a user_id");
  l->user_id = strdup(o->user_id);
  l->usersig = o->usersig ? strdup(o->usersig) : mint_usersig(o);
  if (l->usersig == NULL)
    return sdk_error_set(err, IMCAST_E_INVALID,
                         "the listener needs a usersig, or a key to make one for \"%s\"",
                         o->user_id);
  l->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
  if (l->user_id == NULL || (o->ca_file && l->ca_file == NULL))
    return sdk_error_set(err, IMCAST_E_NOMEM, "out of memory creating the listener");
  l->sdkappid = o->sdkappid;
  l->insecure = o->insecure;
  l->manual_ack = o->manual_ack;
  l->ack_delay_ms = o->ack_delay_ms;
  l->no_reconnect = o->no_reconnect;
  l->reconnect_max_ms = o->reconnect_max_ms;
  l->cb = o->cb;
  l->user = o->user;
  return IMCAST_OK;
}

static void on_wake(uv_async_t *h);

imcast_listener *imcast_listener_new(const imcast_listener_options *opts, imcast_error *err)
{
  imcast_error local;
  if (err == NULL)
    err = &local;
  if (opts == NULL) {
    sdk_error_set(err, IMCAST_E_INVALID, "no listener options");
    return NULL;
  }
  imcast_listener *l = calloc(1, sizeof *l);
  if (l == NULL) {
    sdk_error_set(err, IMCAST_E_NOMEM, "out of memory creating the listener");
    return NULL;
  }
  if (copy_listener_options(l, opts, err) != IMCAST_OK) {
    imcast_listener_free(l);
    return NULL;
  }
  int rc = uv_loop_init(&l->loop);
  if (rc == 0 && (rc = uv_async_init(&l->loop, &l->wake, on_wake)) != 0)
    uv_loop_close(&l->loop);
  if (rc != 0) {
    sdk_error_set(err, IMCAST_E_TRANSPORT, "cannot set up the event loop: %s",
                  uv_strerror(rc));
    l->loop.data = NULL;
    imcast_listener_free(l);
    return NULL;
  }
  l->loop.data = l;
  l->wake.data = l;
  uv_unref((uv_handle_t *)&l->wake); /* only the receiver keeps run() going */
  sdk_error_clear(err);
  return l;
}

imcast_listener *imcast_client_listener_new(imcast_client *c, const char *user_id,
                                            const imcast_listener_callbacks *cb, void *user,
                                            imcast_error *err)
{
  if (c == NULL) {
    if (err != NULL)
      sdk_error_set(err, IMCAST_E_INVALID, "the client is NULL");
    return NULL;
  }
  imcast_listener_options o = {
    .url = sdk_client_url(c), .sdkappid = sdk_client_sdkappid(c), .user_id = user_id,
    .key = sdk_client_key(c), .ca_file = sdk_client_ca_file(c),
    .insecure = sdk_client_insecure(c), .user = user,
  };
  if (cb != NULL)
    o.cb = *cb;
  return imcast_listener_new(&o, err);
}

void imcast_listener_free(imcast_listener *l)
{
  if (l == NULL)
    return;
  if (l->loop.data != NULL) {
    uv_close((uv_handle_t *)&l->wake, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
  }
  free(l->ws_url);
  free(l->user_id);
  free(l->usersig);
  free(l->ca_file);
  free(l);
}

/* --------------------------------------------------------- receiver callbacks --- */

/* The receiver has stopped for good: release it; run() returns once its handles close. */
static void finish(imcast_listener *l)
{
  if (l->finished)
    return;
  l->finished = 1;
  imcast_receiver_free(l->rx);
  l->rx = NULL;
}

static void on_hello(void *user, const char *user_id, int64_t server_time, int ping_sec)
{
  imcast_listener *l = user;
  sdk_error_clear(&l->last_error);
  if (l->cb.on_connect)
    l->cb.on_connect(l->user, user_id, server_time);
}

static void on_msg(void *user, const imcast_msg *m)
{
  imcast_listener *l = user;
  imcast_push p = {
    .seq = m->seq, .task_id = m->task_id, .from_account = m->from_account,
    .to_account = m->to_account, .msg_random = m->msg_random, .msg_time = m->msg_time,
    .json = m->json, .json_len = m->json_len, .msg_body_json = m->body_json,
    .msg_body_json_len = m->body_json_len, .offline_push_info_json = m->offline_push_json,
    .offline_push_info_json_len = m->offline_push_json_len,
    .maybe_duplicate = m->maybe_duplicate,
  };
  if (l->cb.on_push)
    l->cb.on_push(l->user, &p);
}

static void on_revoke(void *user, int64_t seq, const char *task_id)
{
  imcast_listener *l = user;
  if (l->cb.on_revoke)
    l->cb.on_revoke(l->user, seq, task_id);
}

static void on_kicked(void *user, const char *reason)
{
  imcast_listener *l = user;
  l->kicked = 1;
  sdk_error_set(&l->last_error, IMCAST_E_TRANSPORT, "kicked by the server (close %d): %s",
                KICKED_CLOSE_CODE, reason);
  if (l->cb.on_kicked)
    l->cb.on_kicked(l->user, reason);
}

static void on_close(void *user, int code, const char *reason, int will_reconnect)
{
  imcast_listener *l = user;
  if (l->cb.on_disconnect)
    l->cb.on_disconnect(l->user, code, reason, will_reconnect);
  if (!will_reconnect)
    finish(l);
}

/* A refused upgrade carries the REST envelope: its ErrorCode is the reason. */
static int envelope_code(const char *body, size_t len, char *info, size_t cap)
{
  json_t *doc = json_loadb(body, len, 0, NULL);
  const json_t *code = json_object_get(doc, "ErrorCode");
  int result = json_is_integer(code) ? (int)json_integer_value(code) : 0;
  const char *text = json_string_value(json_object_get(doc, "ErrorInfo"));
  snprintf(info, cap, "%s", text ? text : "");
  json_decref(doc);
  return result;
}

static void on_error(void *user, int err, int http_status, const char *detail,
                     size_t detail_len)
{
  imcast_listener *l = user;
  imcast_error e;
  char info[IMCAST_ERROR_INFO_MAX];
  int code = http_status ? envelope_code(detail, detail_len, info, sizeof info) : 0;
  if (code != 0)
    sdk_error_tencent(&e, code, info);
  else
    sdk_error_set(&e, IMCAST_E_TRANSPORT, "%s: %s", imcast_receiver_strerror(err), detail);
  e.http_status = http_status;
  l->last_error = e;
  if (l->cb.on_error)
    l->cb.on_error(l->user, &e);
}

/* ----------------------------------------------------------------------- run --- */

static void on_wake(uv_async_t *h)
{
  imcast_listener *l = h->data;
  if (!atomic_load(&l->stop_requested) || l->rx == NULL || l->finished)
    return;
  imcast_receiver_close(l->rx, 1000);
  /* Between attempts there is no connection to close, hence no on_close to wait for. */
  if (l->rx != NULL && imcast_receiver_get_state(l->rx) == IMCAST_RX_STOPPED)
    finish(l);
}

static imcast_receiver *make_receiver(imcast_listener *l)
{
  imcast_receiver_options o = {
    .url = l->ws_url, .sdkappid = l->sdkappid, .identifier = l->user_id,
    .usersig = l->usersig, .ca_file = l->ca_file, .tls_insecure = l->insecure,
    .manual_ack = l->manual_ack, .ack_delay_ms = l->ack_delay_ms,
    .reconnect_initial_ms = l->no_reconnect ? 0 : FIRST_BACKOFF_MS,
    .reconnect_max_ms = l->reconnect_max_ms,
    .cb = {on_hello, on_msg, on_revoke, on_kicked, on_close, on_error},
    .user = l,
  };
  return imcast_receiver_new(&l->loop, &o);
}

/* Why the run ended, once the receiver has stopped. */
static imcast_status run_outcome(imcast_listener *l, imcast_error *err)
{
  if (atomic_exchange(&l->stop_requested, 0) && !l->kicked) {
    sdk_error_clear(err);
    return IMCAST_OK;
  }
  if (l->last_error.status != IMCAST_OK) {
    *err = l->last_error;
    return err->status;
  }
  return sdk_error_set(err, IMCAST_E_TRANSPORT, "the connection ended");
}

imcast_status imcast_listener_run(imcast_listener *l, imcast_error *err)
{
  imcast_error local;
  if (err == NULL)
    err = &local;
  if (l == NULL)
    return sdk_error_set(err, IMCAST_E_INVALID, "the listener is NULL");
  if (atomic_exchange(&l->stop_requested, 0)) {
    sdk_error_clear(err);
    return IMCAST_OK;
  }
  l->finished = 0;
  l->kicked = 0;
  sdk_error_clear(&l->last_error);
  l->rx = make_receiver(l);
  if (l->rx == NULL)
    return sdk_error_set(err, IMCAST_E_INVALID, "the receiver refused its options "
                         "(URL \"%s\", CA file)", l->ws_url);
  int rc = imcast_receiver_start(l->rx);
  if (rc != 0) {
    finish(l);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return sdk_error_set(err, IMCAST_E_TRANSPORT, "cannot start: %s",
                         imcast_receiver_strerror(rc));
  }
  uv_run(&l->loop, UV_RUN_DEFAULT);
  finish(l); /* in case the loop ran dry without a final on_close */
  uv_run(&l->loop, UV_RUN_DEFAULT);
  return run_outcome(l, err);
}

imcast_status imcast_listener_ack(imcast_listener *l, int64_t seq)
{
  if (l == NULL || l->rx == NULL)
    return IMCAST_E_INVALID;
  return imcast_receiver_ack(l->rx, seq) == 0 ? IMCAST_OK : IMCAST_E_TRANSPORT;
}

void imcast_listener_stop(imcast_listener *l)
{
  if (l == NULL)
    return;
  atomic_store(&l->stop_requested, 1);
  uv_async_send(&l->wake);
}
