/*
** test_store.c — the SQLite store against a real database in a fresh temporary folder per
** test: schema creation, every put/del surviving close+reopen+load in the documented
** order, commit visibility to another connection, loss of uncommitted writes when the
** process dies, savepoint rollback, meta, open failures, and a 1M-account bulk timing.
** IMCAST_STORE_BULK=N changes the bulk test's account count (default 1000000).
*/
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

/* --- fixture: one temporary data folder per test ---------------------------------------- */

typedef struct fixture {
  char dir[PATH_MAX];
  char db_path[PATH_MAX + 16];
} fixture;

static int setup_dir(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f)
    return -1;
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/imcast-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(f->dir)) {
    free(f);
    return -1;
  }
  snprintf(f->db_path, sizeof f->db_path, "%s/imcast.db", f->dir);
  *state = f;
  return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  return remove(path);
}

static int teardown_dir(void **state) {
  fixture *f = *state;
  chmod(f->dir, 0700); /* in case a test left it read-only */
  int rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return rc;
}

static bool file_exists(const char *dir, const char *name) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* --- helpers ------------------------------------------------------------------------------ */

static store *open_store(const char *dir) {
  store *s = NULL;
  char err[256] = "";
  int rc = store_open(&s, dir, NULL, err, sizeof err);
  if (rc != 0)
    fail_msg("store_open(%s) = %d: %s", dir, rc, err);
  return s;
}

/* A second, plain connection to the same database, as another process would see it. */
static sqlite3 *open_direct(const char *db_path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  return db;
}

static void exec_direct(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    char copy[256];
    snprintf(copy, sizeof copy, "%s", msg ? msg : "?");
    sqlite3_free(msg);
    fail_msg("%s: %s", sql, copy);
  }
}

/* First column of the first row as text ("<none>" for no row, "<null>" for NULL). */
static void query_direct(sqlite3 *db, const char *sql, char *out, size_t outlen) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, outlen, "%s", t ? (const char *)t : "<null>");
  } else {
    snprintf(out, outlen, "<none>");
  }
  sqlite3_finalize(st);
  assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
}

/* --- a loader that writes every callback as one line ----------------------------------- */

typedef struct recorder {
  char text[8192];
  size_t len;
  int calls;
  int stop_at_call; /* 0: never stop; n: the n-th callback returns 7 */
} recorder;

static int record(recorder *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < sizeof r->text - r->len)
    r->len += (size_t)n;
  r->calls++;
  return r->calls == r->stop_at_call ? 7 : 0;
}

static int rec_account(void *ctx, uint32_t uid, const char *user_id) {
  return record(ctx, "account %u %s\n", uid, user_id);
}
static int rec_attr_name(void *ctx, int slot, const char *name) {
  return record(ctx, "attr_name %d %s\n", slot, name);
}
static int rec_user_attr(void *ctx, uint32_t uid, int slot, const char *value) {
  return record(ctx, "user_attr %u %d %s\n", uid, slot, value);
}
static int rec_user_tag(void *ctx, uint32_t uid, const char *tag) {
  return record(ctx, "user_tag %u %s\n", uid, tag);
}

static int load_recorded(store *s, recorder *r) {
  store_loader loader = {r, rec_account, rec_attr_name, rec_user_attr, rec_user_tag};
  return store_load(s, &loader);
}

/* Reopens the folder and returns everything load reports, as text. */
static void reload_text(const char *dir, recorder *r) {
  store *s = open_store(dir);
  memset(r, 0, sizeof *r);
  assert_int_equal(load_recorded(s, r), 0);
  store_close(s);
}

/* --- tests -------------------------------------------------------------------------------- */

static void test_open_creates_schema(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  assert_false(store_in_txn(s));
  char value[32];
  assert_int_equal(store_meta_get(s, "schema_version", value, sizeof value), 0);
  assert_string_equal(value, "1");
  store_close(s);

  sqlite3 *db = open_direct(f->db_path);
  char out[256];
  query_direct(db,
               "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
               "WHERE type = 'table' ORDER BY name)",
               out, sizeof out);
  assert_string_equal(out, "accounts,attr_names,meta,user_attrs,user_tags");
  query_direct(db, "PRAGMA journal_mode", out, sizeof out);
  assert_string_equal(out, "wal");
  query_direct(db, "SELECT value FROM meta WHERE key = 'schema_version'", out, sizeof out);
  assert_string_equal(out, "1");
  sqlite3_close(db);

  /* Opening an existing database again changes nothing and loads nothing. */
  recorder r;
  reload_text(f->dir, &r);
  assert_int_equal(r.calls, 0);
}

static void test_put_del_roundtrip(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);

  /* turn 1 */
  assert_int_equal(store_put_account(s, 1, "u1", "Nick1", "http://f/1"), 0);
  assert_true(store_in_txn(s));
  assert_int_equal(store_put_account(s, 2, "u2", NULL, NULL), 0);
  assert_int_equal(store_put_account(s, 3, "u3", "N3", NULL), 0);
  assert_int_equal(store_put_attr_name(s, 0, "sex"), 0);
  assert_int_equal(store_put_attr_name(s, 1, "city"), 0);
  assert_int_equal(store_put_user_attr(s, 1, 0, "F"), 0);
  assert_int_equal(store_put_user_attr(s, 1, 1, "SZ"), 0);
  assert_int_equal(store_put_user_attr(s, 2, 1, "BJ"), 0);
  assert_int_equal(store_put_user_attr(s, 3, 0, "M"), 0);
  assert_int_equal(store_put_user_tag(s, 1, "b"), 0);
  assert_int_equal(store_put_user_tag(s, 2, "x"), 0);
  assert_int_equal(store_put_user_tag(s, 1, "a"), 0);
  assert_int_equal(store_put_user_tag(s, 3, "q"), 0);
  assert_int_equal(store_put_user_tag(s, 1, "c"), 0);
  assert_int_equal(store_put_user_tag(s, 2, "y"), 0);
  assert_int_equal(store_commit(s), 0);
  assert_false(store_in_txn(s));

  /* Between turns someone marks created_at, to see that an update keeps the row. */
  sqlite3 *db = open_direct(f->db_path);
  exec_direct(db, "UPDATE accounts SET created_at = 42 WHERE uid = 1");
  sqlite3_close(db);

  /* turn 2: swapping two slots' names passes through a duplicate name */
  assert_int_equal(store_put_attr_name(s, 0, "city"), 0);
  assert_int_equal(store_put_attr_name(s, 1, "sex"), 0);
  assert_int_equal(store_put_attr_name(s, 2, "level"), 0);
  assert_int_equal(store_put_user_attr(s, 1, 1, "GZ"), 0);   /* overwrite */
  assert_int_equal(store_del_user_attr(s, 2, 1), 0);
  assert_int_equal(store_del_user_attr(s, 2, 9), 0);         /* missing: no-op */
  assert_int_equal(store_put_user_attr(s, 2, 2, "7"), 0);
  assert_int_equal(store_put_user_tag(s, 1, "b"), 0);        /* existing: keeps its place */
  assert_int_equal(store_del_user_tag(s, 1, "a"), 0);
  assert_int_equal(store_put_user_tag(s, 1, "a"), 0);        /* re-added: now last */
  assert_int_equal(store_del_user_tag(s, 1, "nope"), 0);     /* missing: no-op */
  assert_int_equal(store_del_user_tags(s, 2), 0);
  assert_int_equal(store_put_user_tag(s, 2, "z"), 0);
  assert_int_equal(store_put_account(s, 1, "u1", "Nick1b", NULL), 0); /* update */
  assert_int_equal(store_del_account(s, 3), 0);             /* takes its attr and tag */
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  recorder r;
  reload_text(f->dir, &r);
  assert_string_equal(r.text,
                      "account 1 u1\n"
                      "account 2 u2\n"
                      "attr_name 0 city\n"
                      "attr_name 1 sex\n"
                      "attr_name 2 level\n"
                      "user_attr 1 0 F\n"
                      "user_attr 1 1 GZ\n"
                      "user_attr 2 2 7\n"
                      "user_tag 1 b\n"
                      "user_tag 1 c\n"
                      "user_tag 1 a\n"
                      "user_tag 2 z\n");

  db = open_direct(f->db_path);
  char out[128];
  query_direct(db, "SELECT nick || '|' || ifnull(face_url, '<null>') || '|' || created_at "
                   "FROM accounts WHERE uid = 1", out, sizeof out);
  assert_string_equal(out, "Nick1b|<null>|42");
  query_direct(db, "SELECT count(*) FROM user_attrs WHERE uid = 3", out, sizeof out);
  assert_string_equal(out, "0");
  query_direct(db, "SELECT count(*) FROM user_tags WHERE uid = 3", out, sizeof out);
  assert_string_equal(out, "0");
  sqlite3_close(db);
}

static void test_put_account_conflicts(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  assert_int_equal(store_put_account(s, 1, "u1", NULL, NULL), 0);
  assert_int_equal(store_put_account(s, 2, "u1", NULL, NULL), -EEXIST); /* UserID taken */
  assert_non_null(strstr(store_errmsg(s), "another uid"));
  assert_int_equal(store_put_account(s, 1, "other", NULL, NULL), -EEXIST); /* uid taken */
  assert_non_null(strstr(store_errmsg(s), "another UserID"));
  assert_int_equal(store_put_account(s, 1, "u1", "again", NULL), 0); /* idempotent import */
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  recorder r;
  reload_text(f->dir, &r);
  assert_string_equal(r.text, "account 1 u1\n");
}

static void test_commit_visible_to_other_connection(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  assert_int_equal(store_commit(s), 0); /* nothing open: a no-op */
  assert_int_equal(store_put_account(s, 7, "seven", NULL, NULL), 0);
  assert_int_equal(store_put_user_tag(s, 7, "t"), 0);

  sqlite3 *db = open_direct(f->db_path);
  char out[64];
  query_direct(db, "SELECT count(*) FROM accounts", out, sizeof out);
  assert_string_equal(out, "0"); /* not committed yet */

  assert_true(store_in_txn(s));
  assert_int_equal(store_commit(s), 0);
  assert_false(store_in_txn(s));

  query_direct(db, "SELECT user_id FROM accounts WHERE uid = 7", out, sizeof out);
  assert_string_equal(out, "seven");
  query_direct(db, "SELECT tag FROM user_tags WHERE uid = 7", out, sizeof out);
  assert_string_equal(out, "t");
  sqlite3_close(db);
  store_close(s);
}

/* The child writes a committed turn, then an uncommitted one, and dies without closing. */
static int child_writes_then_dies(const char *dir) {
  store *s = NULL;
  char err[256];
  if (store_open(&s, dir, NULL, err, sizeof err) != 0)
    return 1;
  if (store_put_account(s, 1, "kept", NULL, NULL) || store_put_user_tag(s, 1, "t1") ||
      store_commit(s))
    return 2;
  if (store_put_account(s, 2, "lost", NULL, NULL) || store_put_user_tag(s, 1, "t2") ||
      store_meta_put(s, "next_uid", "3") || store_put_attr_name(s, 0, "sex"))
    return 3;
  _exit(0); /* no commit, no close: like a crash */
}

static void test_uncommitted_lost_on_abrupt_exit(void **state) {
  fixture *f = *state;
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(child_writes_then_dies(f->dir));
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);

  recorder r;
  reload_text(f->dir, &r);
  assert_string_equal(r.text, "account 1 kept\nuser_tag 1 t1\n");
  store *s = open_store(f->dir);
  char value[16];
  assert_int_equal(store_meta_get(s, "next_uid", value, sizeof value), -ENOENT);
  store_close(s);
}

static void test_savepoint_rollback_undoes_one_request(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  assert_int_equal(store_put_account(s, 1, "u1", NULL, NULL), 0); /* turn write, no request */

  /* request A: kept */
  assert_int_equal(store_savepoint(s), 0);
  assert_int_equal(store_put_account(s, 2, "u2", NULL, NULL), 0);
  assert_int_equal(store_put_user_tag(s, 2, "keep"), 0);
  assert_int_equal(store_release(s), 0);

  /* request B: fails and is undone */
  assert_int_equal(store_savepoint(s), 0);
  assert_int_equal(store_put_account(s, 3, "u3", NULL, NULL), 0);
  assert_int_equal(store_put_user_tag(s, 1, "gone"), 0);
  assert_int_equal(store_put_attr_name(s, 0, "gone"), 0);
  assert_int_equal(store_meta_put(s, "next_uid", "4"), 0);
  assert_int_equal(store_del_account(s, 2), 0);
  assert_int_equal(store_rollback_to(s), 0);
  assert_true(store_in_txn(s)); /* the turn goes on */

  /* The savepoint was popped: nothing left to release. */
  assert_int_equal(store_release(s), -EIO);
  assert_non_null(strstr(store_errmsg(s), "no such savepoint"));

  /* request C, then a savepoint opened on a fresh turn */
  assert_int_equal(store_savepoint(s), 0);
  assert_int_equal(store_put_user_tag(s, 1, "after"), 0);
  assert_int_equal(store_release(s), 0);
  assert_int_equal(store_commit(s), 0);
  assert_false(store_in_txn(s));
  assert_int_equal(store_savepoint(s), 0);
  assert_true(store_in_txn(s));
  assert_int_equal(store_put_user_tag(s, 2, "second-turn"), 0);
  assert_int_equal(store_release(s), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  recorder r;
  reload_text(f->dir, &r);
  assert_string_equal(r.text,
                      "account 1 u1\n"
                      "account 2 u2\n"
                      "user_tag 2 keep\n"
                      "user_tag 1 after\n"
                      "user_tag 2 second-turn\n");
  s = open_store(f->dir);
  char value[16];
  assert_int_equal(store_meta_get(s, "next_uid", value, sizeof value), -ENOENT);
  store_close(s);
}

static void test_meta(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  char value[16] = "";
  assert_int_equal(store_meta_get(s, "next_uid", value, sizeof value), -ENOENT);
  assert_int_equal(store_meta_put(s, "next_uid", "42"), 0);
  assert_int_equal(store_meta_get(s, "next_uid", value, sizeof value), 0); /* same turn */
  assert_string_equal(value, "42");
  assert_int_equal(store_meta_put(s, "next_uid", "12345"), 0);
  assert_int_equal(store_meta_get(s, "next_uid", value, 5), -ERANGE); /* needs 6 */
  assert_int_equal(store_meta_get(s, "next_uid", value, 6), 0);
  assert_string_equal(value, "12345");
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  s = open_store(f->dir);
  assert_int_equal(store_meta_get(s, "next_uid", value, sizeof value), 0);
  assert_string_equal(value, "12345");
  assert_int_equal(store_meta_get(s, "other", value, sizeof value), -ENOENT);
  store_close(s);
}

static void test_open_missing_dir(void **state) {
  fixture *f = *state;
  char missing[PATH_MAX + 16];
  snprintf(missing, sizeof missing, "%s/nope", f->dir);
  static char sentinel;
  store *s = (store *)&sentinel; /* store_open must reset it to NULL */
  char err[256] = "";
  assert_int_equal(store_open(&s, missing, NULL, err, sizeof err), -ENOENT);
  assert_null(s);
  assert_non_null(strstr(err, missing));
  assert_null(strchr(err, '\n'));
  assert_false(file_exists(f->dir, "nope"));

  /* A regular file where the folder should be. */
  FILE *fp = fopen(missing, "w");
  assert_non_null(fp);
  fclose(fp);
  assert_int_equal(store_open(&s, missing, NULL, err, sizeof err), -ENOTDIR);
  assert_null(s);
}

static const char garbage[] = "this is a text file that someone saved as imcast.db\n"
                              "it is long enough to cover the 100-byte SQLite header.\n"
                              "nothing here should ever be rewritten by store_open.\n";

static void test_open_garbage_db(void **state) {
  fixture *f = *state;
  FILE *fp = fopen(f->db_path, "w");
  assert_non_null(fp);
  fputs(garbage, fp);
  fclose(fp);

  store *s = NULL;
  char err[256] = "";
  assert_int_equal(store_open(&s, f->dir, NULL, err, sizeof err), -EIO);
  assert_null(s);
  assert_non_null(strstr(err, "not a database"));
  assert_null(strchr(err, '\n'));

  /* Left exactly as it was, with no journal or WAL beside it. */
  char back[sizeof garbage + 16] = "";
  fp = fopen(f->db_path, "r");
  assert_non_null(fp);
  size_t n = fread(back, 1, sizeof back - 1, fp);
  fclose(fp);
  assert_int_equal(n, sizeof garbage - 1);
  assert_string_equal(back, garbage);
  assert_false(file_exists(f->dir, "imcast.db-wal"));
  assert_false(file_exists(f->dir, "imcast.db-shm"));
  assert_false(file_exists(f->dir, "imcast.db-journal"));
}

/* Also covers a write-protected imcast.db. Needs a non-root user to mean anything. */
static void test_open_readonly_dir(void **state) {
  fixture *f = *state;
  if (geteuid() == 0) {
    print_message("note: running as root, where chmod cannot make a folder read-only; "
                  "read-only folder case skipped\n");
    skip();
  }
  assert_int_equal(chmod(f->dir, 0555), 0);
  store *s = NULL;
  char err[256] = "";
  assert_int_equal(store_open(&s, f->dir, NULL, err, sizeof err), -EACCES);
  assert_null(s);
  assert_non_null(strstr(err, "not writable"));
  assert_int_equal(chmod(f->dir, 0700), 0);
  assert_false(file_exists(f->dir, "imcast.db"));

  /* A writable folder, but a write-protected database file. */
  store_close(open_store(f->dir));
  assert_int_equal(chmod(f->db_path, 0444), 0);
  assert_int_equal(store_open(&s, f->dir, NULL, err, sizeof err), -EACCES);
  assert_null(s);
  assert_non_null(strstr(err, "read-only"));
  assert_true(file_exists(f->dir, "imcast.db")); /* existing data is never removed */
}

static void test_open_newer_schema_refused(void **state) {
  fixture *f = *state;
  store_close(open_store(f->dir));
  sqlite3 *db = open_direct(f->db_path);
  exec_direct(db, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  sqlite3_close(db);

  store *s = NULL;
  char err[256] = "";
  assert_int_equal(store_open(&s, f->dir, NULL, err, sizeof err), -ENOTSUP);
  assert_null(s);
  assert_non_null(strstr(err, "schema version 2 is newer"));
  assert_true(file_exists(f->dir, "imcast.db")); /* someone else's data: kept */

  db = open_direct(f->db_path);
  char out[16];
  query_direct(db, "SELECT value FROM meta WHERE key = 'schema_version'", out, sizeof out);
  assert_string_equal(out, "2");
  sqlite3_close(db);
}

static void test_load_callback_stops(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  for (uint32_t uid = 1; uid <= 3; uid++) {
    char name[16];
    snprintf(name, sizeof name, "u%u", uid);
    assert_int_equal(store_put_account(s, uid, name, NULL, NULL), 0);
    assert_int_equal(store_put_user_tag(s, uid, "t"), 0);
  }
  assert_int_equal(store_commit(s), 0);

  recorder r = {.stop_at_call = 2};
  assert_int_equal(load_recorded(s, &r), 7);
  assert_int_equal(r.calls, 2);
  assert_string_equal(r.text, "account 1 u1\naccount 2 u2\n");

  r = (recorder){.stop_at_call = 5}; /* 3 accounts, then the 2nd tag */
  assert_int_equal(load_recorded(s, &r), 7);
  assert_string_equal(r.text, "account 1 u1\naccount 2 u2\naccount 3 u3\n"
                              "user_tag 1 t\nuser_tag 2 t\n");

  /* A stopped load leaves nothing behind: the next one runs from the start, and a
  ** NULL callback skips its table. */
  r = (recorder){0};
  store_loader tags_only = {&r, NULL, NULL, NULL, rec_user_tag};
  assert_int_equal(store_load(s, &tags_only), 0);
  assert_string_equal(r.text, "user_tag 1 t\nuser_tag 2 t\nuser_tag 3 t\n");
  assert_int_equal(store_put_account(s, 4, "u4", NULL, NULL), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
}

static void test_locked_database_reports_eio(void **state) {
  fixture *f = *state;
  store_options opts = {.busy_timeout_ms = 50};
  store *s = NULL;
  char err[256];
  assert_int_equal(store_open(&s, f->dir, &opts, err, sizeof err), 0);

  sqlite3 *db = open_direct(f->db_path);
  exec_direct(db, "BEGIN IMMEDIATE"); /* another writer holds the lock */
  assert_int_equal(store_put_account(s, 1, "u1", NULL, NULL), -EIO);
  assert_non_null(strstr(store_errmsg(s), "locked"));
  assert_false(store_in_txn(s));
  exec_direct(db, "ROLLBACK");
  sqlite3_close(db);

  assert_int_equal(store_put_account(s, 1, "u1", NULL, NULL), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
}

static void test_fsync_option(void **state) {
  fixture *f = *state;
  store_options opts = {.fsync = true};
  store *s = NULL;
  char err[256];
  assert_int_equal(store_open(&s, f->dir, &opts, err, sizeof err), 0);
  assert_int_equal(store_put_account(s, 1, "u1", NULL, NULL), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
  recorder r;
  reload_text(f->dir, &r);
  assert_string_equal(r.text, "account 1 u1\n");
}

/* --- bulk -------------------------------------------------------------------------------- */

enum { BULK_BATCH = 10000, BULK_TAGS = 3 };

static void bulk_tag(uint32_t uid, int i, char *buf, size_t len) {
  static const char *const kinds[BULK_TAGS] = {"grp", "city", "lvl"};
  static const uint32_t spread[BULK_TAGS] = {100, 300, 10};
  snprintf(buf, len, "%s%u", kinds[i], uid % spread[i]);
}

/* Checks the stream as it arrives: uids ascending from 1, each account's tags in the order
** added. The first mismatch stops the load. */
typedef struct bulk_check {
  uint32_t accounts, tags, bad;
} bulk_check;

static int bulk_account(void *ctx, uint32_t uid, const char *user_id) {
  bulk_check *c = ctx;
  char want[32];
  snprintf(want, sizeof want, "user%u", uid);
  if (uid != c->accounts + 1 || strcmp(user_id, want) != 0)
    return ++c->bad;
  c->accounts++;
  return 0;
}

static int bulk_user_tag(void *ctx, uint32_t uid, const char *tag) {
  bulk_check *c = ctx;
  char want[32];
  bulk_tag(uid, (int)(c->tags % BULK_TAGS), want, sizeof want);
  if (uid != c->tags / BULK_TAGS + 1 || strcmp(tag, want) != 0)
    return ++c->bad;
  c->tags++;
  return 0;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_bulk_million(void **state) {
  fixture *f = *state;
  const char *env = getenv("IMCAST_STORE_BULK");
  uint32_t n = env ? (uint32_t)strtoul(env, NULL, 10) : 1000000;

  store *s = open_store(f->dir);
  double t0 = now_seconds();
  for (uint32_t uid = 1; uid <= n; uid++) {
    char user_id[32], tag[32];
    snprintf(user_id, sizeof user_id, "user%u", uid);
    assert_int_equal(store_put_account(s, uid, user_id, NULL, NULL), 0);
    for (int i = 0; i < BULK_TAGS; i++) {
      bulk_tag(uid, i, tag, sizeof tag);
      assert_int_equal(store_put_user_tag(s, uid, tag), 0);
    }
    if (uid % BULK_BATCH == 0)
      assert_int_equal(store_commit(s), 0);
  }
  assert_int_equal(store_commit(s), 0);
  double t1 = now_seconds();
  store_close(s);
  double t2 = now_seconds();

  s = open_store(f->dir);
  bulk_check check = {0};
  store_loader loader = {&check, bulk_account, NULL, NULL, bulk_user_tag};
  double t3 = now_seconds();
  assert_int_equal(store_load(s, &loader), 0);
  double t4 = now_seconds();
  store_close(s);
  assert_int_equal(check.bad, 0);
  assert_int_equal(check.accounts, n);
  assert_int_equal(check.tags, (uint64_t)n * BULK_TAGS);

  struct stat st;
  assert_int_equal(stat(f->db_path, &st), 0);
  printf("bulk: %u accounts x %d tags, %d accounts per commit: write %.2f s, close %.2f s, "
         "load %.2f s, imcast.db %.0f MiB\n",
         n, BULK_TAGS, BULK_BATCH, t1 - t0, t2 - t1, t4 - t3,
         (double)st.st_size / (1024.0 * 1024.0));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_open_creates_schema),
      T(test_put_del_roundtrip),
      T(test_put_account_conflicts),
      T(test_commit_visible_to_other_connection),
      T(test_uncommitted_lost_on_abrupt_exit),
      T(test_savepoint_rollback_undoes_one_request),
      T(test_meta),
      T(test_open_missing_dir),
      T(test_open_garbage_db),
      T(test_open_readonly_dir),
      T(test_open_newer_schema_refused),
      T(test_load_callback_stops),
      T(test_locked_database_reports_eio),
      T(test_fsync_option),
      T(test_bulk_million),
  };
  return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
