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
#include "net/http.h"
#include "store/store.h"

#define API_MAX_ADMINS 16

typedef struct api_options {
  uint64_t sdkappid;
  const char *key;                         /* the app's secret key (borrowed) */
  const char *admins[API_MAX_ADMINS];      /* admin identifiers (borrowed) */
  size_t n_admins;
} api_options;

typedef struct api api;

/* Builds the api over a loaded directory (taken over) and an open store (borrowed).
** next_uid is the first uid never used (from api_load_directory). NULL on no memory. */
api *api_new(const api_options *opts, directory *dir, uint32_t next_uid, store *st);
void api_free(api *a);

/* The http_server_options.on_request / on_abandon callbacks (ctx is the api). */
void api_on_request(http_request *req, void *ctx);
void api_on_abandon(http_request *req, void *ctx);

/* Commits the turn's writes and releases the answers waiting for them. Call once per
** loop turn, before http_server_flush(). */
void api_end_of_turn(api *a);

/* Loads the directory from the store (on start, and after a failed commit). Returns 0 or
** a negative errno. *next_uid receives the first uid never used. */
int api_load_directory(store *st, directory **out, uint32_t *next_uid);

#endif
