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

/* Most accounts one attribute or tag call may name (90018 above it). */
#define API_MAX_ACCOUNTS_PER_CALL 100
/* Most accounts one account call may name (70402 above it). */
#define API_MAX_ACCOUNT_ITEMS 100
#define API_MAX_QUERY_STATE 500
#define API_MAX_TAGS_PER_REQUEST 10

struct api {
  api_options opts;
  directory *dir;
  store *st;
  auth_cache *sigs;
  uint32_t next_uid;              /* first uid never handed out */
  struct waiting_call *waiting;   /* answers held until the turn commits (FIFO) */
  struct waiting_call **waiting_tail;
};

typedef struct api_call {
  api *api;
  json_t *body;            /* the request body, always an object */
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

/* The uid of an account named in a request, or DIR_UID_NONE when not imported. */
uint32_t api_find_account(const api *a, const char *user_id);

/* Adds {"To_Account":id,"ErrorCode":70107,"ErrorInfo":"account not imported"} to
** c->reply's ErrorList. */
void api_report_unknown(api_call *c, const char *user_id);

/* Human-readable JSON type of a value, for ErrorInfo ("string", "array", ...). */
const char *api_json_type(const json_t *v);

/* --- writing --- */

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

#endif
