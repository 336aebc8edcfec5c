/*
** store.h — durable state in SQLite (WAL) in the data folder.
**
** What is kept: accounts (uid, UserID, Nick, FaceUrl), the attribute slot names, each
** account's attribute values and tags, and small meta values (schema version, ...).
** The in-memory directory is rebuilt from here on start (store_load).
** Pushes with a lifetime are kept as ONE row each (message, times, and the audience and
** delivered bitmaps as CRoaring portable blobs, run-optimised), never one row per
** receiver; with them the (sender, MsgRandom) records of the retry window
** (store_load_pushes rebuilds both).
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
#include <roaring/roaring.h>

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

/* --- pushes: the writes join the current turn's transaction like the mutations above ---
** One stored push, as put and as loaded. The store knows nothing of what state means
** (it is the core's push_state) and never changes the bitmaps it is given. */
typedef struct store_push {
  uint64_t seq;                /* the key; below 2^63 */
  const char *task_id;         /* unique; never NULL */
  uint32_t msg_random;
  const char *sender;          /* NULL only if saved NULL */
  int64_t created_at;          /* unix seconds */
  int64_t expires_at;
  int64_t fanout_done_at;      /* 0 while fanning out */
  uint64_t online_at_push;
  int state;
  const char *msg_json;        /* NUL-terminated; NULL only if saved NULL */
  size_t msg_len;              /* strlen(msg_json) */
  roaring_bitmap_t *audience;  /* NULL only if saved NULL */
  roaring_bitmap_t *delivered; /* NULL only if saved NULL */
} store_push;

/* Saves a new push. The bitmaps are written run-optimised (from a copy: p's own are not
** touched). -EEXIST when the seq or the TaskId is already stored (a Seq handed out twice
** is a caller bug worth hearing about); -EINVAL for a NULL task_id or a seq >= 2^63. */
int store_put_push(store *s, const store_push *p);
/* Replaces the delivered bitmap of push seq (batched ack flushes). -ENOENT if no such push. */
int store_put_push_delivered(store *s, uint64_t seq, const roaring_bitmap_t *delivered);
/* Sets the state and fanout_done_at of push seq. -ENOENT if no such push. */
int store_put_push_state(store *s, uint64_t seq, int state, int64_t fanout_done_at);
/* Deletes push seq (expired or revoked); a missing one is a no-op. */
int store_del_push(store *s, uint64_t seq);
/* Remembers that (sender, msg_random) made task_id at created_at, replacing an older
** record of the same pair. */
int store_put_retry(store *s, const char *sender, uint32_t msg_random, const char *task_id,
                    int64_t created_at);
/* Forgets the retry records made before t (created_at < t). */
int store_del_retries_before(store *s, int64_t t);

/* Streams the saved pushes in increasing seq to push_cb, then the retry records, oldest
** first, to retry_cb; a NULL callback skips its part. The strings handed over live only
** for the call (copy them); the bitmaps are new and belong to push_cb from the moment it
** is called, whatever it returns (it frees them with roaring_bitmap_free). A callback
** returning non-zero stops the load, which returns that value. A blob that is not a
** well-formed portable bitmap stops the load with -EBADMSG, and store_errmsg() names the
** push and the column; nothing is handed over for that push. */
int store_load_pushes(store *s,
                      int (*push_cb)(void *ctx, const store_push *p),
                      int (*retry_cb)(void *ctx, const char *sender, uint32_t msg_random,
                                      const char *task_id, int64_t created_at),
                      void *ctx);

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
