/*
** store.h — durable state in SQLite (WAL) in the data folder.
**
** What is kept: accounts (uid, UserID, Nick, FaceUrl), the attribute slot names, each
** account's attribute values and tags, and small meta values (schema version, ...).
** The in-memory directory is rebuilt from here on start (store_load).
**
** Group commit: every store_put_* / store_del_* call joins the transaction of the current
** loop turn, opened lazily by the first such call; store_commit() ends it (the server
** calls it once per loop turn, before any reply that depends on it leaves). A request
** wraps its writes in store_savepoint()/store_release() so a failing request can be
** undone alone with store_rollback_to() without touching its neighbours in the turn.
**
** Durability: WAL with synchronous=NORMAL by default: a committed transaction survives a
** crash or SIGKILL of the process; with `fsync` set (synchronous=FULL) it also survives a
** power loss. Errors: functions return 0 or a negative errno-style int (-EIO for SQLite
** failures; store_errmsg() says more). Threads: one owner thread; no locking inside.
*/
#ifndef IMCAST_STORE_H
#define IMCAST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef struct store_options {
  bool fsync;              /* synchronous=FULL instead of NORMAL */
  int busy_timeout_ms;     /* default 5000 when 0 */
} store_options;

/* Opens (creating if needed) DIR/imcast.db. DIR must exist. On failure returns a negative
** errno and writes a one-line reason into err. opts may be NULL for the defaults. */
int store_open(store **out, const char *dir, const store_options *opts, char *err, size_t errlen);
/* Commits any open transaction and closes the database cleanly (checkpointing the WAL). */
void store_close(store *s);
const char *store_errmsg(const store *s);

/* Streams the saved state to the callbacks, accounts first, then attribute names, then
** attribute values, then tags (in the order each account's tags were added). A callback
** returning non-zero stops the load and store_load returns that value. */
typedef struct store_loader {
  void *ctx;
  int (*account)(void *ctx, uint32_t uid, const char *user_id);
  int (*attr_name)(void *ctx, int slot, const char *name);
  int (*user_attr)(void *ctx, uint32_t uid, int slot, const char *value);
  int (*user_tag)(void *ctx, uint32_t uid, const char *tag);
} store_loader;
int store_load(store *s, const store_loader *loader);

/* --- mutations: each joins the current turn's transaction --- */
int store_put_account(store *s, uint32_t uid, const char *user_id, const char *nick,
                      const char *face_url);
/* Deletes the account and all its attribute values and tags. */
int store_del_account(store *s, uint32_t uid);
int store_put_attr_name(store *s, int slot, const char *name);
int store_put_user_attr(store *s, uint32_t uid, int slot, const char *value);
int store_del_user_attr(store *s, uint32_t uid, int slot);
int store_put_user_tag(store *s, uint32_t uid, const char *tag);
int store_del_user_tag(store *s, uint32_t uid, const char *tag);
int store_del_user_tags(store *s, uint32_t uid);

/* Small key/value metadata (e.g. "next_uid"). get returns 0 and copies the value, or
** -ENOENT. */
int store_meta_put(store *s, const char *key, const char *value);
int store_meta_get(store *s, const char *key, char *value, size_t valuelen);

/* --- per-request atomicity inside the turn's transaction --- */
int store_savepoint(store *s);     /* opens the turn transaction if needed */
int store_release(store *s);       /* keeps the request's writes */
int store_rollback_to(store *s);   /* undoes the request's writes, keeps the turn's */

/* True while a turn transaction is open (something awaits commit). */
bool store_in_txn(const store *s);
/* Commits the turn transaction if one is open. Returns 0, or -EIO after which the whole
** turn's writes are rolled back. */
int store_commit(store *s);

#endif
