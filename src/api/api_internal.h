/*
** api_internal.h — what the service files of the api share: the call being answered, the
** JSON helpers that read Tencent-shaped bodies, and the handler table entry.
**
** A handler gets a validated admin call with its body parsed into a JSON object. It
** either fails it (api_fail: code + ErrorInfo, nothing changed) or fills c->reply with
** the extra fields of a success. A handler that changes state validates the whole body
** first, then writes inside api_write_begin()/api_write_end().
*/
#ifndef IMCAST_API_INTERNAL_H
#define IMCAST_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "api/auth.h"
#include "common/errors.h"
#include "common/metrics.h"
#include "core/audience.h"
#include "core/sessions.h"
#include "net/ws.h"

/* Most accounts one attribute or tag call may name (90018 above it). */
#define API_MAX_ACCOUNTS_PER_CALL 100
/* Most accounts one account call may name (70402 above it). */
#define API_MAX_ACCOUNT_ITEMS 100
#define API_MAX_QUERY_STATE 500
#define API_MAX_TAGS_PER_REQUEST 10

/* A push accepted in this loop turn, delivered live once the turn has committed. */
typedef struct fanout_job {
  push *p;
  bool owned;                     /* MsgLifeTime 0: not in the registry, freed after */
  uint64_t accepted_ns;           /* uv_hrtime() when im_push arrived */
} fanout_job;

#define API_MAX_REQUEST_SERIES 256

/* REST calls answered, by command and ErrorCode. */
typedef struct request_series {
  const char *command;            /* static string */
  int code;
  uint64_t count;
} request_series;

/* What GET /metrics reports (stats.c). */
typedef struct api_metrics {
  uint64_t logins, logins_refused, pushes, push_retries, deliveries, acks, queue_drops,
           expired, revoked, kicks, commit_failures;
  uint64_t requests_refused;      /* over max_requests_per_ip */
  histogram request_seconds;      /* arrival to answer, group commit included */
  histogram commit_seconds;       /* one turn's COMMIT */
  histogram delivery_seconds;     /* im_push arrival to its frame queued on every receiver */
  request_series requests[API_MAX_REQUEST_SERIES];
  size_t n_requests;
} api_metrics;

struct api {
  api_options opts;
  directory *dir;
  push_registry *pushes;
  store *st;
  auth_cache *sigs;
  uint32_t next_uid;              /* first uid never handed out */
  struct waiting_call *waiting;   /* answers held until the turn commits (FIFO) */
  struct waiting_call **waiting_tail;

  /* receivers and delivery (receivers.c) */
  uv_loop_t *loop;
  http_server *http;
  sessions *online;
  ws_server *ws;
  uv_timer_t housekeeping;        /* expiry, batched ack saving, retry sweep */
  int64_t last_retry_sweep;
  struct receiver *catching_up;   /* logins whose pending pushes did not fit at once */
  fanout_job *fanout;             /* pushes of this turn awaiting commit */
  size_t n_fanout, cap_fanout;

  api_metrics metrics;

  /* per-address request cap (api.c); NULL when max_requests_per_ip is 0 */
  struct ratelimit *rate;

  /* push rate limits (svc_push.c) */
  uint64_t last_push_ms;
  int64_t quota_day;
  uint64_t quota_used;
};

typedef struct api_call {
  api *api;
  const char *identifier;  /* the admin making the call */
  json_t *body;            /* the request body, always an object */
  const char *body_text;   /* ... and its text, for forwarding members byte for byte */
  uint64_t started_ns;     /* uv_hrtime() when the request arrived */
  size_t body_len;
  json_t *reply;           /* extra fields of a successful answer */
  int code;                /* 0, or the Tencent code of the failure */
  char info[512];          /* ErrorInfo of the failure */
} api_call;

typedef void (*api_handler)(api_call *c);

/* Fails the call with a code and a precise ErrorInfo. Returns the code. */
int api_fail(api_call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Stops the server's owner with a message: memory exhausted (stated policy, as Redis). */
void api_out_of_memory(void) __attribute__((noreturn));

/* --- reading bodies --- */

/* obj[key], or NULL when absent or JSON null (null means absent). */
json_t *api_field(const json_t *obj, const char *key);

/* The list of accounts a call names under `key` (To_Account style): an array of strings
** of at most `max` items. On error fails the call with too_many_code for a long list and
** shape_code for a missing or mistyped one, and returns NULL. */
json_t *api_account_list(api_call *c, const char *key, size_t max, int too_many_code,
                         int shape_code);

/* The per-user items of an attribute or tag call, in any of the shapes real SDKs send:
** {"<list_key>":[{"To_Account":..,"<inner>":..}]}, the Go SDK's top-level
** {"<inner>":[{...}]}, or the official SDK's flat {"To_Account":"u1","<inner>":..}.
** Returns a new reference to an array of objects each with a string To_Account, or NULL
** after failing the call (90018 over 100 items, 90001 for a bad shape). */
json_t *api_user_items(api_call *c, const char *list_key, const char *inner_key);

/* True when identifier is one of the configured admins. */
bool api_is_admin(const api *a, const char *identifier);

/* The read calls' shape (im_get_tag, im_get_attr): for each account of To_Account (at
** most 100, else 90018) an item {"To_Account":id, inner_key: value_of(uid)} under
** reply_key; accounts not imported go to ErrorList. */
void api_get_per_account(api_call *c, const char *reply_key, const char *inner_key,
                         json_t *(*value_of)(const api *a, uint32_t uid));

/* The uid of an account named in a request, or DIR_UID_NONE when not imported. */
uint32_t api_find_account(const api *a, const char *user_id);

/* For the calls that go through a list of accounts and skip the ones not imported: the
** uid of user_id, or DIR_UID_NONE after adding {"To_Account":id,"ErrorCode":70107,
** "ErrorInfo":"account not imported"} to c->reply's ErrorList (one rule for all of them). */
uint32_t api_find_or_report(api_call *c, const char *user_id);

/* Human-readable JSON type of a value, for ErrorInfo ("string", "array", ...). */
const char *api_json_type(const json_t *v);

/* --- writing --- */

/* Imports a new account (store, then directory) inside a write; false after failing the
** call with 91000. */
bool api_import_new(api_call *c, const char *user_id, const char *nick, const char *face);

/* Opens the request's savepoint. Returns 0 or fails the call with 91000. */
int api_write_begin(api_call *c);
/* Keeps (ok) or undoes the request's writes. A store error after begin calls this with
** ok=false, then fails the call with 91000. */
void api_write_end(api_call *c, bool ok);
/* Checks a store result inside a write: on error fails the call with 91000 (the caller
** must then call api_write_end(c, false) and stop). Returns true on success. */
bool api_store_ok(api_call *c, int rc);

/*
** The shape every per-user write call shares (attributes and tags): read the items in any
** SDK's shape (api_user_items), check() every item i of items (failing the call on the first bad
** one, so nothing changes), then apply() each known account's item inside one write, and
** list the unknown accounts in ErrorList.
*/
typedef bool (*item_check)(api_call *c, const json_t *items, size_t i);
typedef bool (*item_apply)(api_call *c, uint32_t uid, const json_t *item, size_t i);
void api_apply_user_items(api_call *c, const char *list_key, const char *inner_key,
                          item_check check, item_apply apply);

/* --- receivers (receivers.c) --- */

/* GET /v4/ws: authenticates the user, imports it if needed, upgrades, sends Hello and the
** pushes it missed. */
void receivers_on_upgrade(api *a, http_request *req);
/* Starts the timers; makes the WebSocket server. 0 or a negative errno. */
int receivers_start(api *a, http_server *http);
/* Frees what receivers_start made; the timers must be stopped (api_close_receivers) and
** every receiver gone. */
void receivers_stop(api *a);
/* Queues p for live delivery once this turn commits (owned: free it afterwards);
** accepted_ns is when its im_push arrived. */
void receivers_queue_fanout(api *a, push *p, bool owned, uint64_t accepted_ns);
/* After the turn's commit: delivers the queued pushes (ok) or drops them (commit failed). */
void receivers_run_fanout(api *a, bool ok);
/* Sends more of their pending pushes to logins whose catch-up waits for output room. */
void receivers_continue_catch_up(api *a);
/* Sends each connection of uid a Kicked event and closes it with 4001. */
void receivers_kick(api *a, uint32_t uid, const char *reason);
/* Sends the connected audience of p a Revoke event. */
void receivers_revoke(api *a, const push *p);
/* Saves dirty delivered bitmaps (batched acks). */
void receivers_save_acks(api *a);
/* The shared frame of a push (built on first use, cached in p->frame). */
net_buf *receivers_frame(push *p);
/* push_free's free_frame callback. */
void api_free_frame(void *frame);

/* --- stats.c --- */
void api_metrics_init(api *a);
void api_metrics_count_request(api *a, const char *command, int code, double seconds);
/* The Prometheus exposition of everything; NULL when out of memory. Free with free(). */
char *api_metrics_render(api *a, size_t *len);

/* --- web.c --- */

/* Serves GET /console/..., /metrics and /healthz; false when the request is not one of
** them. */
bool web_serve(api *a, http_request *req);
/* True when web_serve would serve req (a page, not a REST call). */
bool web_is_page(const http_request *req);

/* --- handlers, one per command --- */
void svc_account_import(api_call *c);
void svc_multiaccount_import(api_call *c);
void svc_account_delete(api_call *c);
void svc_account_check(api_call *c);
void svc_kick(api_call *c);
void svc_query_online_status(api_call *c);

void svc_set_attr_name(api_call *c);
void svc_get_attr_name(api_call *c);
void svc_get_attr(api_call *c);
void svc_set_attr(api_call *c);
void svc_remove_attr(api_call *c);

void svc_get_tag(api_call *c);
void svc_add_tag(api_call *c);
void svc_remove_tag(api_call *c);
void svc_remove_all_tags(api_call *c);

void svc_im_push(api_call *c);
void svc_get_push_report(api_call *c);
void svc_revoke(api_call *c);
void svc_get_audience(api_call *c);

#endif
