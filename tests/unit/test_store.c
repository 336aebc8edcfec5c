/*
** test_store.c — the SQLite store against a real database in a fresh temporary folder per
** test: schema creation, every put/del surviving close+reopen+load in the documented
** order, commit visibility to another connection, loss of uncommitted writes when the
** process dies, savepoint rollback, meta, open failures, pushes (a 10M-account audience
** as a small blob, delivered/state updates, deletion, retries, damaged blobs refused
** cleanly), the upgrade of a version-1 database, and a 1M-account bulk timing.
** IMCAST_STORE_BULK=N changes the bulk test's account count (default 1000000).
*/
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
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
  assert_string_equal(value, "2");
  store_close(s);

  sqlite3 *db = open_direct(f->db_path);
  char out[256];
  query_direct(db,
               "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
               "WHERE type = 'table' ORDER BY name)",
               out, sizeof out);
  assert_string_equal(out, "accounts,attr_names,meta,push_retries,pushes,user_attrs,user_tags");
  query_direct(db, "PRAGMA journal_mode", out, sizeof out);
  assert_string_equal(out, "wal");
  query_direct(db, "SELECT value FROM meta WHERE key = 'schema_version'", out, sizeof out);
  assert_string_equal(out, "2");
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
  exec_direct(db, "UPDATE meta SET value = '999' WHERE key = 'schema_version'");
  sqlite3_close(db);

  store *s = NULL;
  char err[256] = "";
  assert_int_equal(store_open(&s, f->dir, NULL, err, sizeof err), -ENOTSUP);
  assert_null(s);
  assert_non_null(strstr(err, "schema version 999 is newer"));
  assert_true(file_exists(f->dir, "imcast.db")); /* someone else's data: kept */

  db = open_direct(f->db_path);
  char out[16];
  query_direct(db, "SELECT value FROM meta WHERE key = 'schema_version'", out, sizeof out);
  assert_string_equal(out, "999");
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

/* --- pushes -------------------------------------------------------------------------------- */

enum { KEPT_MAX = 8 };

/* Records each loaded push and retry as a line (via recorder) and keeps the first pushes'
** bitmaps, which the load hands over, for inspection. */
typedef struct push_log {
  recorder rec;
  roaring_bitmap_t *audience[KEPT_MAX];
  roaring_bitmap_t *delivered[KEPT_MAX];
  int pushes;
} push_log;

static uint64_t card_or_zero(const roaring_bitmap_t *b) {
  return b ? roaring_bitmap_get_cardinality(b) : 0;
}

/* CRoaring 0.2.66's roaring_bitmap_free does not accept NULL. */
static void free_bitmap(roaring_bitmap_t *b) {
  if (b)
    roaring_bitmap_free(b);
}

static int log_push(void *ctx, const store_push *p) {
  push_log *l = ctx;
  if (l->pushes < KEPT_MAX) {
    l->audience[l->pushes] = p->audience;
    l->delivered[l->pushes] = p->delivered;
  } else {
    free_bitmap(p->audience);
    free_bitmap(p->delivered);
  }
  l->pushes++;
  assert_true(!p->msg_json || p->msg_len == strlen(p->msg_json));
  return record(&l->rec,
                "push %" PRIu64 " %s r=%" PRIu32 " from=%s t=%" PRId64 "/%" PRId64 "/%" PRId64
                " online=%" PRIu64 " state=%d msg=%s aud=%s%" PRIu64 " del=%s%" PRIu64 "\n",
                p->seq, p->task_id, p->msg_random, p->sender ? p->sender : "<null>",
                p->created_at, p->expires_at, p->fanout_done_at, p->online_at_push, p->state,
                p->msg_json ? p->msg_json : "<null>", p->audience ? "" : "null:",
                card_or_zero(p->audience), p->delivered ? "" : "null:",
                card_or_zero(p->delivered));
}

static int log_retry(void *ctx, const char *sender, uint32_t msg_random, const char *task_id,
                     int64_t created_at) {
  push_log *l = ctx;
  return record(&l->rec, "retry %s %" PRIu32 " %s %" PRId64 "\n", sender, msg_random, task_id,
                created_at);
}

static void push_log_free(push_log *l) {
  for (int i = 0; i < l->pushes && i < KEPT_MAX; i++) {
    free_bitmap(l->audience[i]);
    free_bitmap(l->delivered[i]);
  }
}

static int load_pushes_logged(store *s, push_log *l) {
  return store_load_pushes(s, log_push, log_retry, l);
}

/* 0..n-1 added in chunks, as an index builds "all accounts": bitset containers in memory. */
static roaring_bitmap_t *dense_bitmap(uint32_t n) {
  roaring_bitmap_t *b = roaring_bitmap_create();
  assert_non_null(b);
  uint32_t chunk[4096];
  for (uint32_t base = 0; base < n; base += 4096) {
    uint32_t k = n - base < 4096 ? n - base : 4096;
    for (uint32_t i = 0; i < k; i++)
      chunk[i] = base + i;
    roaring_bitmap_add_many(b, k, chunk);
  }
  return b;
}

static store_push sample_push(uint64_t seq, const char *task_id, roaring_bitmap_t *audience,
                              roaring_bitmap_t *delivered) {
  static const char msg[] = "{\"Event\":\"Msg\",\"MsgBody\":[]}";
  return (store_push){.seq = seq, .task_id = task_id, .msg_random = (uint32_t)(seq * 11),
                      .sender = "admin", .created_at = 1000, .expires_at = 1000 + (int64_t)seq,
                      .online_at_push = seq * 2, .state = 0, .msg_json = msg,
                      .msg_len = sizeof msg - 1, .audience = audience, .delivered = delivered};
}

/* Every container kind CRoaring writes, and enough containers for the offset table:
** array (key 0), bitset (key 1, every third value), run (keys 2..4, full). */
static roaring_bitmap_t *mixed_bitmap(void) {
  roaring_bitmap_t *b = roaring_bitmap_of(3, 7u, 300u, 65535u);
  for (uint32_t v = 65536; v < 131072; v += 3)
    roaring_bitmap_add(b, v);
  roaring_bitmap_add_range(b, 131072, 5 * 65536);
  roaring_bitmap_run_optimize(b);
  roaring_statistics_t st;
  roaring_bitmap_statistics(b, &st);
  assert_true(st.n_array_containers && st.n_bitset_containers && st.n_run_containers);
  assert_true(st.n_containers >= 4);
  return b;
}

static void test_push_roundtrip(void **state) {
  fixture *f = *state;
  enum { TEN_M = 10000000 };
  roaring_bitmap_t *everyone = dense_bitmap(TEN_M);
  roaring_bitmap_t *mixed = mixed_bitmap();
  roaring_bitmap_t *few = roaring_bitmap_of(3, 5u, 70000u, 9999999u);
  roaring_bitmap_t *acked = roaring_bitmap_of(1, 70000u);
  roaring_bitmap_t *none = roaring_bitmap_create();

  store *s = open_store(f->dir);
  store_push a = sample_push(2, "t_2", everyone, none);
  store_push b = sample_push(5, "t_5", few, acked);
  b.sender = NULL;   /* NULLs survive as NULLs */
  b.msg_json = NULL;
  b.msg_len = 0;
  b.state = 1;
  b.fanout_done_at = 1004;
  store_push c = sample_push(9, "t_9", NULL, NULL);
  store_push d = sample_push(12, "t_12", mixed, mixed);
  /* Put out of Seq order: load still streams by Seq. */
  assert_int_equal(store_put_push(s, &d), 0);
  assert_int_equal(store_put_push(s, &c), 0);
  assert_int_equal(store_put_push(s, &a), 0);
  assert_true(store_in_txn(s));
  assert_int_equal(store_put_push(s, &b), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  /* The caller's bitmap is untouched (still bitset containers); the blob is tiny. */
  roaring_statistics_t st;
  roaring_bitmap_statistics(everyone, &st);
  assert_true(st.n_bitset_containers > 0);
  sqlite3 *db = open_direct(f->db_path);
  char out[64];
  query_direct(db, "SELECT length(audience) FROM pushes WHERE seq = 2", out, sizeof out);
  print_message("10M-account audience blob: %s bytes\n", out);
  assert_true(atoi(out) > 0 && atoi(out) < 4096);
  sqlite3_close(db);

  push_log l = {0};
  s = open_store(f->dir);
  assert_int_equal(load_pushes_logged(s, &l), 0);
  store_close(s);
  assert_string_equal(l.rec.text,
                      "push 2 t_2 r=22 from=admin t=1000/1002/0 online=4 state=0 "
                      "msg={\"Event\":\"Msg\",\"MsgBody\":[]} aud=10000000 del=0\n"
                      "push 5 t_5 r=55 from=<null> t=1000/1005/1004 online=10 state=1 "
                      "msg=<null> aud=3 del=1\n"
                      "push 9 t_9 r=99 from=admin t=1000/1009/0 online=18 state=0 "
                      "msg={\"Event\":\"Msg\",\"MsgBody\":[]} aud=null:0 del=null:0\n"
                      "push 12 t_12 r=132 from=admin t=1000/1012/0 online=24 state=0 "
                      "msg={\"Event\":\"Msg\",\"MsgBody\":[]} aud=218457 del=218457\n");
  assert_true(roaring_bitmap_equals(l.audience[0], everyone));
  assert_true(roaring_bitmap_equals(l.audience[1], few));
  assert_true(roaring_bitmap_equals(l.delivered[1], acked));
  assert_true(roaring_bitmap_equals(l.audience[3], mixed));
  push_log_free(&l);
  roaring_bitmap_free(mixed);
  roaring_bitmap_free(everyone);
  roaring_bitmap_free(few);
  roaring_bitmap_free(acked);
  roaring_bitmap_free(none);
}

static void test_push_updates_and_delete(void **state) {
  fixture *f = *state;
  roaring_bitmap_t *audience = roaring_bitmap_from_range(0, 100, 1);
  roaring_bitmap_t *delivered = roaring_bitmap_create();
  store *s = open_store(f->dir);
  store_push p1 = sample_push(1, "t_1", audience, delivered);
  store_push p2 = sample_push(2, "t_2", audience, delivered);
  store_push p3 = sample_push(3, "t_3", audience, delivered);
  assert_int_equal(store_put_push(s, &p1), 0);
  assert_int_equal(store_put_push(s, &p2), 0);
  assert_int_equal(store_put_push(s, &p3), 0);
  assert_int_equal(store_commit(s), 0);

  /* A Seq or a TaskId stored twice is refused; NULL TaskId is invalid. */
  store_push dup_seq = sample_push(1, "t_other", audience, delivered);
  assert_int_equal(store_put_push(s, &dup_seq), -EEXIST);
  assert_non_null(strstr(store_errmsg(s), "already stored"));
  store_push dup_task = sample_push(4, "t_1", audience, delivered);
  assert_int_equal(store_put_push(s, &dup_task), -EEXIST);
  store_push no_task = sample_push(4, NULL, audience, delivered);
  assert_int_equal(store_put_push(s, &no_task), -EINVAL);

  /* Delivered flushes and state changes; unknown seqs are -ENOENT. */
  roaring_bitmap_add_range(delivered, 10, 60);
  assert_int_equal(store_put_push_delivered(s, 1, delivered), 0);
  roaring_bitmap_add(delivered, 99);
  assert_int_equal(store_put_push_delivered(s, 1, delivered), 0); /* the later flush wins */
  assert_int_equal(store_put_push_delivered(s, 77, delivered), -ENOENT);
  assert_non_null(strstr(store_errmsg(s), "no push with seq 77"));
  assert_int_equal(store_put_push_delivered(s, 2, NULL), 0); /* NULL clears it */
  assert_int_equal(store_put_push_state(s, 1, 1, 1234), 0);
  assert_int_equal(store_put_push_state(s, 77, 1, 1234), -ENOENT);
  assert_int_equal(store_del_push(s, 2), 0);
  assert_int_equal(store_del_push(s, 2), 0); /* missing: no-op */

  /* A failed request's push write is undone with it. */
  assert_int_equal(store_savepoint(s), 0);
  store_push p4 = sample_push(4, "t_4", audience, delivered);
  assert_int_equal(store_put_push(s, &p4), 0);
  assert_int_equal(store_del_push(s, 3), 0);
  assert_int_equal(store_put_push_state(s, 1, 3, 99), 0);
  assert_int_equal(store_rollback_to(s), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  push_log l = {0};
  s = open_store(f->dir);
  assert_int_equal(load_pushes_logged(s, &l), 0);
  store_close(s);
  const char *msg = "{\"Event\":\"Msg\",\"MsgBody\":[]}";
  char want[1024];
  snprintf(want, sizeof want,
           "push 1 t_1 r=11 from=admin t=1000/1001/1234 online=2 state=1 msg=%s aud=100 del=51\n"
           "push 3 t_3 r=33 from=admin t=1000/1003/0 online=6 state=0 msg=%s aud=100 del=0\n",
           msg, msg);
  assert_string_equal(l.rec.text, want);
  assert_true(roaring_bitmap_equals(l.delivered[0], delivered));
  push_log_free(&l);
  roaring_bitmap_free(audience);
  roaring_bitmap_free(delivered);
}

static void test_push_retries(void **state) {
  fixture *f = *state;
  store *s = open_store(f->dir);
  assert_int_equal(store_put_retry(s, "admin", 42, "t_a", 300), 0);
  assert_int_equal(store_put_retry(s, "u1", 42, "t_b", 100), 0);
  assert_int_equal(store_put_retry(s, "admin", 43, "t_c", 200), 0);
  assert_int_equal(store_put_retry(s, "admin", 4294967295u, "t_max", 250), 0);
  assert_int_equal(store_put_retry(s, NULL, 1, "t", 1), -EINVAL);
  assert_int_equal(store_commit(s), 0);

  push_log l = {0};
  assert_int_equal(store_load_pushes(s, NULL, log_retry, &l), 0); /* oldest first */
  assert_string_equal(l.rec.text, "retry u1 42 t_b 100\n"
                                  "retry admin 43 t_c 200\n"
                                  "retry admin 4294967295 t_max 250\n"
                                  "retry admin 42 t_a 300\n");

  /* The same pair again replaces its record; the sweep drops created_at < t. */
  assert_int_equal(store_put_retry(s, "u1", 42, "t_b2", 400), 0);
  assert_int_equal(store_del_retries_before(s, 250), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  l = (push_log){0};
  s = open_store(f->dir);
  assert_int_equal(load_pushes_logged(s, &l), 0);
  store_close(s);
  assert_string_equal(l.rec.text, "retry admin 4294967295 t_max 250\n"
                                  "retry admin 42 t_a 300\n"
                                  "retry u1 42 t_b2 400\n");
}

static void test_push_load_stops(void **state) {
  fixture *f = *state;
  roaring_bitmap_t *b = roaring_bitmap_of(2, 1u, 2u);
  store *s = open_store(f->dir);
  char task[16];
  for (uint64_t seq = 1; seq <= 3; seq++) {
    snprintf(task, sizeof task, "t_%" PRIu64, seq);
    store_push p = sample_push(seq, task, b, b);
    assert_int_equal(store_put_push(s, &p), 0);
  }
  assert_int_equal(store_put_retry(s, "admin", 1, "t_1", 1), 0);
  assert_int_equal(store_commit(s), 0);

  /* The callback that stops the load still owns (and here keeps) its bitmaps. */
  push_log l = {.rec.stop_at_call = 2};
  assert_int_equal(load_pushes_logged(s, &l), 7);
  assert_int_equal(l.pushes, 2);
  push_log_free(&l);

  l = (push_log){.rec.stop_at_call = 4}; /* 3 pushes, then the retry stops it */
  assert_int_equal(load_pushes_logged(s, &l), 7);
  assert_int_equal(l.pushes, 3);
  assert_non_null(strstr(l.rec.text, "retry admin 1 t_1 1\n"));
  push_log_free(&l);
  store_close(s);
  roaring_bitmap_free(b);
}

/* Overwrites one bitmap column of one push through a second connection. */
static void set_blob_direct(const char *db_path, const char *column, uint64_t seq,
                            const void *bytes, size_t len) {
  sqlite3 *db = open_direct(db_path);
  char sql[128];
  snprintf(sql, sizeof sql, "UPDATE pushes SET %s = ?1 WHERE seq = ?2", column);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_bind_blob(st, 1, bytes, (int)len, SQLITE_TRANSIENT), SQLITE_OK);
  assert_int_equal(sqlite3_bind_int64(st, 2, (sqlite3_int64)seq), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  assert_int_equal(sqlite3_changes(db), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* The load must fail cleanly on push 2's blob after handing over push 1. */
static void expect_corrupt(const char *dir, const char *column, const char *reason) {
  push_log l = {0};
  store *s = open_store(dir);
  assert_int_equal(load_pushes_logged(s, &l), -EBADMSG);
  const char *msg = store_errmsg(s);
  print_message("corrupt %s: %s\n", column, msg);
  assert_non_null(strstr(msg, "seq 2"));
  assert_non_null(strstr(msg, column));
  assert_non_null(strstr(msg, reason));
  assert_null(strchr(msg, '\n'));
  assert_int_equal(l.pushes, 1); /* push 1 came; nothing of push 2 */
  push_log_free(&l);
  /* The store stays usable after a failed load. */
  assert_int_equal(store_put_retry(s, "admin", 1, "t", 1), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
}

static void test_push_corrupt_blob(void **state) {
  fixture *f = *state;
  roaring_bitmap_t *big = dense_bitmap(200000);
  roaring_bitmap_t *small = roaring_bitmap_of(3, 1u, 2u, 3u);
  store *s = open_store(f->dir);
  store_push p1 = sample_push(1, "t_1", small, small);
  store_push p2 = sample_push(2, "t_2", big, small);
  assert_int_equal(store_put_push(s, &p1), 0);
  assert_int_equal(store_put_push(s, &p2), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  /* Our hand-made blobs follow the same format CRoaring writes: check one. */
  static const unsigned char one_two_three[] = {
      0x3a, 0x30, 0, 0, 1, 0, 0, 0,  /* cookie without runs, 1 container */
      0, 0, 2, 0,                    /* key 0, cardinality 3 */
      16, 0, 0, 0,                   /* its offset */
      1, 0, 2, 0, 3, 0};             /* values */
  char serial[64];
  assert_int_equal(roaring_bitmap_portable_size_in_bytes(small), sizeof one_two_three);
  roaring_bitmap_portable_serialize(small, serial);
  assert_memory_equal(serial, one_two_three, sizeof one_two_three);
  set_blob_direct(f->db_path, "delivered", 2, one_two_three, sizeof one_two_three);
  push_log l = {0};
  s = open_store(f->dir);
  assert_int_equal(load_pushes_logged(s, &l), 0);
  store_close(s);
  push_log_free(&l);

  static const unsigned char unordered[] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0,
                                            16,   0,    0, 0, 2, 0, 1, 0, 3, 0};
  set_blob_direct(f->db_path, "delivered", 2, unordered, sizeof unordered);
  expect_corrupt(f->dir, "delivered", "out of order");
  set_blob_direct(f->db_path, "delivered", 2, one_two_three, sizeof one_two_three);

  static const unsigned char huge_count[] = {0x3a, 0x30, 0, 0, 0xff, 0xff, 0xff, 0xff};
  set_blob_direct(f->db_path, "audience", 2, huge_count, sizeof huge_count);
  expect_corrupt(f->dir, "audience", "more containers");

  static const unsigned char run_overflow[] = {
      0x3b, 0x30, 0, 0, 1,           /* cookie with runs, 1 container; it is a run */
      0, 0, 1, 0,                    /* key 0, cardinality 2 */
      1, 0, 0xff, 0xff, 1, 0};       /* one run: 65535..65536 */
  set_blob_direct(f->db_path, "audience", 2, run_overflow, sizeof run_overflow);
  expect_corrupt(f->dir, "audience", "runs overlap");

  /* A bitset whose stored cardinality lies (CRoaring would trust it). */
  unsigned char lying_bitset[16 + 8192] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0x00, 0x10,
                                           16,   0,    0, 0};
  memset(lying_bitset + 16, 0xff, 8192); /* 65536 bits set, header says 4097 */
  set_blob_direct(f->db_path, "audience", 2, lying_bitset, sizeof lying_bitset);
  expect_corrupt(f->dir, "audience", "bitset bits disagree");

  set_blob_direct(f->db_path, "audience", 2, "not a bitmap", 12);
  expect_corrupt(f->dir, "audience", "unknown cookie");
  set_blob_direct(f->db_path, "audience", 2, "", 0);
  expect_corrupt(f->dir, "audience", "empty blob");

  /* The real blob cut short at every length, and with a byte too many. */
  s = open_store(f->dir);
  assert_int_equal(store_del_push(s, 2), 0);
  assert_int_equal(store_put_push(s, &p2), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
  roaring_bitmap_t *optimized = roaring_bitmap_copy(big); /* the stored form */
  roaring_bitmap_run_optimize(optimized);
  size_t len = roaring_bitmap_portable_size_in_bytes(optimized);
  char *good = malloc(len + 1);
  assert_non_null(good);
  roaring_bitmap_portable_serialize(optimized, good);
  for (size_t cut = 1; cut < len; cut += (cut < 64 ? 1 : 97)) {
    set_blob_direct(f->db_path, "audience", 2, good, cut);
    push_log quiet = {0};
    s = open_store(f->dir);
    assert_int_equal(load_pushes_logged(s, &quiet), -EBADMSG);
    assert_non_null(strstr(store_errmsg(s), "seq 2"));
    store_close(s);
    push_log_free(&quiet);
  }
  good[len] = 0;
  set_blob_direct(f->db_path, "audience", 2, good, len + 1);
  expect_corrupt(f->dir, "audience", "trailing bytes");
  set_blob_direct(f->db_path, "audience", 2, good, len); /* intact again: loads */
  l = (push_log){0};
  s = open_store(f->dir);
  assert_int_equal(load_pushes_logged(s, &l), 0);
  assert_true(roaring_bitmap_equals(l.audience[1], big));
  store_close(s);
  push_log_free(&l);

  free(good);
  roaring_bitmap_free(optimized);
  roaring_bitmap_free(big);
  roaring_bitmap_free(small);
}

/* A database as schema version 1 left it: no push tables, version 1 in meta. */
static void make_version_1_db(const fixture *f) {
  store *s = open_store(f->dir);
  assert_int_equal(store_put_account(s, 1, "u1", NULL, NULL), 0);
  assert_int_equal(store_put_user_tag(s, 1, "t"), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
  sqlite3 *db = open_direct(f->db_path);
  exec_direct(db, "DROP TABLE pushes");
  exec_direct(db, "DROP TABLE push_retries");
  exec_direct(db, "UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  char out[256];
  query_direct(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                   "WHERE name NOT LIKE 'sqlite_%' ORDER BY name)", out, sizeof out);
  assert_string_equal(out, "accounts,attr_names,meta,user_attrs,user_tags");
  sqlite3_close(db);
}

static void test_schema_upgrade_from_v1(void **state) {
  fixture *f = *state;
  make_version_1_db(f);

  store *s = open_store(f->dir);
  char value[16];
  assert_int_equal(store_meta_get(s, "schema_version", value, sizeof value), 0);
  assert_string_equal(value, "2");
  roaring_bitmap_t *b = roaring_bitmap_of(1, 1u);
  store_push p = sample_push(1, "t_1", b, NULL);
  assert_int_equal(store_put_push(s, &p), 0);
  assert_int_equal(store_put_retry(s, "admin", 1, "t_1", 1000), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
  roaring_bitmap_free(b);

  recorder r;
  reload_text(f->dir, &r); /* the version-1 data is all there */
  assert_string_equal(r.text, "account 1 u1\nuser_tag 1 t\n");
  push_log l = {0};
  s = open_store(f->dir);
  assert_int_equal(load_pushes_logged(s, &l), 0);
  store_close(s);
  assert_int_equal(l.pushes, 1);
  assert_non_null(strstr(l.rec.text, "retry admin 1 t_1 1000\n"));
  push_log_free(&l);

  sqlite3 *db = open_direct(f->db_path);
  char out[256];
  query_direct(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                   "WHERE name NOT LIKE 'sqlite_%' ORDER BY name)", out, sizeof out);
  assert_string_equal(out, "accounts,attr_names,meta,push_retries,push_retries_by_time,"
                           "pushes,user_attrs,user_tags");
  sqlite3_close(db);
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
      T(test_push_roundtrip),
      T(test_push_updates_and_delete),
      T(test_push_retries),
      T(test_push_load_stops),
      T(test_push_corrupt_blob),
      T(test_schema_upgrade_from_v1),
      T(test_bulk_million),
  };
  return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
