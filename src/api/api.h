/*
** api.h — the REST API: Tencent IM's all-member push and account calls over HTTP.
**
** The api translates between HTTP requests (net/) and the state (core/, store/): it
** checks the URL and the UserSig, validates the whole JSON body, applies a change to the
** store and then to the directory, and answers with Tencent's envelope
** {"ActionStatus","ErrorInfo","ErrorCode",...}. Every business result is HTTP 200.
**
** Commit rule (group commit): while the loop turn's transaction is open, every answer
** waits; api_end_of_turn() commits once and releases them all. If that commit fails,
** every waiting answer becomes 91000 and the directory is rebuilt from the store, so a
** client never sees OK for something not on disk.
**
** Ownership: the api owns the directory given to it (it may replace it after a failed
** commit) and frees it in api_free(); it borrows the store, which the owner closes after
** api_free(). Threads: the loop's thread only.
*/
#ifndef IMCAST_API_H
#define IMCAST_API_H

#include <stddef.h>
#include <stdint.h>

#include "core/directory.h"
#include "core/pushes.h"
#include "net/http.h"
#include "store/store.h"

#define API_MAX_ADMINS 16

typedef struct api_options {
  uint64_t sdkappid;
  const char *key;                         /* the app's secret key (borrowed) */
  const char *admins[API_MAX_ADMINS];      /* admin identifiers (borrowed) */
  size_t n_admins;
  uint64_t push_min_interval_ms;           /* 0 = off; else a sooner push answers 90024 */
  uint64_t push_daily_quota;               /* 0 = off; else push number quota+1 of a UTC day: 90047 */
  uint64_t max_live_pushes;                /* stored pushes alive at once; 0 = 10000 */
  uint64_t ws_queue_cap_bytes;             /* a receiver's unsent output cap; 0 = 1 MiB */
  unsigned ping_sec;                       /* told to receivers in Hello; 0 = 30 */
  uint32_t max_requests_per_ip;            /* HTTP requests a second from one address; 0 = off */
} api_options;

/* What is loaded from the store on start. */
typedef struct api_state {
  directory *dir;
  push_registry *pushes;
  uint32_t next_uid;                       /* first uid never used */
} api_state;

typedef struct api api;

/* Builds the api over a loaded state (taken over), an open store (borrowed) and the HTTP
** server whose /v4/ws requests become receivers (borrowed). Starts the api's timers on
** loop (expiry, batched ack saving). NULL on no memory. */
api *api_new(const api_options *opts, uv_loop_t *loop, http_server *http, api_state *state,
             store *st);
/* Frees the api once its receivers are gone (after api_close_receivers and the HTTP
** server's shutdown): saves pending acks, commits. */
void api_free(api *a);
/* Shutdown: closes every receiver with 1001 (going away) and stops the timers. */
void api_close_receivers(api *a);

/* The http_server_options.on_request / on_abandon callbacks (ctx is the api). */
void api_on_request(http_request *req, void *ctx);
void api_on_abandon(http_request *req, void *ctx);

/* Commits the turn's writes and releases the answers waiting for them. Call once per
** loop turn, before http_server_flush(). */
void api_end_of_turn(api *a);

/* Call right after http_server_flush(): resumes catch-ups that now have room. */
void api_after_flush(api *a);

/* Loads the state from the store (on start, and after a failed commit). Returns 0 or a
** negative errno (store_errmsg() says more). */
int api_load_state(store *st, api_state *out);
void api_state_free(api_state *state);

#endif
