/*
** receivers.c — the receiver side: WebSocket logins, live fan-out, acks, catch-up, kicks.
**
** A login (GET /v4/ws) is authenticated with the user's own UserSig before the upgrade
** (401/403 with the 70xxx envelope otherwise), imports the account if needed, sends Hello,
** then every live push the account has not acknowledged, in Seq order.
**
** Fan-out: a push's Msg frame is encoded once (a refcounted net_buf cached on the push)
** and the same bytes are queued on every online receiver of its audience: audience AND
** online is one bitmap operation; per receiver the cost is one reference and one queue
** entry, and the bytes leave in the connection's single writev of the loop turn. A
** receiver whose unsent output would pass the cap is disconnected; its unacknowledged
** pushes stay pending for its next login.
**
** Acks set bits in the push's delivered bitmap; a timer saves dirty bitmaps in batches,
** so a crash may redeliver (at-least-once) but never lose. The same timer drops expired
** pushes from memory and the store, and old retry records.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "common/log.h"
#include "common/text.h"

#define HOUSEKEEPING_MS 1000
#define RETRY_SWEEP_S 3600
#define DEFAULT_PING_SEC 30
#define DEFAULT_QUEUE_CAP (1u << 20)

/* One receiver connection. */
typedef struct receiver {
  session s;           /* uid, the account's other receivers, Seqs sent and acked */
  api *a;
  ws_conn *ws;
  bool closing;        /* no more pushes: it is being closed */
  bool catching_up;    /* stored pushes remain to send at login: live ones wait behind */
  struct receiver *next_catching_up, *prev_catching_up;
  struct deferred_frame *deferred;   /* MsgLifeTime 0 pushes that came during catch-up */
  size_t n_deferred, cap_deferred, deferred_bytes;
} receiver;

/* A push that is not stored, held for a receiver until its catch-up reaches its Seq. */
typedef struct deferred_frame {
  uint64_t seq;
  net_buf *frame;
} deferred_frame;

static const char json_content_type[] = "application/json; charset=utf-8";

static void unlink_catching_up(receiver *r);

void api_free_frame(void *frame) { net_buf_unref(frame); }

/* ------------------------------------------------------------------ sending */

net_buf *receivers_frame(push *p)
{
  if (!p->frame) {
    p->frame = ws_frame_text(p->msg_json, p->msg_len);
    if (!p->frame) api_out_of_memory();
  }
  return p->frame;
}

static size_t queue_cap(const api *a)
{
  return a->opts.ws_queue_cap_bytes ? a->opts.ws_queue_cap_bytes : DEFAULT_QUEUE_CAP;
}

/* Queues a shared frame, or drops a receiver that stopped reading. */
static bool send_frame(receiver *r, net_buf *frame)
{
  if (r->closing) return false;
  if (ws_pending_output(r->ws) + frame->len > queue_cap(r->a)) {
    log_info("receiver '%s' from %s passed its output cap of %zu bytes: disconnected",
             directory_user_id(r->a->dir, r->s.uid), ws_peer(r->ws), queue_cap(r->a));
    r->closing = true;
    r->a->metrics.queue_drops++;
    ws_abort(r->ws);
    return false;
  }
  ws_send_frame(r->ws, net_buf_ref(frame));
  return true;
}

/* Sends a push. sent_upto (what an Ack may cover) only advances when every stored push
** below this one has been sent too, i.e. not for a MsgLifeTime 0 push that overtakes a
** catch-up in progress. */
static void send_push(receiver *r, push *p)
{
  if (!send_frame(r, receivers_frame(p))) return;
  r->a->metrics.deliveries++;
  if (p->seq > r->s.sent_upto && !r->catching_up) r->s.sent_upto = p->seq;
}

static void send_json(receiver *r, json_t *event)
{
  char *text = json_dumps(event, JSON_COMPACT);
  json_decref(event);
  if (!text) api_out_of_memory();
  if (!r->closing) ws_send_text(r->ws, text, strlen(text));
  free(text);
}

/* ------------------------------------------------------------------ fan-out */

void receivers_queue_fanout(api *a, push *p, bool owned, uint64_t accepted_ns)
{
  if (a->n_fanout == a->cap_fanout) {
    size_t cap = a->cap_fanout ? a->cap_fanout * 2 : 16;
    fanout_job *grown = realloc(a->fanout, cap * sizeof *grown);
    if (!grown) api_out_of_memory();
    a->fanout = grown;
    a->cap_fanout = cap;
  }
  a->fanout[a->n_fanout++] = (fanout_job){p, owned, accepted_ns};
}

/* Holds a MsgLifeTime 0 push for a receiver still catching up: it goes out when the
** catch-up reaches its Seq, so the receiver sees every push in Seq order. What is held
** counts toward the output cap like what is queued. */
static void defer_frame(receiver *r, push *p)
{
  net_buf *frame = receivers_frame(p);
  if (r->closing) return;
  if (ws_pending_output(r->ws) + r->deferred_bytes + frame->len > queue_cap(r->a)) {
    r->closing = true;
    r->a->metrics.queue_drops++;
    ws_abort(r->ws);
    return;
  }
  if (r->n_deferred == r->cap_deferred) {
    size_t cap = r->cap_deferred ? r->cap_deferred * 2 : 4;
    deferred_frame *grown = realloc(r->deferred, cap * sizeof *grown);
    if (!grown) api_out_of_memory();
    r->deferred = grown;
    r->cap_deferred = cap;
  }
  r->deferred[r->n_deferred++] = (deferred_frame){p->seq, net_buf_ref(frame)};
  r->deferred_bytes += frame->len;
}

/* Sends the held frames with a Seq below `before` (all of them for UINT64_MAX). */
static void send_deferred(receiver *r, uint64_t before)
{
  size_t sent = 0;
  while (sent < r->n_deferred && r->deferred[sent].seq < before) {
    deferred_frame *d = &r->deferred[sent++];
    r->deferred_bytes -= d->frame->len;
    if (send_frame(r, d->frame)) r->a->metrics.deliveries++;
    net_buf_unref(d->frame);
  }
  if (sent == 0) return;  /* deferred may be NULL: no memmove from NULL + 0 */
  memmove(r->deferred, r->deferred + sent, (r->n_deferred - sent) * sizeof *r->deferred);
  r->n_deferred -= sent;
}

static void drop_deferred(receiver *r)
{
  for (size_t i = 0; i < r->n_deferred; i++) net_buf_unref(r->deferred[i].frame);
  free(r->deferred);
  r->deferred = NULL;
  r->n_deferred = r->cap_deferred = r->deferred_bytes = 0;
}

/* Live delivery to one receiver. One still catching up gets stored pushes from its
** catch-up and others held until the catch-up reaches them, all in Seq order. */
static void deliver_live(receiver *r, push *p, bool stored)
{
  if (!r->catching_up) send_push(r, p);
  else if (!stored) defer_frame(r, p);
}

static void fan_out(api *a, push *p, bool stored)
{
  roaring_bitmap_t *live = roaring_bitmap_and(p->audience, sessions_online(a->online));
  if (!live) api_out_of_memory();
  p->online_at_push = roaring_bitmap_get_cardinality(live);
  roaring_uint32_iterator_t *it = roaring_create_iterator(live);
  for (; it->has_value; roaring_advance_uint32_iterator(it))
    for (session *s = sessions_of(a->online, it->current_value); s; s = s->next)
      deliver_live((receiver *)s, p, stored);
  roaring_free_uint32_iterator(it);
  roaring_bitmap_free(live);
  p->state = PUSH_DONE;
  p->fanout_done_at = (int64_t)time(NULL);
}

void receivers_run_fanout(api *a, bool ok)
{
  for (size_t i = 0; i < a->n_fanout; i++) {
    fanout_job *job = &a->fanout[i];
    if (ok && job->p->state == PUSH_FANNING_OUT) {
      fan_out(a, job->p, !job->owned);
      histogram_observe(&a->metrics.delivery_seconds,
                        (double)(uv_hrtime() - job->accepted_ns) / 1e9);
    }
    if (job->owned) push_free(job->p, api_free_frame);
  }
  a->n_fanout = 0;
}

void receivers_revoke(api *a, const push *p)
{
  json_t *ev = json_pack("{s:s,s:I,s:s}", "Event", "Revoke", "Seq", (json_int_t)p->seq,
                         "TaskId", p->task_id);
  char *text = json_dumps(ev, JSON_COMPACT);
  json_decref(ev);
  net_buf *frame = text ? ws_frame_text(text, strlen(text)) : NULL;
  free(text);
  if (!frame) api_out_of_memory();
  roaring_bitmap_t *live = roaring_bitmap_and(p->audience, sessions_online(a->online));
  roaring_uint32_iterator_t *it = roaring_create_iterator(live);
  for (; it->has_value; roaring_advance_uint32_iterator(it))
    for (session *s = sessions_of(a->online, it->current_value); s; s = s->next)
      send_frame((receiver *)s, frame);
  roaring_free_uint32_iterator(it);
  roaring_bitmap_free(live);
  net_buf_unref(frame);
}

void receivers_kick(api *a, uint32_t uid, const char *reason)
{
  for (session *s = sessions_of(a->online, uid); s; s = s->next) {
    receiver *r = (receiver *)s;
    if (r->closing) continue;
    send_json(r, json_pack("{s:s,s:s}", "Event", "Kicked", "Reason", reason));
    r->closing = true;
    a->metrics.kicks++;
    ws_close(r->ws, 4001, reason);
  }
}

/* ------------------------------------------------------------------ events from receivers */

/* Ack n: every push up to n sent on this connection is delivered to the account. Seqs
** never sent here are ignored, so a client cannot acknowledge what it has not seen. */
static void on_ack(receiver *r, json_int_t seq)
{
  uint64_t upto = (uint64_t)seq < r->s.sent_upto ? (uint64_t)seq : r->s.sent_upto;
  if (upto <= r->s.acked_upto) return;
  r->a->metrics.acks += push_registry_ack(r->a->pushes, r->s.uid, r->s.acked_upto, upto);
  r->s.acked_upto = upto;
}

/* The Ack every receiver sends after every push, in its exact canonical form
** {"Event":"Ack","Seq":N}, read without a JSON parser: at thousands of receivers per push
** the general parser's allocations were a third of the server's cost per Ack. Anything
** else (spaces, other key order, other events) takes the general path. */
static bool canonical_ack(const char *text, size_t len, json_int_t *seq)
{
  static const char head[] = "{\"Event\":\"Ack\",\"Seq\":";
  size_t h = sizeof head - 1;
  if (len < h + 2 || memcmp(text, head, h) != 0 || text[len - 1] != '}') return false;
  size_t digits = len - 1 - h;
  if (digits > 18 || (digits > 1 && text[h] == '0')) return false;   /* fits, no leading 0 */
  json_int_t n = 0;
  for (size_t i = h; i < len - 1; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    n = n * 10 + (text[i] - '0');
  }
  *seq = n;
  return true;
}

static void on_text(ws_conn *ws, const char *text, size_t len)
{
  receiver *r = ws_data(ws);
  if (r->closing) return;
  json_int_t ack;
  if (canonical_ack(text, len, &ack)) {
    on_ack(r, ack);
    return;
  }
  json_error_t err;
  json_t *ev = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  json_t *name = json_is_object(ev) ? json_object_get(ev, "Event") : NULL;
  json_t *seq = json_is_object(ev) ? json_object_get(ev, "Seq") : NULL;
  if (!json_is_string(name)) {
    r->closing = true;
    ws_close(ws, 1008, ev ? "an event is a JSON object with a string Event" : "malformed JSON");
  } else if (strcmp(json_string_value(name), "Ack") == 0) {
    if (json_is_integer(seq) && json_integer_value(seq) >= 0) {
      on_ack(r, json_integer_value(seq));
    } else {
      r->closing = true;
      ws_close(ws, 1008, "Ack needs a non-negative integer Seq");
    }
  } else {
    r->closing = true;
    ws_close(ws, 1008, "unknown Event");
  }
  json_decref(ev);
}

static void on_close(ws_conn *ws, uint16_t code)
{
  receiver *r = ws_data(ws);
  unlink_catching_up(r);
  drop_deferred(r);
  sessions_remove(r->a->online, &r->s);
  free(r);
}

static const ws_handler receiver_handler = {on_text, on_close};

/* ------------------------------------------------------------------ catch-up */

/* A login may have more pending than a receiver's output cap: catch-up sends while the
** unsent output stays under half the cap and continues at the end of later loop turns,
** as the connection drains (receivers_continue_catch_up). */
typedef struct catch_up_step {
  receiver *r;
  bool stopped;        /* the output budget ran out before the pending pushes did */
} catch_up_step;

static int catch_up_one(push *p, void *ctx)
{
  catch_up_step *step = ctx;
  receiver *r = step->r;
  if (p->seq <= r->s.sent_upto) return 0;
  send_deferred(r, p->seq);
  net_buf *frame = receivers_frame(p);
  size_t queued = ws_pending_output(r->ws);
  if (queued > 0 && queued + frame->len > queue_cap(r->a) / 2) {
    step->stopped = true;
    return 1;
  }
  ws_send_frame(r->ws, net_buf_ref(frame));
  r->s.sent_upto = p->seq;
  r->a->metrics.deliveries++;
  return 0;
}

static void unlink_catching_up(receiver *r)
{
  if (!r->catching_up) return;
  if (r->prev_catching_up) r->prev_catching_up->next_catching_up = r->next_catching_up;
  else r->a->catching_up = r->next_catching_up;
  if (r->next_catching_up) r->next_catching_up->prev_catching_up = r->prev_catching_up;
  r->next_catching_up = r->prev_catching_up = NULL;
  r->catching_up = false;
}

static void catch_up(receiver *r)
{
  catch_up_step step = {r, false};
  push_registry_pending(r->a->pushes, r->s.uid, (int64_t)time(NULL), catch_up_one, &step);
  if (!step.stopped) {
    unlink_catching_up(r);
    send_deferred(r, UINT64_MAX);
  } else if (!r->catching_up) {
    r->catching_up = true;
    r->next_catching_up = r->a->catching_up;
    if (r->next_catching_up) r->next_catching_up->prev_catching_up = r;
    r->a->catching_up = r;
  }
}

void receivers_continue_catch_up(api *a)
{
  receiver *next;
  for (receiver *r = a->catching_up; r; r = next) {
    next = r->next_catching_up;
    if (r->closing) unlink_catching_up(r);
    else if (ws_pending_output(r->ws) <= queue_cap(a) / 2) catch_up(r);
  }
}

/* ------------------------------------------------------------------ login */

static void refuse(http_request *req, int status, int code, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
static void refuse(http_request *req, int status, int code, const char *fmt, ...)
{
  char info[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(info, sizeof info, fmt, ap);
  va_end(ap);
  text_scrub_utf8(info);  /* it may quote URL bytes: json_pack refuses invalid UTF-8 */
  json_t *env = json_pack("{s:s,s:s,s:i}", "ActionStatus", "FAIL", "ErrorInfo", info,
                          "ErrorCode", code);
  char *body = json_dumps(env, JSON_COMPACT);
  json_decref(env);
  if (!body) api_out_of_memory();
  http_respond(req, status, json_content_type, body, strlen(body));
  free(body);
}

/* Checks the login's app, UserID and UserSig; false after refusing the upgrade. */
static bool authenticate(api *a, http_request *req, const char **user_id)
{
  const char *appid = http_request_query(req, "sdkappid");
  const char *id = http_request_query(req, "identifier");
  const char *sig = http_request_query(req, "usersig");
  char expected[24];
  snprintf(expected, sizeof expected, "%llu", (unsigned long long)a->opts.sdkappid);
  if (!appid || strcmp(appid, expected) != 0) {
    refuse(req, 403, IMC_E_UNKNOWN_SDKAPPID, "sdkappid %s is not served here", appid ? appid : "(missing)");
    return false;
  }
  const char *problem = id ? text_user_id_problem(id, strlen(id)) : "is missing";
  if (problem) {
    refuse(req, 400, IMC_E_ACCOUNT_PARAM, "identifier %s", problem);
    return false;
  }
  if (!sig || !*sig) {
    refuse(req, 401, IMC_E_SIG_EMPTY, "usersig is missing");
    return false;
  }
  int rc = auth_check(a->sigs, a->opts.key, a->opts.sdkappid, id, sig, (int64_t)time(NULL));
  if (rc != 0) {
    int status = rc == IMC_E_SIG_IDENTIFIER || rc == IMC_E_SIG_SDKAPPID ? 403 : 401;
    refuse(req, status, rc, "usersig rejected for '%s': %s", id, imc_error_info(rc));
    return false;
  }
  *user_id = id;
  return true;
}

/* An account that logs in without being imported is imported (Tencent's behaviour). */
static uint32_t login_account(api *a, http_request *req, const char *user_id)
{
  uint32_t uid = directory_find(a->dir, user_id);
  if (uid != DIR_UID_NONE) return uid;
  api_call c = {.api = a};
  if (api_write_begin(&c) == 0) {
    bool ok = api_import_new(&c, user_id, NULL, NULL);
    api_write_end(&c, ok);
    if (ok) return directory_find(a->dir, user_id);
  }
  refuse(req, 500, IMC_E_INTERNAL, "the account could not be imported; try again");
  return DIR_UID_NONE;
}

void receivers_on_upgrade(api *a, http_request *req)
{
  const char *user_id;
  if (!authenticate(a, req, &user_id)) {
    a->metrics.logins_refused++;
    return;
  }
  uint32_t uid = login_account(a, req, user_id);
  if (uid == DIR_UID_NONE) return;
  receiver *r = calloc(1, sizeof *r);
  if (!r) api_out_of_memory();
  r->a = a;
  r->s.uid = uid;
  r->ws = ws_accept(a->ws, req, &receiver_handler, r);
  if (!r->ws) {
    free(r);
    return;
  }
  r->s.conn = r->ws;
  if (sessions_add(a->online, &r->s) != 0) api_out_of_memory();
  a->metrics.logins++;
  unsigned ping = a->opts.ping_sec ? a->opts.ping_sec : DEFAULT_PING_SEC;
  /* user_id pointed into the request, which the upgrade freed. */
  send_json(r, json_pack("{s:s,s:s,s:I,s:i}", "Event", "Hello", "UserID",
                         directory_user_id(a->dir, uid),
                         "ServerTime", (json_int_t)time(NULL), "PingSec", (int)ping));
  catch_up(r);
}

/* ------------------------------------------------------------------ housekeeping */

/* Saves one push's delivered bitmap; a failure keeps it dirty for the next tick. */
static int save_delivered(push *p, void *ctx)
{
  api *a = ctx;
  int rc = store_put_push_delivered(a->st, p->seq, p->delivered);
  if (rc == 0 || rc == -ENOENT) return 0;   /* ENOENT: revoked, no stored copy */
  log_error("store: cannot save acks of push %s: %s", p->task_id, store_errmsg(a->st));
  return -1;
}

void receivers_save_acks(api *a)
{
  push_registry_each_dirty(a->pushes, save_delivered, a);
}

static void drop_expired(api *a, int64_t now)
{
  push *p;
  while ((p = push_registry_take_expired(a->pushes, now)) != NULL) {
    if (store_del_push(a->st, p->seq) != 0)
      log_error("store: cannot drop expired push %s: %s", p->task_id, store_errmsg(a->st));
    if (p->state != PUSH_REVOKED) a->metrics.expired++;
    push_free(p, api_free_frame);
  }
}

static void on_housekeeping(uv_timer_t *t)
{
  api *a = t->data;
  int64_t now = (int64_t)time(NULL);
  receivers_save_acks(a);
  drop_expired(a, now);
  if (now - a->last_retry_sweep >= RETRY_SWEEP_S) {
    a->last_retry_sweep = now;
    push_registry_sweep_retries(a->pushes, now);
    if (store_del_retries_before(a->st, now - PUSH_RETRY_WINDOW_S) != 0)
      log_error("store: cannot drop old retry records: %s", store_errmsg(a->st));
  }
  /* The loop turn's end commits these writes (api_end_of_turn). */
}

int receivers_start(api *a, http_server *http)
{
  unsigned ping = a->opts.ping_sec ? a->opts.ping_sec : DEFAULT_PING_SEC;
  ws_options wo = {.max_message_bytes = (size_t)64 * 1024, .idle_timeout_ms = 3000ull * ping};
  a->online = sessions_new();
  a->ws = ws_server_new(http, &wo);
  if (!a->online || !a->ws) {
    receivers_stop(a);
    return -ENOMEM;
  }
  uv_timer_init(a->loop, &a->housekeeping);
  a->housekeeping.data = a;
  uv_timer_start(&a->housekeeping, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
  a->last_retry_sweep = (int64_t)time(NULL);
  return 0;
}

void api_close_receivers(api *a)
{
  ws_server_close_all(a->ws, 1001, "server shutting down");
  uv_timer_stop(&a->housekeeping);
  uv_close((uv_handle_t *)&a->housekeeping, NULL);
}

void receivers_stop(api *a)
{
  if (a->ws) ws_server_free(a->ws);
  if (a->online) sessions_free(a->online);
  free(a->fanout);
  a->ws = NULL;
  a->online = NULL;
  a->fanout = NULL;
}
