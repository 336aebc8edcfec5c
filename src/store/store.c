/*
** store.c — the SQLite side of store.h: schema, prepared statements, turn transactions.
**
** Guarantees: store_open either returns a ready store on a database at the current schema
** version or fails with nothing half-made (a database file it created is removed again; an
** existing file it cannot use is left untouched). Every write joins one turn transaction
** (BEGIN IMMEDIATE, opened lazily) that only store_commit ends, so a crash loses at most
** the uncommitted turn. If SQLite itself aborts the turn transaction after an error (disk
** full, I/O error), the turn is reported lost by the next write and by store_commit — it is
** never silently replaced by a fresh transaction.
** Push bitmaps are stored as CRoaring portable blobs; on load each blob is checked against
** the format before CRoaring sees it, so a damaged blob is an error with a reason, never an
** out-of-bounds read or a bitmap whose internals lie (CRoaring 0.2.66 trusts them).
*/
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DB_FILE "imcast.db"
#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------
** Schema. Each step says which schema version introduced it; opening a database at version
** v runs the steps above v in order, then records the last step's version. To extend the
** schema (e.g. `pushes`), append steps with the next version number — never edit old ones.
** user_tags has an explicit INTEGER PRIMARY KEY because load returns tags in its order
** (= order added) and VACUUM may renumber an implicit rowid but never a declared one.
** attr_names.name is deliberately not UNIQUE: swapping two slots' names inside one
** transaction passes through a state where both slots hold the same name.
*/
static const struct schema_step {
  int version;
  const char *sql;
} schema_steps[] = {
    {1, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"},
    {1, "CREATE TABLE IF NOT EXISTS accounts(uid INTEGER PRIMARY KEY, "
        "user_id TEXT NOT NULL UNIQUE, nick TEXT, face_url TEXT, created_at INTEGER)"},
    {1, "CREATE TABLE IF NOT EXISTS attr_names(slot INTEGER PRIMARY KEY, name TEXT NOT NULL)"},
    {1, "CREATE TABLE IF NOT EXISTS user_attrs(uid INTEGER NOT NULL, slot INTEGER NOT NULL, "
        "value TEXT NOT NULL, PRIMARY KEY(uid, slot)) WITHOUT ROWID"},
    {1, "CREATE TABLE IF NOT EXISTS user_tags(id INTEGER PRIMARY KEY, uid INTEGER NOT NULL, "
        "tag TEXT NOT NULL, UNIQUE(uid, tag))"},
    /* Version 2: pushes (one row per push, bitmaps as portable roaring blobs) and the
    ** retry window's (sender, MsgRandom) records, swept by time through their index. */
    {2, "CREATE TABLE IF NOT EXISTS pushes(seq INTEGER PRIMARY KEY, "
        "task_id TEXT NOT NULL UNIQUE, msg_random INTEGER, sender TEXT, created_at INTEGER, "
        "expires_at INTEGER, fanout_done_at INTEGER, online_at_push INTEGER, state INTEGER, "
        "msg_json TEXT, audience BLOB, delivered BLOB)"},
    {2, "CREATE TABLE IF NOT EXISTS push_retries(sender TEXT, msg_random INTEGER, "
        "task_id TEXT NOT NULL, created_at INTEGER NOT NULL, "
        "PRIMARY KEY(sender, msg_random)) WITHOUT ROWID"},
    {2, "CREATE INDEX IF NOT EXISTS push_retries_by_time ON push_retries(created_at)"},
};
#define SCHEMA_VERSION (schema_steps[ARRAY_LEN(schema_steps) - 1].version)

/* ---------------------------------------------------------------------------------------
** Every statement the store runs after open, prepared once (SQLITE_PREPARE_PERSISTENT).
** put_account updates only nick/face_url of an existing uid, and only if the UserID
** matches: a uid's UserID never changes, so a mismatch is a caller bug reported as -EEXIST
** (as is a UserID already held by another uid, via the UNIQUE constraint).
*/
#define STORE_STATEMENTS(X)                                                                \
  X(ST_BEGIN, "BEGIN IMMEDIATE")                                                          \
  X(ST_COMMIT, "COMMIT")                                                                  \
  X(ST_ROLLBACK, "ROLLBACK")                                                              \
  X(ST_SAVEPOINT, "SAVEPOINT req")                                                        \
  X(ST_RELEASE, "RELEASE req")                                                            \
  X(ST_ROLLBACK_TO, "ROLLBACK TO req")                                                    \
  X(ST_PUT_ACCOUNT, "INSERT INTO accounts(uid, user_id, nick, face_url, created_at) "     \
                    "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(uid) DO UPDATE SET "          \
                    "nick = excluded.nick, face_url = excluded.face_url "                 \
                    "WHERE user_id = excluded.user_id")                                   \
  X(ST_DEL_ACCOUNT, "DELETE FROM accounts WHERE uid = ?1")                                \
  X(ST_PUT_ATTR_NAME, "INSERT INTO attr_names(slot, name) VALUES(?1, ?2) "                \
                      "ON CONFLICT(slot) DO UPDATE SET name = excluded.name")             \
  X(ST_PUT_USER_ATTR, "INSERT INTO user_attrs(uid, slot, value) VALUES(?1, ?2, ?3) "      \
                      "ON CONFLICT(uid, slot) DO UPDATE SET value = excluded.value")      \
  X(ST_DEL_USER_ATTR, "DELETE FROM user_attrs WHERE uid = ?1 AND slot = ?2")              \
  X(ST_DEL_USER_ATTRS, "DELETE FROM user_attrs WHERE uid = ?1")                           \
  X(ST_PUT_USER_TAG, "INSERT INTO user_tags(uid, tag) VALUES(?1, ?2) "                    \
                     "ON CONFLICT(uid, tag) DO NOTHING")                                  \
  X(ST_DEL_USER_TAG, "DELETE FROM user_tags WHERE uid = ?1 AND tag = ?2")                 \
  X(ST_DEL_USER_TAGS, "DELETE FROM user_tags WHERE uid = ?1")                             \
  X(ST_META_PUT, "INSERT INTO meta(key, value) VALUES(?1, ?2) "                           \
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value")                 \
  X(ST_META_GET, "SELECT value FROM meta WHERE key = ?1")                                 \
  X(ST_LOAD_ACCOUNTS, "SELECT uid, user_id FROM accounts ORDER BY uid")                   \
  X(ST_LOAD_ATTR_NAMES, "SELECT slot, name FROM attr_names ORDER BY slot")                \
  X(ST_LOAD_USER_ATTRS, "SELECT uid, slot, value FROM user_attrs ORDER BY uid, slot")     \
  X(ST_LOAD_USER_TAGS, "SELECT uid, tag FROM user_tags ORDER BY id")                     \
  X(ST_PUT_PUSH, "INSERT INTO pushes(seq, task_id, msg_random, sender, created_at, "      \
                 "expires_at, fanout_done_at, online_at_push, state, msg_json, audience, " \
                 "delivered) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")  \
  X(ST_PUT_PUSH_DELIVERED, "UPDATE pushes SET delivered = ?2 WHERE seq = ?1")             \
  X(ST_PUT_PUSH_STATE, "UPDATE pushes SET state = ?2, fanout_done_at = ?3 WHERE seq = ?1") \
  X(ST_DEL_PUSH, "DELETE FROM pushes WHERE seq = ?1")                                     \
  X(ST_PUT_RETRY, "INSERT INTO push_retries(sender, msg_random, task_id, created_at) "    \
                  "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(sender, msg_random) DO UPDATE SET " \
                  "task_id = excluded.task_id, created_at = excluded.created_at")         \
  X(ST_DEL_RETRIES_BEFORE, "DELETE FROM push_retries WHERE created_at < ?1")              \
  X(ST_LOAD_PUSHES, "SELECT seq, task_id, msg_random, sender, created_at, expires_at, "   \
                    "fanout_done_at, online_at_push, state, msg_json, audience, delivered " \
                    "FROM pushes ORDER BY seq")                                           \
  X(ST_LOAD_RETRIES, "SELECT sender, msg_random, task_id, created_at FROM push_retries "  \
                     "ORDER BY created_at")

enum stmt_id {
#define AS_ENUM(id, sql) id,
  STORE_STATEMENTS(AS_ENUM)
#undef AS_ENUM
  ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
#define AS_SQL(id, sql) sql,
    STORE_STATEMENTS(AS_SQL)
#undef AS_SQL
};

static const char *const stmt_name[ST_COUNT] = {
#define AS_NAME(id, sql) #id,
    STORE_STATEMENTS(AS_NAME)
#undef AS_NAME
};

struct store {
  sqlite3 *db;
  sqlite3_stmt *stmt[ST_COUNT];
  bool turn_open; /* we began a turn transaction and have not ended it */
  char errmsg[256];
};

/* --- errors ---------------------------------------------------------------------------- */

/* Records why a statement failed (SQLite's message for this connection) and yields -EIO. */
static int sql_failed(store *s, const char *what) {
  /* "%.100s: %.150s" keeps the message within errmsg (no silent truncation warning). */
  snprintf(s->errmsg, sizeof s->errmsg, "%.100s: %.150s", what, sqlite3_errmsg(s->db));
  return -EIO;
}

static int store_failed(store *s, int rc, const char *what) {
  snprintf(s->errmsg, sizeof s->errmsg, "%s", what);
  return rc;
}

/* --- running prepared statements ---------------------------------------------------------- */

/* Makes a statement ready for its next use and drops pointers to the caller's strings
** (text is bound SQLITE_STATIC: it only has to live until the step has finished). */
static void stmt_done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

/* Binding a parameter fails only on out-of-memory or a value beyond SQLite's size limit. */
static int bind_failed(store *s, enum stmt_id id) {
  int rc = sql_failed(s, stmt_name[id]);
  stmt_done(s->stmt[id]);
  return rc;
}

/* Steps a statement that returns no rows, then resets it. */
static int step_done(store *s, enum stmt_id id) {
  sqlite3_stmt *st = s->stmt[id];
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : sql_failed(s, stmt_name[id]);
  stmt_done(st);
  return ret;
}

/* SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, SQLITE_IOERR,
** SQLITE_NOMEM...). Then the turn's earlier writes are gone although their requests were
** told nothing yet; the turn must end through store_commit, which reports it. */
static bool turn_lost(const store *s) {
  return s->turn_open && sqlite3_get_autocommit(s->db);
}

/* Every mutation starts here: joins the turn transaction, opening it if needed. */
static int ensure_turn(store *s) {
  if (turn_lost(s))
    return store_failed(s, -EIO, "the turn's transaction was rolled back after an error");
  if (s->turn_open)
    return 0;
  int rc = step_done(s, ST_BEGIN);
  if (rc == 0)
    s->turn_open = true;
  return rc;
}

/* --- open ------------------------------------------------------------------------------- */

static int check_dir(const char *dir, char *err, size_t errlen) {
  struct stat st;
  if (stat(dir, &st) != 0) {
    int e = errno;
    snprintf(err, errlen, "data folder %s: %s", dir, strerror(e));
    return -e;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "data folder %s: not a directory", dir);
    return -ENOTDIR;
  }
  /* SQLite must create imcast.db, -wal and -shm beside it. */
  if (access(dir, W_OK | X_OK) != 0) {
    int e = errno;
    snprintf(err, errlen, "data folder %s is not writable: %s", dir, strerror(e));
    return -e;
  }
  return 0;
}

/* Runs a statement that yields one text value (PRAGMA journal_mode, a meta lookup) and
** copies it into buf; *found says whether there was a row. */
static int query_text(store *s, const char *sql, char *buf, size_t len, bool *found) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
    return sql_failed(s, sql);
  int rc = sqlite3_step(st);
  *found = rc == SQLITE_ROW;
  if (*found) {
    const unsigned char *text = sqlite3_column_text(st, 0);
    snprintf(buf, len, "%s", text ? (const char *)text : "");
  }
  int ret = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : sql_failed(s, sql);
  sqlite3_finalize(st);
  return ret;
}

static int exec_sql(store *s, const char *sql) {
  return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sql_failed(s, sql);
}

/* A text file named imcast.db opens fine; the first read is what says "not a database".
** Reading only, before anything turns on WAL, leaves such a file exactly as it was. */
static int probe_readable(store *s) {
  char count[32];
  bool found;
  return query_text(s, "SELECT count(*) FROM sqlite_schema", count, sizeof count, &found);
}

static int configure(store *s, const store_options *opts) {
  int busy_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms
                                                  : DEFAULT_BUSY_TIMEOUT_MS;
  if (sqlite3_busy_timeout(s->db, busy_ms) != SQLITE_OK)
    return sql_failed(s, "busy_timeout");
  if (sqlite3_db_readonly(s->db, "main") == 1)
    return store_failed(s, -EACCES, "database file is read-only");
  int rc = probe_readable(s);
  if (rc)
    return rc;

  char mode[16];
  bool found;
  rc = query_text(s, "PRAGMA journal_mode=WAL", mode, sizeof mode, &found);
  if (rc)
    return rc;
  if (!found || strcmp(mode, "wal") != 0)
    return store_failed(s, -EIO, "cannot switch the database to WAL mode");
  return exec_sql(s, opts && opts->fsync ? "PRAGMA synchronous=FULL"
                                         : "PRAGMA synchronous=NORMAL");
}

/* The version recorded in meta; 0 for a database that has no schema yet. */
static int read_schema_version(store *s, int *version) {
  char text[32];
  bool found;
  *version = 0;
  int rc = query_text(s, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
                      text, sizeof text, &found);
  if (rc || !found)
    return rc;
  rc = query_text(s, "SELECT value FROM meta WHERE key = 'schema_version'", text, sizeof text,
                  &found);
  if (rc || !found)
    return rc;
  char *end;
  long v = strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0 || v > INT_MAX)
    return store_failed(s, -EIO, "meta.schema_version is not a number");
  *version = (int)v;
  return 0;
}

static int apply_schema_steps(store *s, int from_version) {
  for (size_t i = 0; i < ARRAY_LEN(schema_steps); i++) {
    if (schema_steps[i].version <= from_version)
      continue;
    int rc = exec_sql(s, schema_steps[i].sql);
    if (rc)
      return rc;
  }
  char sql[128];
  snprintf(sql, sizeof sql,
           "INSERT INTO meta(key, value) VALUES('schema_version', '%d') "
           "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
           SCHEMA_VERSION);
  return exec_sql(s, sql);
}

/* Brings the schema up to SCHEMA_VERSION in one transaction: all steps or none. */
static int migrate(store *s) {
  int rc = exec_sql(s, "BEGIN IMMEDIATE");
  if (rc)
    return rc;
  int version;
  rc = read_schema_version(s, &version);
  if (rc == 0 && version > SCHEMA_VERSION) {
    snprintf(s->errmsg, sizeof s->errmsg,
             "database schema version %d is newer than this imcastd supports (%d)", version,
             SCHEMA_VERSION);
    rc = -ENOTSUP;
  }
  if (rc == 0 && version < SCHEMA_VERSION)
    rc = apply_schema_steps(s, version);
  if (rc == 0)
    rc = exec_sql(s, "COMMIT");
  if (rc && !sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

static int prepare_statements(store *s) {
  for (int i = 0; i < ST_COUNT; i++) {
    if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                           NULL) != SQLITE_OK)
      return sql_failed(s, stmt_name[i]);
  }
  return 0;
}

static void finalize_statements(store *s) {
  for (int i = 0; i < ST_COUNT; i++) {
    sqlite3_finalize(s->stmt[i]);
    s->stmt[i] = NULL;
  }
}

/* Removes a database that this failed open created, with its WAL companions. */
static void remove_created_db(const char *path) {
  char side[PATH_MAX + 8];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-journal", path);
  unlink(side);
}

int store_open(store **out, const char *dir, const store_options *opts, char *err,
               size_t errlen) {
  *out = NULL;
  int rc = check_dir(dir, err, errlen);
  if (rc)
    return rc;

  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, DB_FILE) >= sizeof path) {
    snprintf(err, errlen, "data folder path is too long");
    return -ENAMETOOLONG;
  }
  bool existed = access(path, F_OK) == 0;

  store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  /* One owner thread (store.h), so SQLite's per-connection mutex is not needed. */
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK)
    rc = sql_failed(s, "open");
  if (rc == 0)
    rc = configure(s, opts);
  if (rc == 0)
    rc = migrate(s);
  if (rc == 0)
    rc = prepare_statements(s);
  if (rc == 0) {
    *out = s;
    return 0;
  }

  snprintf(err, errlen, "%s: %s", path, s->errmsg);
  finalize_statements(s);
  sqlite3_close(s->db);
  free(s);
  if (!existed)
    remove_created_db(path);
  return rc;
}

void store_close(store *s) {
  if (!s)
    return;
  store_commit(s);
  finalize_statements(s);
  /* Best effort: leaves a lone imcast.db (empty WAL) for backups and copies. */
  sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sqlite3_close(s->db);
  free(s);
}

const char *store_errmsg(const store *s) { return s ? s->errmsg : "no store"; }

/* --- load -------------------------------------------------------------------------------- */

/* Turns one result row into one loader callback; returns the callback's verdict. `loader`
** is the table's loader: a store_loader, or a push_loading for the push tables. */
typedef int (*row_to_callback)(const void *loader, sqlite3_stmt *st);

static uint32_t column_uid(sqlite3_stmt *st, int col) {
  return (uint32_t)sqlite3_column_int64(st, col);
}

/* Columns are NOT NULL, so a NULL text here means SQLite ran out of memory. */
static const char *column_text(sqlite3_stmt *st, int col) {
  return (const char *)sqlite3_column_text(st, col);
}

static int row_account(const void *loader, sqlite3_stmt *st) {
  const store_loader *l = loader;
  const char *user_id = column_text(st, 1);
  return user_id ? l->account(l->ctx, column_uid(st, 0), user_id) : -ENOMEM;
}

static int row_attr_name(const void *loader, sqlite3_stmt *st) {
  const store_loader *l = loader;
  const char *name = column_text(st, 1);
  return name ? l->attr_name(l->ctx, sqlite3_column_int(st, 0), name) : -ENOMEM;
}

static int row_user_attr(const void *loader, sqlite3_stmt *st) {
  const store_loader *l = loader;
  const char *value = column_text(st, 2);
  return value ? l->user_attr(l->ctx, column_uid(st, 0), sqlite3_column_int(st, 1), value)
               : -ENOMEM;
}

static int row_user_tag(const void *loader, sqlite3_stmt *st) {
  const store_loader *l = loader;
  const char *tag = column_text(st, 1);
  return tag ? l->user_tag(l->ctx, column_uid(st, 0), tag) : -ENOMEM;
}

/* One SELECT per table, rows handed over as they are read: nothing is buffered. */
static int stream_rows(store *s, enum stmt_id id, const void *l, row_to_callback fn) {
  sqlite3_stmt *st = s->stmt[id];
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int verdict = fn(l, st);
    if (verdict != 0) {
      stmt_done(st);
      if (verdict == -ENOMEM)
        store_failed(s, -ENOMEM, "out of memory while loading");
      return verdict;
    }
  }
  int ret = rc == SQLITE_DONE ? 0 : sql_failed(s, stmt_name[id]);
  stmt_done(st);
  return ret;
}

/* A NULL callback skips its table. */
int store_load(store *s, const store_loader *loader) {
  int rc = 0;
  if (loader->account)
    rc = stream_rows(s, ST_LOAD_ACCOUNTS, loader, row_account);
  if (rc == 0 && loader->attr_name)
    rc = stream_rows(s, ST_LOAD_ATTR_NAMES, loader, row_attr_name);
  if (rc == 0 && loader->user_attr)
    rc = stream_rows(s, ST_LOAD_USER_ATTRS, loader, row_user_attr);
  if (rc == 0 && loader->user_tag)
    rc = stream_rows(s, ST_LOAD_USER_TAGS, loader, row_user_tag);
  return rc;
}

/* --- mutations ----------------------------------------------------------------------------
** Each joins the turn (ensure_turn), binds, runs once. A failure may leave part of a
** multi-statement call (store_del_account) done: the caller undoes the whole request with
** store_rollback_to, as for any failed request.
*/

/* Returns -EEXIST when uid exists with another UserID or the UserID has another uid. */
int store_put_account(store *s, uint32_t uid, const char *user_id, const char *nick,
                      const char *face_url) {
  if (!user_id)
    return store_failed(s, -EINVAL, "put_account: UserID is NULL");
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_PUT_ACCOUNT];
  if (sqlite3_bind_int64(st, 1, uid) || sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC) ||
      sqlite3_bind_text(st, 3, nick, -1, SQLITE_STATIC) ||
      sqlite3_bind_text(st, 4, face_url, -1, SQLITE_STATIC) ||
      sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL)))
    return bind_failed(s, ST_PUT_ACCOUNT);

  rc = sqlite3_step(st);
  int ret = 0;
  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    ret = store_failed(s, -EEXIST, "put_account: UserID belongs to another uid");
  else if (rc != SQLITE_DONE)
    ret = sql_failed(s, stmt_name[ST_PUT_ACCOUNT]);
  else if (sqlite3_changes(s->db) == 0) /* the upsert's WHERE refused: uid has another UserID */
    ret = store_failed(s, -EEXIST, "put_account: uid belongs to another UserID");
  stmt_done(st);
  return ret;
}

/* Binds uid as ?1 and runs one of the "DELETE ... WHERE uid = ?1" statements. */
static int delete_by_uid(store *s, enum stmt_id id, uint32_t uid) {
  if (sqlite3_bind_int64(s->stmt[id], 1, uid))
    return bind_failed(s, id);
  return step_done(s, id);
}

int store_del_account(store *s, uint32_t uid) {
  int rc = ensure_turn(s);
  if (rc == 0)
    rc = delete_by_uid(s, ST_DEL_USER_TAGS, uid);
  if (rc == 0)
    rc = delete_by_uid(s, ST_DEL_USER_ATTRS, uid);
  if (rc == 0)
    rc = delete_by_uid(s, ST_DEL_ACCOUNT, uid);
  return rc;
}

int store_put_attr_name(store *s, int slot, const char *name) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_PUT_ATTR_NAME];
  if (sqlite3_bind_int(st, 1, slot) || sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC))
    return bind_failed(s, ST_PUT_ATTR_NAME);
  return step_done(s, ST_PUT_ATTR_NAME);
}

int store_put_user_attr(store *s, uint32_t uid, int slot, const char *value) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_PUT_USER_ATTR];
  if (sqlite3_bind_int64(st, 1, uid) || sqlite3_bind_int(st, 2, slot) ||
      sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC))
    return bind_failed(s, ST_PUT_USER_ATTR);
  return step_done(s, ST_PUT_USER_ATTR);
}

int store_del_user_attr(store *s, uint32_t uid, int slot) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_DEL_USER_ATTR];
  if (sqlite3_bind_int64(st, 1, uid) || sqlite3_bind_int(st, 2, slot))
    return bind_failed(s, ST_DEL_USER_ATTR);
  return step_done(s, ST_DEL_USER_ATTR);
}

/* Binds (uid, tag) as ?1, ?2 and runs a user_tags statement. */
static int write_user_tag(store *s, enum stmt_id id, uint32_t uid, const char *tag) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[id];
  if (sqlite3_bind_int64(st, 1, uid) || sqlite3_bind_text(st, 2, tag, -1, SQLITE_STATIC))
    return bind_failed(s, id);
  return step_done(s, id);
}

/* An existing (uid, tag) is left alone, so it keeps its place in the load order. */
int store_put_user_tag(store *s, uint32_t uid, const char *tag) {
  return write_user_tag(s, ST_PUT_USER_TAG, uid, tag);
}

int store_del_user_tag(store *s, uint32_t uid, const char *tag) {
  return write_user_tag(s, ST_DEL_USER_TAG, uid, tag);
}

int store_del_user_tags(store *s, uint32_t uid) {
  int rc = ensure_turn(s);
  return rc ? rc : delete_by_uid(s, ST_DEL_USER_TAGS, uid);
}

/* --- meta -------------------------------------------------------------------------------- */

int store_meta_put(store *s, const char *key, const char *value) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_META_PUT];
  if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) ||
      sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC))
    return bind_failed(s, ST_META_PUT);
  return step_done(s, ST_META_PUT);
}

/* Sees the turn's uncommitted writes (same connection). -ERANGE if valuelen is too small. */
int store_meta_get(store *s, const char *key, char *value, size_t valuelen) {
  sqlite3_stmt *st = s->stmt[ST_META_GET];
  if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC))
    return bind_failed(s, ST_META_GET);
  int rc = sqlite3_step(st);
  int ret;
  if (rc == SQLITE_ROW) {
    const char *text = column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    if (!text)
      ret = store_failed(s, -ENOMEM, "meta_get: out of memory");
    else if (len >= valuelen)
      ret = store_failed(s, -ERANGE, "meta_get: value does not fit the buffer");
    else {
      memcpy(value, text, len + 1);
      ret = 0;
    }
  } else if (rc == SQLITE_DONE) {
    ret = -ENOENT;
  } else {
    ret = sql_failed(s, stmt_name[ST_META_GET]);
  }
  stmt_done(st);
  return ret;
}

/* --- push bitmaps as portable roaring blobs ----------------------------------------------
** The format (RoaringFormatSpec, little-endian): a cookie, then per container a 16-bit key
** and cardinality-1, then (unless the cookie says "runs" and there are fewer than 4
** containers) a 32-bit byte offset per container, then the containers: a run container is
** a run count and (start, length-1) pairs, else more than 4096 values make an 8 KiB bitset
** and fewer a sorted array of 16-bit values.
** CRoaring's deserialize_safe checks lengths only; this check also makes sure the contents
** keep the invariants CRoaring relies on later (ordered keys and values, runs inside the
** 16-bit range, a bitset's stored cardinality equal to its bits), so a damaged blob never
** becomes a bitmap that misbehaves long after loading.
*/
#define ROARING_COOKIE_RUNS 12347u
#define ROARING_COOKIE_NO_RUNS 12346u
#define ROARING_OFFSETS_FROM 4u     /* run-cookie blobs with fewer containers omit offsets */
#define ROARING_MAX_CONTAINERS 65536u
#define ROARING_ARRAY_MAX 4096u
#define ROARING_BITSET_BYTES 8192u

typedef struct blob_reader {
  const unsigned char *buf;
  size_t len;
  size_t pos;
} blob_reader;

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Points *at to the next n bytes and moves past them; false if fewer remain. */
static bool take(blob_reader *r, size_t n, const unsigned char **at) {
  if (r->len - r->pos < n)
    return false;
  *at = r->buf + r->pos;
  r->pos += n;
  return true;
}

static const char *check_run_container(blob_reader *r, uint32_t cardinality) {
  const unsigned char *at;
  if (!take(r, 2, &at))
    return "truncated run container";
  uint32_t n_runs = le16(at);
  if (n_runs == 0)
    return "empty run container";
  if (!take(r, (size_t)n_runs * 4, &at))
    return "truncated run container";
  uint32_t total = 0;
  int64_t previous_end = -1;
  for (uint32_t i = 0; i < n_runs; i++) {
    uint32_t start = le16(at + (size_t)4 * i), extra = le16(at + (size_t)4 * i + 2);
    if ((int64_t)start <= previous_end || start + extra > 0xFFFFu)
      return "runs overlap, are out of order or leave the container";
    previous_end = start + extra;
    total += extra + 1;
  }
  return total == cardinality ? NULL : "run lengths disagree with the cardinality";
}

static const char *check_bitset_container(blob_reader *r, uint32_t cardinality) {
  const unsigned char *at;
  if (!take(r, ROARING_BITSET_BYTES, &at))
    return "truncated bitset container";
  uint32_t bits = 0;
  for (size_t i = 0; i < ROARING_BITSET_BYTES; i++)
    bits += (uint32_t)__builtin_popcount(at[i]);
  return bits == cardinality ? NULL : "bitset bits disagree with the cardinality";
}

static const char *check_array_container(blob_reader *r, uint32_t cardinality) {
  const unsigned char *at;
  if (!take(r, (size_t)cardinality * 2, &at))
    return "truncated array container";
  for (uint32_t i = 1; i < cardinality; i++)
    if (le16(at + (size_t)2 * i) <= le16(at + (size_t)2 * (i - 1)))
      return "array values out of order";
  return NULL;
}

/* NULL when buf[0..len) is exactly one well-formed portable bitmap, else the reason. */
static const char *roaring_blob_problem(const unsigned char *buf, size_t len) {
  blob_reader r = {buf, len, 0};
  const unsigned char *at, *run_flags = NULL, *headers, *offsets = NULL;
  if (!take(&r, 4, &at))
    return "shorter than a cookie";
  uint32_t cookie = le32(at), n;
  bool has_runs = (cookie & 0xFFFFu) == ROARING_COOKIE_RUNS;
  if (has_runs) {
    n = (cookie >> 16) + 1;
    if (!take(&r, (n + 7) / 8, &run_flags))
      return "truncated header";
  } else if (cookie == ROARING_COOKIE_NO_RUNS) {
    if (!take(&r, 4, &at))
      return "truncated header";
    n = le32(at);
    if (n > ROARING_MAX_CONTAINERS)
      return "more containers than a 32-bit bitmap can have";
  } else {
    return "not a portable roaring bitmap (unknown cookie)";
  }
  if (!take(&r, (size_t)n * 4, &headers))
    return "truncated header";
  if ((!has_runs || n >= ROARING_OFFSETS_FROM) && !take(&r, (size_t)n * 4, &offsets))
    return "truncated offsets";

  for (uint32_t k = 0; k < n; k++) {
    uint32_t key = le16(headers + (size_t)4 * k);
    uint32_t cardinality = le16(headers + (size_t)4 * k + 2) + 1;
    if (k > 0 && key <= le16(headers + (size_t)4 * (k - 1)))
      return "container keys out of order";
    if (offsets && le32(offsets + (size_t)4 * k) != r.pos)
      return "container offset does not match its position";
    bool is_run = has_runs && (run_flags[k / 8] >> (k % 8)) & 1;
    const char *why = is_run                           ? check_run_container(&r, cardinality)
                      : cardinality > ROARING_ARRAY_MAX ? check_bitset_container(&r, cardinality)
                                                        : check_array_container(&r, cardinality);
    if (why)
      return why;
  }
  return r.pos == len ? NULL : "trailing bytes after the bitmap";
}

/* A bitmap serialised for a BLOB column; data NULL stands for SQL NULL. */
typedef struct blob {
  char *data;
  size_t len;
} blob;

/* Serialises a run-optimised copy of b (the caller's bitmap is const and stays as it is;
** the copy costs about what serialising does). A NULL bitmap gives a NULL blob. */
static int bitmap_to_blob(store *s, const roaring_bitmap_t *b, blob *out) {
  *out = (blob){NULL, 0};
  if (!b)
    return 0;
  roaring_bitmap_t *copy = roaring_bitmap_copy(b);
  if (!copy)
    return store_failed(s, -ENOMEM, "out of memory serialising a bitmap");
  roaring_bitmap_run_optimize(copy);
  size_t len = roaring_bitmap_portable_size_in_bytes(copy);
  out->data = malloc(len);
  if (out->data)
    out->len = roaring_bitmap_portable_serialize(copy, out->data);
  roaring_bitmap_free(copy);
  return out->data ? 0 : store_failed(s, -ENOMEM, "out of memory serialising a bitmap");
}

static int bind_blob(sqlite3_stmt *st, int col, const blob *b) {
  return b->data ? sqlite3_bind_blob64(st, col, b->data, b->len, SQLITE_STATIC)
                 : sqlite3_bind_null(st, col);
}

/* Text that may be NULL (sender, msg_json); len < 0 means up to the NUL. */
static int bind_text_or_null(sqlite3_stmt *st, int col, const char *text, int64_t len) {
  if (!text)
    return sqlite3_bind_null(st, col);
  return len < 0 ? sqlite3_bind_text(st, col, text, -1, SQLITE_STATIC)
                 : sqlite3_bind_text64(st, col, text, (sqlite3_uint64)len, SQLITE_STATIC,
                                       SQLITE_UTF8);
}

/* SQLite integers are signed 64-bit; Seqs count up from 1 and never get near 2^63. */
static int bind_seq(sqlite3_stmt *st, int col, uint64_t seq) {
  return seq > INT64_MAX ? SQLITE_RANGE : sqlite3_bind_int64(st, col, (sqlite3_int64)seq);
}

/* --- pushes: writes -------------------------------------------------------------------- */

static int insert_push(store *s, const store_push *p, const blob *audience,
                       const blob *delivered) {
  sqlite3_stmt *st = s->stmt[ST_PUT_PUSH];
  if (bind_seq(st, 1, p->seq) || sqlite3_bind_text(st, 2, p->task_id, -1, SQLITE_STATIC) ||
      sqlite3_bind_int64(st, 3, p->msg_random) || bind_text_or_null(st, 4, p->sender, -1) ||
      sqlite3_bind_int64(st, 5, p->created_at) || sqlite3_bind_int64(st, 6, p->expires_at) ||
      sqlite3_bind_int64(st, 7, p->fanout_done_at) ||
      sqlite3_bind_int64(st, 8, (sqlite3_int64)p->online_at_push) ||
      sqlite3_bind_int(st, 9, p->state) ||
      bind_text_or_null(st, 10, p->msg_json, (int64_t)p->msg_len) ||
      bind_blob(st, 11, audience) || bind_blob(st, 12, delivered))
    return bind_failed(s, ST_PUT_PUSH);
  int rc = sqlite3_step(st);
  int ret = 0;
  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    ret = store_failed(s, -EEXIST, "put_push: the seq or the TaskId is already stored");
  else if (rc != SQLITE_DONE)
    ret = sql_failed(s, stmt_name[ST_PUT_PUSH]);
  stmt_done(st);
  return ret;
}

int store_put_push(store *s, const store_push *p) {
  if (!p->task_id)
    return store_failed(s, -EINVAL, "put_push: TaskId is NULL");
  if (p->seq > INT64_MAX)
    return store_failed(s, -EINVAL, "put_push: seq beyond 2^63");
  blob audience, delivered = {NULL, 0};
  int rc = bitmap_to_blob(s, p->audience, &audience);
  if (rc == 0)
    rc = bitmap_to_blob(s, p->delivered, &delivered);
  if (rc == 0)
    rc = ensure_turn(s);
  if (rc == 0)
    rc = insert_push(s, p, &audience, &delivered);
  free(audience.data);
  free(delivered.data);
  return rc;
}

/* Runs an UPDATE of one push whose ?1 is bound to seq; -ENOENT when no row has it. */
static int update_push_row(store *s, enum stmt_id id, uint64_t seq) {
  int rc = step_done(s, id);
  if (rc == 0 && sqlite3_changes(s->db) == 0) {
    snprintf(s->errmsg, sizeof s->errmsg, "%s: no push with seq %" PRIu64, stmt_name[id], seq);
    rc = -ENOENT;
  }
  return rc;
}

int store_put_push_delivered(store *s, uint64_t seq, const roaring_bitmap_t *delivered) {
  blob b;
  int rc = bitmap_to_blob(s, delivered, &b);
  if (rc == 0)
    rc = ensure_turn(s);
  if (rc == 0) {
    sqlite3_stmt *st = s->stmt[ST_PUT_PUSH_DELIVERED];
    if (bind_seq(st, 1, seq) || bind_blob(st, 2, &b))
      rc = bind_failed(s, ST_PUT_PUSH_DELIVERED);
    else
      rc = update_push_row(s, ST_PUT_PUSH_DELIVERED, seq);
  }
  free(b.data);
  return rc;
}

int store_put_push_state(store *s, uint64_t seq, int state, int64_t fanout_done_at) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_PUT_PUSH_STATE];
  if (bind_seq(st, 1, seq) || sqlite3_bind_int(st, 2, state) ||
      sqlite3_bind_int64(st, 3, fanout_done_at))
    return bind_failed(s, ST_PUT_PUSH_STATE);
  return update_push_row(s, ST_PUT_PUSH_STATE, seq);
}

int store_del_push(store *s, uint64_t seq) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  if (bind_seq(s->stmt[ST_DEL_PUSH], 1, seq))
    return bind_failed(s, ST_DEL_PUSH);
  return step_done(s, ST_DEL_PUSH);
}

int store_put_retry(store *s, const char *sender, uint32_t msg_random, const char *task_id,
                    int64_t created_at) {
  if (!sender || !task_id)
    return store_failed(s, -EINVAL, "put_retry: sender or TaskId is NULL");
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  sqlite3_stmt *st = s->stmt[ST_PUT_RETRY];
  if (sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC) ||
      sqlite3_bind_int64(st, 2, msg_random) ||
      sqlite3_bind_text(st, 3, task_id, -1, SQLITE_STATIC) ||
      sqlite3_bind_int64(st, 4, created_at))
    return bind_failed(s, ST_PUT_RETRY);
  return step_done(s, ST_PUT_RETRY);
}

int store_del_retries_before(store *s, int64_t t) {
  int rc = ensure_turn(s);
  if (rc)
    return rc;
  if (sqlite3_bind_int64(s->stmt[ST_DEL_RETRIES_BEFORE], 1, t))
    return bind_failed(s, ST_DEL_RETRIES_BEFORE);
  return step_done(s, ST_DEL_RETRIES_BEFORE);
}

/* --- pushes: load ------------------------------------------------------------------------ */

typedef struct push_loading {
  store *s;
  int (*push_cb)(void *ctx, const store_push *p);
  int (*retry_cb)(void *ctx, const char *sender, uint32_t msg_random, const char *task_id,
                  int64_t created_at);
  void *ctx;
} push_loading;

/* A nullable text column: *out is NULL for SQL NULL; -ENOMEM if SQLite could not convert. */
static int column_text_or_null(sqlite3_stmt *st, int col, const char **out) {
  *out = NULL;
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return 0;
  *out = column_text(st, col);
  return *out ? 0 : -ENOMEM;
}

/* Reads a bitmap column (NULL for SQL NULL). A blob that fails the format check is
** -EBADMSG with the push, the column and the reason in errmsg. */
static int column_bitmap(store *s, sqlite3_stmt *st, int col, uint64_t seq,
                         roaring_bitmap_t **out) {
  *out = NULL;
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return 0;
  const unsigned char *data = sqlite3_column_blob(st, col);
  size_t len = (size_t)sqlite3_column_bytes(st, col);
  if (!data && len > 0)
    return -ENOMEM;
  const char *why = data ? roaring_blob_problem(data, len) : "empty blob";
  if (why) {
    snprintf(s->errmsg, sizeof s->errmsg, "pushes: seq %" PRIu64 ": the %s blob is corrupt (%s)",
             seq, sqlite3_column_name(st, col), why);
    return -EBADMSG;
  }
  *out = roaring_bitmap_portable_deserialize_safe((const char *)data, len);
  return *out ? 0 : -ENOMEM; /* the check passed, so only memory can be short */
}

static int row_push(const void *loader, sqlite3_stmt *st) {
  const push_loading *l = loader;
  store_push p = {
      .seq = (uint64_t)sqlite3_column_int64(st, 0),
      .task_id = column_text(st, 1),
      .msg_random = (uint32_t)sqlite3_column_int64(st, 2),
      .created_at = sqlite3_column_int64(st, 4),
      .expires_at = sqlite3_column_int64(st, 5),
      .fanout_done_at = sqlite3_column_int64(st, 6),
      .online_at_push = (uint64_t)sqlite3_column_int64(st, 7),
      .state = sqlite3_column_int(st, 8),
  };
  int rc = p.task_id ? 0 : -ENOMEM;
  if (rc == 0)
    rc = column_text_or_null(st, 3, &p.sender);
  if (rc == 0)
    rc = column_text_or_null(st, 9, &p.msg_json);
  if (rc == 0 && p.msg_json)
    p.msg_len = (size_t)sqlite3_column_bytes(st, 9);
  if (rc == 0)
    rc = column_bitmap(l->s, st, 10, p.seq, &p.audience);
  if (rc == 0)
    rc = column_bitmap(l->s, st, 11, p.seq, &p.delivered);
  if (rc) {
    if (p.audience)
      roaring_bitmap_free(p.audience);
    return rc;
  }
  return l->push_cb(l->ctx, &p); /* from here on the bitmaps are the callback's */
}

static int row_retry(const void *loader, sqlite3_stmt *st) {
  const push_loading *l = loader;
  const char *sender = column_text(st, 0), *task_id = column_text(st, 2);
  if (!sender || !task_id) /* both NOT NULL: a NULL means SQLite ran out of memory */
    return -ENOMEM;
  return l->retry_cb(l->ctx, sender, (uint32_t)sqlite3_column_int64(st, 1), task_id,
                     sqlite3_column_int64(st, 3));
}

int store_load_pushes(store *s, int (*push_cb)(void *ctx, const store_push *p),
                      int (*retry_cb)(void *ctx, const char *sender, uint32_t msg_random,
                                      const char *task_id, int64_t created_at),
                      void *ctx) {
  push_loading l = {s, push_cb, retry_cb, ctx};
  int rc = 0;
  if (push_cb)
    rc = stream_rows(s, ST_LOAD_PUSHES, &l, row_push);
  if (rc == 0 && retry_cb)
    rc = stream_rows(s, ST_LOAD_RETRIES, &l, row_retry);
  return rc;
}

/* --- savepoints and commit --------------------------------------------------------------- */

int store_savepoint(store *s) {
  int rc = ensure_turn(s);
  return rc ? rc : step_done(s, ST_SAVEPOINT);
}

int store_release(store *s) { return step_done(s, ST_RELEASE); }

/* ROLLBACK TO undoes the writes but leaves the savepoint on the stack; RELEASE pops it. */
int store_rollback_to(store *s) {
  if (turn_lost(s))
    return store_failed(s, -EIO, "the turn's transaction was rolled back after an error");
  int rc = step_done(s, ST_ROLLBACK_TO);
  return rc ? rc : step_done(s, ST_RELEASE);
}

bool store_in_txn(const store *s) { return s->turn_open; }

int store_commit(store *s) {
  if (!s->turn_open)
    return 0;
  if (turn_lost(s)) {
    s->turn_open = false;
    return store_failed(s, -EIO, "the turn's transaction was rolled back after an error");
  }
  int rc = step_done(s, ST_COMMIT); /* on failure errmsg now holds COMMIT's reason */
  if (rc && !sqlite3_get_autocommit(s->db)) {
    sqlite3_stmt *st = s->stmt[ST_ROLLBACK];
    sqlite3_step(st); /* keep COMMIT's message, not ROLLBACK's */
    stmt_done(st);
  }
  s->turn_open = false;
  return rc;
}
