/*
** harness.h — what the api-level fuzz targets share: a real api (router, handlers, store,
** receivers) over a real http_server whose connections are fake_conn.c's, on a store in a
** temporary folder made once per process and seeded with a fixed baseline: accounts
** u0..u23, fuzzuser, admin, 用户; attribute names sex, city, level, vip and some values;
** tags; eleven stored pushes (the third revoked; eight to everyone, up to 400 bytes).
**
** Determinism: every input starts from the same baseline. fz_api_reset() puts the database
** back (only if the input committed anything: SQLite's data_version says so) and reloads
** the in-memory state from it, the way the api reloads after a failed commit.
*/
#ifndef IMCAST_FUZZ_HARNESS_H
#define IMCAST_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_internal.h"
#include "fake_conn.h"

#define FZ_SDKAPPID 1400000000ull
/* The key of tests/testdata/usersig/vectors.json (and of java-sdks.json's sigs). */
#define FZ_KEY "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
#define FZ_ADMIN "administrator"
#define FZ_USER "fuzzuser"
#define FZ_BASE_PUSHES 3          /* with TaskIds kept (then 8 more to everyone) */
#define FZ_WS_QUEUE_CAP 3000      /* the receivers' output cap (bytes) */
#define FZ_MAX_HEADER_BYTES 3072  /* HTTP limits (imcastd: 16 KiB, 1 MiB, 64) */
#define FZ_MAX_BODY_BYTES 32768
#define FZ_MAX_PIPELINED 4

typedef struct fz_api {
  api *a;
  http_server *http;
  conn_hub *hub;
  store *st;
  char admin_sig[512];        /* valid for FZ_ADMIN for years */
  char user_sig[512];         /* valid for FZ_USER */
  char task_ids[FZ_BASE_PUSHES][PUSH_TASK_ID_MAX]; /* baseline pushes (the last revoked) */
} fz_api;

/* The process's api (made on first call; aborts if it cannot be made). */
fz_api *fz_api_get(void);
/* Runs loop turns (each connection reading at most read_max bytes per turn; 0 = 64 KiB)
** until nothing happens. Aborts on a livelock. */
void fz_run(fz_api *e, size_t read_max);
/* Back to the baseline: database (if changed) and in-memory state. force: reload memory
** even if the database did not change (e.g. acks live only in memory). */
void fz_api_reset(fz_api *e, bool force);

/* True when a push's delivered bitmap changed in memory only (acks not yet saved): the
** next input would see them, so the state must be reloaded. */
bool fz_acks_pending(const fz_api *e);

/* Replaces each @SIG@ with the admin's UserSig, @USIG@ with FZ_USER's, @TASK0@..@TASK2@
** with the baseline TaskIds. Returns a malloc'd copy (NUL-terminated) and its length. */
char *fz_expand(const fz_api *e, const uint8_t *data, size_t len, size_t *outlen);

/* One parsed HTTP response. */
typedef struct fz_response {
  int status;
  const char *body;
  size_t body_len;
  bool close;
  bool json;                  /* Content-Type: application/json... */
} fz_response;
/* Splits received bytes into responses; returns how many were found (at most max) and
** aborts if the bytes are not a sequence of well-formed responses. */
size_t fz_parse_responses(const char *buf, size_t len, fz_response *out, size_t max);
/* The same, where the last response may be cut short (the connection was closed with
** output unread: fake_conn_dropped_output); a cut one is not counted. */
size_t fz_parse_responses_cut(const char *buf, size_t len, fz_response *out, size_t max,
                              bool may_be_cut);

/* Checks a Tencent envelope: a JSON object with ActionStatus "OK"/"FAIL", a string
** ErrorInfo and an integer ErrorCode that agree. Aborts otherwise. Returns ErrorCode. */
int fz_check_envelope(const char *body, size_t len);

/* A digest of the directory's whole content (accounts, tags, attributes, names). */
uint64_t fz_dir_digest(const directory *d);

/* Makes a temporary folder /dev/shm/imcast-fuzz-<pid>-XXXXXX (or under $TMPDIR, /tmp)
** removed at exit, into path; first removes the folders of fuzz processes that are gone
** (a crash skips atexit). Aborts on failure. */
void fz_tempdir(char *path, size_t len);

/* Aborts with a message (a finding). */
void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
