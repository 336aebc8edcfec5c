/*
** fuzz_store_blob.c — what the store decodes from SQLite: the portable roaring blobs of
** stored pushes (audience, delivered) and the pushes themselves as the api loads them.
**
** store.c's blob check (roaring_blob_problem) is static, so this target includes store.c
** itself (the library's copy of it is then not linked in): the check is called directly,
** with no SQL in the way, for most inputs.
** Input: byte 0 picks the mode.
**  even  the rest is one blob. When the check accepts it, CRoaring must deserialize it, and
**        the bitmap must keep its invariants (values strictly increasing, the cardinality
**        they add up to, contains() of each, a serialize/deserialize round trip, run
**        optimisation, the set operations the push code uses).
**  odd   the rest becomes a row of the pushes table (seq, times, state, NULLs, two blobs)
**        beside a valid push and a few retry records, written with a second SQLite
**        connection; then api_load_state() loads it all, and the registry is exercised the
**        way the api uses it later (catch-up walks, acks, account deletion, reports,
**        expiry), so a damaged row must either be refused at load or behave.
*/
#include "store/store.c"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/api.h"
#include "common/log.h"
#include "core/pushes.h"
#include "harness.h"

static void check_bitmap(const roaring_bitmap_t *b, const uint8_t *blob, size_t len)
{
  uint64_t card = roaring_bitmap_get_cardinality(b), n = 0;
  int64_t prev = -1;
  roaring_uint32_iterator_t *it = roaring_create_iterator(b);
  for (; it->has_value; roaring_advance_uint32_iterator(it)) {
    if ((int64_t)it->current_value <= prev) fz_fail("values not increasing at %u", it->current_value);
    prev = it->current_value;
    if (n < 64 && !roaring_bitmap_contains(b, it->current_value)) fz_fail("contains(%u) false", it->current_value);
    n++;
  }
  roaring_free_uint32_iterator(it);
  if (n != card) fz_fail("cardinality %llu, iterated %llu", (unsigned long long)card, (unsigned long long)n);
  if (card && (roaring_bitmap_minimum(b) > roaring_bitmap_maximum(b))) fz_fail("minimum > maximum");
  if (roaring_bitmap_portable_deserialize_size((const char *)blob, len) != len)
    fz_fail("deserialize_size disagrees with the check");

  size_t sz = roaring_bitmap_portable_size_in_bytes(b);
  char *buf = malloc(sz ? sz : 1);
  if (roaring_bitmap_portable_serialize(b, buf) != sz) fz_fail("serialize size");
  roaring_bitmap_t *again = roaring_bitmap_portable_deserialize_safe(buf, sz);
  if (!again || !roaring_bitmap_equals(again, b)) fz_fail("round trip changed the bitmap");
  if (roaring_blob_problem((const unsigned char *)buf, sz)) fz_fail("the check refuses CRoaring's own output");
  roaring_bitmap_run_optimize(again);
  if (!roaring_bitmap_equals(again, b)) fz_fail("run_optimize changed the bitmap");
  roaring_bitmap_t *other = roaring_bitmap_from_range(0, 70000, 3);
  roaring_bitmap_t *and = roaring_bitmap_and(b, other), *or = roaring_bitmap_or(b, other);
  if (roaring_bitmap_get_cardinality(and) != roaring_bitmap_and_cardinality(b, other) ||
      roaring_bitmap_get_cardinality(or) != roaring_bitmap_or_cardinality(b, other))
    fz_fail("set operation cardinalities disagree");
  roaring_bitmap_and_inplace(again, other);
  if (!roaring_bitmap_equals(again, and)) fz_fail("and_inplace differs from and");
  roaring_bitmap_free(and);
  roaring_bitmap_free(or);
  roaring_bitmap_free(other);
  roaring_bitmap_free(again);
  free(buf);
}

static void mode_blob(const uint8_t *data, size_t size)
{
  uint8_t *blob = malloc(size ? size : 1); /* exact size: ASan sees any overread */
  memcpy(blob, data, size);
  const char *why = roaring_blob_problem(blob, size);
  if (!why) {
    roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe((const char *)blob, size);
    if (!b) fz_fail("the check accepts a blob CRoaring refuses");
    check_bitmap(b, blob, size);
    roaring_bitmap_free(b);
  }
  free(blob);
}

/* ---------------------------------------------------------------- the load path */

static char dir[128];
static store *st;
static sqlite3 *db;
static sqlite3_stmt *ins, *retry;

static void cleanup(void)
{
  if (ins) sqlite3_finalize(ins);
  if (retry) sqlite3_finalize(retry);
  if (db) sqlite3_close(db);
  if (st) store_close(st);
}

static void exec(const char *sql)
{
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fz_fail("SQL %s: %s", sql, err);
}

static void open_db(void)
{
  if (st) return;
  log_set_level(LOG_ERROR + 1);
  fz_tempdir(dir, sizeof dir);
  atexit(cleanup); /* runs before the folder's removal */
  char err[256], path[200];
  if (store_open(&st, dir, NULL, err, sizeof err) != 0) fz_fail("store_open: %s", err);
  snprintf(path, sizeof path, "%s/imcast.db", dir);
  if (sqlite3_open(path, &db) != SQLITE_OK) fz_fail("sqlite3_open");
  sqlite3_busy_timeout(db, 5000);
  exec("BEGIN");
  for (int uid = 1; uid <= 40; uid++) {
    char sql[200];
    /* dense low uids: the directory's uid table is as long as the largest uid */
    snprintf(sql, sizeof sql, "INSERT INTO accounts(uid, user_id) VALUES(%d, 'u%d')",
             uid < 30 ? uid : uid * 20, uid);
    exec(sql);
  }
  exec("INSERT INTO meta(key, value) VALUES('next_seq', '3')");
  exec("COMMIT");
  /* a valid push at seq 5 to every account, and its retry record, stay for every input */
  roaring_bitmap_t *all = roaring_bitmap_from_range(1, 30, 1);
  for (int uid = 30; uid <= 40; uid++) roaring_bitmap_add(all, (uint32_t)uid * 20);
  store_push good = {.seq = 5, .task_id = "good", .msg_random = 1, .sender = "admin",
                     .created_at = 1795000000, .expires_at = 1795600000, .state = PUSH_DONE,
                     .msg_json = "{\"Event\":\"Msg\"}", .msg_len = 15, .audience = all,
                     .delivered = NULL};
  if (store_put_push(st, &good) != 0 || store_put_retry(st, "admin", 1, "good", 1795000000) ||
      store_commit(st) != 0)
    fz_fail("store: %s", store_errmsg(st));
  roaring_bitmap_free(all);
  if (sqlite3_prepare_v2(db, "INSERT INTO push_retries(sender, msg_random, task_id, created_at) "
                         "VALUES('', ?1, 'x', ?2)", -1, &retry, NULL) != SQLITE_OK)
    fz_fail("prepare");
  if (sqlite3_prepare_v2(db, "INSERT INTO pushes(seq, task_id, msg_random, sender, created_at, "
                         "expires_at, fanout_done_at, online_at_push, state, msg_json, audience, "
                         "delivered) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                         -1, &ins, NULL) != SQLITE_OK)
    fz_fail("prepare");
}

static uint32_t rd(const uint8_t **p, const uint8_t *end, int bytes)
{
  uint32_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | (*p < end ? *(*p)++ : 0);
  return v;
}

static int on_pending(push *p, void *ctx)
{
  (void)ctx;
  if (p->msg_len != strlen(p->msg_json)) fz_fail("msg_len");
  return 0;
}

static int on_dirty(push *p, void *ctx)
{
  (void)ctx;
  return p->seq & 1; /* keep some dirty */
}

static void mode_load(const uint8_t *data, size_t size)
{
  open_db();
  const uint8_t *p = data, *end = data + size;
  int64_t seq = (int64_t)rd(&p, end, 2) - 2;             /* around the valid push's seq 5 */
  uint32_t msg_random = rd(&p, end, 4);
  int64_t created = 1795000000LL + (int32_t)rd(&p, end, 4);
  int64_t expires = created + (int64_t)(int16_t)rd(&p, end, 2) * 1000;
  int64_t fanout = (int16_t)rd(&p, end, 2);
  uint32_t state = rd(&p, end, 1) % 6;
  uint32_t nulls = rd(&p, end, 1);                       /* which columns are NULL */
  uint32_t alen = rd(&p, end, 2);
  size_t left = (size_t)(end - p);
  if (alen > left) alen = (uint32_t)left;
  const uint8_t *audience = p, *delivered = p + alen;
  size_t dlen = left - alen;

  exec("BEGIN; DELETE FROM pushes WHERE seq != 5; DELETE FROM push_retries WHERE task_id != 'good';");
  sqlite3_reset(ins);
  sqlite3_bind_int64(ins, 1, seq);
  if (nulls & 1) sqlite3_bind_null(ins, 2); else sqlite3_bind_text(ins, 2, nulls & 2 ? "good" : "t", -1, SQLITE_STATIC);
  sqlite3_bind_int64(ins, 3, msg_random);
  if (nulls & 4) sqlite3_bind_null(ins, 4); else sqlite3_bind_text(ins, 4, "u1", -1, SQLITE_STATIC);
  sqlite3_bind_int64(ins, 5, created);
  sqlite3_bind_int64(ins, 6, expires);
  sqlite3_bind_int64(ins, 7, fanout);
  sqlite3_bind_int64(ins, 8, msg_random);
  sqlite3_bind_int64(ins, 9, state);
  if (nulls & 8) sqlite3_bind_null(ins, 10); else sqlite3_bind_text(ins, 10, "{\"Event\":\"Msg\",\"Seq\":1}", -1, SQLITE_STATIC);
  if (nulls & 16) sqlite3_bind_null(ins, 11); else sqlite3_bind_blob(ins, 11, alen ? audience : (const void *)"", (int)alen, SQLITE_STATIC);
  if (nulls & 32) sqlite3_bind_null(ins, 12); else sqlite3_bind_blob(ins, 12, dlen ? delivered : (const void *)"", (int)dlen, SQLITE_STATIC);
  sqlite3_step(ins); /* a constraint (NULL task_id, a repeated seq or TaskId) refuses it */
  sqlite3_reset(ins);
  sqlite3_reset(retry);
  sqlite3_bind_int64(retry, 1, msg_random);
  sqlite3_bind_int64(retry, 2, created);
  sqlite3_step(retry);
  exec("COMMIT");

  api_state s;
  int rc = api_load_state(st, &s);
  if (rc != 0) {
    if (rc != -EBADMSG && rc != -EINVAL && rc != -EEXIST) fz_fail("load failed with %d: %s", rc, store_errmsg(st));
    return;
  }
  push_registry *r = s.pushes;
  static const uint32_t uids[] = {1, 2, 7, 29, 700, 3, 100000, 65536 + 700, 0};
  for (size_t i = 0; i < sizeof uids / sizeof uids[0]; i++) {
    push_registry_pending(r, uids[i], 1795000100, on_pending, NULL);
    push_registry_ack(r, uids[i], 0, UINT64_MAX);
  }
  push_registry_forget_account(r, 2);
  push_registry_each_dirty(r, on_dirty, NULL);
  for (uint64_t q = 0; q < 12; q++) {
    push *ps = push_registry_find_seq(r, q);
    if (ps) (void)(push_audience_count(ps) + push_delivered_count(ps)); /* reports */
  }
  push *x;
  while ((x = push_registry_take_expired(r, INT64_MAX)) != NULL) push_free(x, NULL);
  if (push_registry_count(r) != 0) fz_fail("pushes left after expiring everything");
  api_state_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  if (data[0] & 1) mode_load(data + 1, size - 1);
  else mode_blob(data + 1, size - 1);
  return 0;
}
