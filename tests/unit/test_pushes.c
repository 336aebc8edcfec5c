/*
** test_pushes.c — the push registry: add/find by Seq and TaskId, TaskId text, catch-up
** (pending) order and filters, acks, account deletion, expiry and its timer, the 7-day
** retry window and its sweep, dirty flags, the memory of a 10M-account push, frees, and a
** churn test that checks the ring and the TaskId map against a simple model.
*/
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pushes.h"

#define NOW 1764120000
#define SDKAPPID 1400000000u

/* --- helpers ------------------------------------------------------------------------------ */

static char *dup_text(const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  assert_non_null(copy);
  memcpy(copy, s, n);
  return copy;
}

/* A push made at `created` living `lifetime` seconds, to the given uids (n of them). */
static push *make_push(uint64_t seq, int64_t created, int64_t lifetime, const uint32_t *uids,
                       size_t n) {
  push *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->seq = seq;
  p->msg_random = (uint32_t)(seq * 7919u);
  push_make_task_id(p->task_id, created, SDKAPPID, seq, p->msg_random);
  p->sender = dup_text("admin");
  p->created_at = created;
  p->expires_at = created + lifetime;
  p->msg_json = dup_text("{\"Event\":\"Msg\"}");
  p->msg_len = strlen(p->msg_json);
  p->audience = roaring_bitmap_of_ptr(n, uids);
  assert_non_null(p->audience);
  p->delivered = roaring_bitmap_create();
  p->state = PUSH_FANNING_OUT;
  return p;
}

static push *add_push(push_registry *r, uint64_t seq, int64_t lifetime, const uint32_t *uids,
                      size_t n) {
  push *p = make_push(seq, NOW, lifetime, uids, n);
  assert_int_equal(push_registry_add(r, p), 0);
  return p;
}

/* Collects the Seqs a walk reports, as "1,3,5"; stops after `stop_after` when non-zero. */
typedef struct seq_list {
  char text[512];
  int calls;
  int stop_after;
} seq_list;

static int collect_seq(push *p, void *ctx) {
  seq_list *l = ctx;
  size_t len = strlen(l->text);
  snprintf(l->text + len, sizeof l->text - len, "%s%" PRIu64, len ? "," : "", p->seq);
  l->calls++;
  return l->stop_after && l->calls >= l->stop_after;
}

static const char *pending_of(push_registry *r, uint32_t uid, int64_t now, seq_list *l) {
  memset(l, 0, sizeof *l);
  push_registry_pending(r, uid, now, collect_seq, l);
  return l->text;
}

static void no_frame(void *frame) { fail_msg("unexpected free_frame(%p)", frame); }

/* --- tests -------------------------------------------------------------------------------- */

static void test_add_and_find(void **state) {
  push_registry *r = push_registry_new();
  assert_non_null(r);
  assert_int_equal(push_registry_next_seq(r), 1);
  assert_null(push_registry_find_seq(r, 1));
  assert_null(push_registry_find_task(r, "nope"));

  uint32_t uids[] = {1, 2, 3};
  push *a = add_push(r, 3, 60, uids, 3);
  push *b = add_push(r, 7, 60, uids, 3);
  push *c = add_push(r, 8, 60, uids, 3);
  assert_int_equal(push_registry_count(r), 3);
  assert_int_equal(push_registry_next_seq(r), 9);

  assert_ptr_equal(push_registry_find_seq(r, 3), a);
  assert_ptr_equal(push_registry_find_seq(r, 7), b);
  assert_ptr_equal(push_registry_find_seq(r, 8), c);
  assert_null(push_registry_find_seq(r, 0));
  assert_null(push_registry_find_seq(r, 5));
  assert_null(push_registry_find_seq(r, 9));
  assert_ptr_equal(push_registry_find_task(r, a->task_id), a);
  assert_ptr_equal(push_registry_find_task(r, b->task_id), b);
  assert_ptr_equal(push_registry_find_task(r, c->task_id), c);

  /* Out of order, a repeated Seq, a repeated TaskId: refused, nothing changes. */
  push *late = make_push(5, NOW, 60, uids, 3);
  assert_int_equal(push_registry_add(r, late), -EINVAL);
  push_free(late, NULL);
  push *again = make_push(8, NOW, 60, uids, 3);
  assert_int_equal(push_registry_add(r, again), -EINVAL);
  push_free(again, NULL);
  push *twin = make_push(9, NOW, 60, uids, 3);
  memcpy(twin->task_id, a->task_id, sizeof twin->task_id);
  assert_int_equal(push_registry_add(r, twin), -EEXIST);
  push_free(twin, NULL);
  push *nameless = make_push(9, NOW, 60, uids, 3);
  nameless->task_id[0] = '\0';
  assert_int_equal(push_registry_add(r, nameless), -EINVAL);
  /* Removing a push the registry does not hold is a no-op. */
  push_registry_remove(r, nameless);
  push_free(nameless, NULL);
  assert_int_equal(push_registry_count(r), 3);
  assert_int_equal(push_registry_next_seq(r), 9);

  /* bump_seq only raises (a MsgLifeTime 0 push takes a Seq without being added). */
  push_registry_bump_seq(r, 4);
  assert_int_equal(push_registry_next_seq(r), 9);
  push_registry_bump_seq(r, 20);
  assert_int_equal(push_registry_next_seq(r), 20);

  /* NULL bitmaps become empty ones. */
  push *bare = make_push(21, NOW, 60, uids, 0);
  roaring_bitmap_free(bare->audience);
  roaring_bitmap_free(bare->delivered);
  bare->audience = bare->delivered = NULL;
  assert_int_equal(push_registry_add(r, bare), 0);
  assert_int_equal(push_audience_count(bare), 0);
  assert_int_equal(push_delivered_count(bare), 0);

  push_registry_free(r, no_frame);
}

static void test_task_id_format(void **state) {
  char id[PUSH_TASK_ID_MAX];
  push_make_task_id(id, 0x6745a3c0, SDKAPPID, 0x1a, 0x8e1b9);
  assert_string_equal(id, "6745a3c0_53724e00_1a_8e1b9");

  /* The largest values still fit, in [0-9a-f_] only. */
  push_make_task_id(id, INT64_MAX, UINT64_MAX, UINT64_MAX, UINT32_MAX);
  assert_string_equal(id, "7fffffffffffffff_ffffffffffffffff_ffffffffffffffff_ffffffff");
  assert_true(strlen(id) < PUSH_TASK_ID_MAX);
  assert_int_equal(strspn(id, "0123456789abcdef_"), strlen(id));

  /* Seq makes it unique even for the same second, app and MsgRandom. */
  char other[PUSH_TASK_ID_MAX];
  push_make_task_id(other, 0x6745a3c0, SDKAPPID, 0x1b, 0x8e1b9);
  assert_string_not_equal(id, other);
}

static void test_pending_order_and_filters(void **state) {
  push_registry *r = push_registry_new();
  uint32_t u7[] = {7}, u7_8[] = {7, 8}, u8[] = {8};
  add_push(r, 1, 100, u7_8, 2);            /* pending for 7 */
  add_push(r, 2, 100, u8, 1);              /* not in 7's audience */
  push *delivered = add_push(r, 3, 100, u7, 1);
  roaring_bitmap_add(delivered->delivered, 7); /* 7 already has it */
  add_push(r, 4, 10, u7, 1);               /* expires at NOW+10 */
  push *revoked = add_push(r, 5, 100, u7, 1);
  revoked->state = PUSH_REVOKED;
  push *expired = add_push(r, 6, 100, u7, 1);
  expired->state = PUSH_EXPIRED;
  push *done = add_push(r, 7, 100, u7_8, 2);
  done->state = PUSH_DONE;                 /* live delivery over; still pending offline */

  seq_list l;
  assert_string_equal(pending_of(r, 7, NOW, &l), "1,4,7");
  assert_string_equal(pending_of(r, 7, NOW + 9, &l), "1,4,7");
  assert_string_equal(pending_of(r, 7, NOW + 10, &l), "1,7"); /* now >= expires_at */
  assert_string_equal(pending_of(r, 8, NOW, &l), "1,2,7");
  assert_string_equal(pending_of(r, 9, NOW, &l), "");
  assert_string_equal(pending_of(r, 7, NOW + 100, &l), "");

  /* fn returning non-zero stops the walk. */
  memset(&l, 0, sizeof l);
  l.stop_after = 2;
  push_registry_pending(r, 8, NOW, collect_seq, &l);
  assert_string_equal(l.text, "1,2");
  push_registry_free(r, NULL);
}

static void test_ack_ranges(void **state) {
  push_registry *r = push_registry_new();
  uint32_t both[] = {1, 2}, one[] = {1};
  push *p[6];
  for (uint64_t seq = 1; seq <= 5; seq++)
    p[seq] = add_push(r, seq * 10, 100, seq == 3 ? one : both, seq == 3 ? 1 : 2);
  p[4]->state = PUSH_REVOKED;

  /* after < seq <= upto: 10 is excluded (after), 30 included (upto). */
  assert_int_equal(push_registry_ack(r, 2, 10, 30), 1); /* only 20: 30's audience lacks 2 */
  assert_false(roaring_bitmap_contains(p[1]->delivered, 2));
  assert_true(roaring_bitmap_contains(p[2]->delivered, 2));
  assert_false(roaring_bitmap_contains(p[3]->delivered, 2));
  assert_true(p[2]->delivered_dirty);
  assert_false(p[1]->delivered_dirty);
  assert_false(p[3]->delivered_dirty);

  /* Idempotent: the same ack again adds nothing. */
  assert_int_equal(push_registry_ack(r, 2, 10, 30), 0);
  /* Everything up to 1000 for uid 1: 10, 20, 30, 50 (40 is revoked). */
  assert_int_equal(push_registry_ack(r, 1, 0, 1000), 4);
  assert_false(roaring_bitmap_contains(p[4]->delivered, 1));
  assert_int_equal(push_registry_ack(r, 1, 0, 1000), 0);
  /* Empty and reversed ranges. */
  assert_int_equal(push_registry_ack(r, 2, 30, 30), 0);
  assert_int_equal(push_registry_ack(r, 2, 50, 10), 0);
  assert_int_equal(push_registry_ack(r, 2, UINT64_MAX, UINT64_MAX), 0);
  /* A range between pushes. */
  assert_int_equal(push_registry_ack(r, 2, 21, 29), 0);

  assert_int_equal(push_delivered_count(p[1]), 1);
  assert_int_equal(push_delivered_count(p[2]), 2);
  assert_int_equal(push_audience_count(p[2]), 2);
  assert_int_equal(push_audience_count(p[3]), 1);

  seq_list l;
  assert_string_equal(pending_of(r, 1, NOW, &l), "");
  assert_string_equal(pending_of(r, 2, NOW, &l), "10,50");
  push_registry_free(r, NULL);
}

static void test_forget_account(void **state) {
  push_registry *r = push_registry_new();
  uint32_t uids[] = {1, 2, 3};
  push *a = add_push(r, 1, 100, uids, 3);
  push *b = add_push(r, 2, 100, uids, 3);
  assert_int_equal(push_registry_ack(r, 2, 0, 1), 1);
  a->delivered_dirty = false;

  push_registry_forget_account(r, 2);
  assert_int_equal(push_audience_count(a), 2);
  assert_int_equal(push_audience_count(b), 2);
  assert_false(roaring_bitmap_contains(a->audience, 2));
  assert_int_equal(push_delivered_count(a), 0);
  assert_true(a->delivered_dirty);   /* delivered changed: must be saved again */
  assert_false(b->delivered_dirty);  /* only its audience changed */
  seq_list l;
  assert_string_equal(pending_of(r, 2, NOW, &l), "");
  assert_string_equal(pending_of(r, 3, NOW, &l), "1,2");
  push_registry_forget_account(r, 99); /* unknown: no-op */
  assert_int_equal(push_audience_count(a), 2);
  push_registry_free(r, NULL);
}

static void test_expiry(void **state) {
  push_registry *r = push_registry_new();
  uint32_t uids[] = {1};
  assert_int_equal(push_registry_next_expiry(r), INT64_MAX);
  assert_null(push_registry_take_expired(r, NOW));

  push *p1 = add_push(r, 1, 300, uids, 1); /* expires NOW+300 */
  push *p2 = add_push(r, 2, 100, uids, 1); /* NOW+100: the earliest, in the middle */
  push *p3 = add_push(r, 3, 200, uids, 1); /* NOW+200 */
  push *p4 = add_push(r, 4, 500, uids, 1);
  p4->state = PUSH_REVOKED;
  assert_int_equal(push_registry_next_expiry(r), NOW + 100);

  assert_null(push_registry_take_expired(r, NOW + 99));
  push *t = push_registry_take_expired(r, NOW + 100); /* expired means now >= expires_at */
  assert_ptr_equal(t, p2);
  assert_int_equal(t->state, PUSH_EXPIRED);
  assert_null(push_registry_take_expired(r, NOW + 100));
  push_free(t, NULL);
  assert_int_equal(push_registry_count(r), 3);
  assert_null(push_registry_find_seq(r, 2));
  assert_int_equal(push_registry_next_expiry(r), NOW + 200);

  /* Two at once come one per call, oldest Seq first. */
  t = push_registry_take_expired(r, NOW + 1000);
  assert_ptr_equal(t, p1);
  push_free(t, NULL);
  t = push_registry_take_expired(r, NOW + 1000);
  assert_ptr_equal(t, p3);
  push_free(t, NULL);
  /* A revoked push left in the registry is taken at its expiry and stays "revoked". */
  assert_int_equal(push_registry_next_expiry(r), NOW + 500);
  t = push_registry_take_expired(r, NOW + 1000);
  assert_ptr_equal(t, p4);
  assert_int_equal(t->state, PUSH_REVOKED);
  push_free(t, NULL);
  assert_int_equal(push_registry_count(r), 0);
  assert_int_equal(push_registry_next_expiry(r), INT64_MAX);

  /* A push marked expired by state goes at once, whatever the clock says. */
  push *p5 = add_push(r, 5, 500, uids, 1);
  assert_int_equal(push_registry_next_seq(r), 6);
  p5->state = PUSH_EXPIRED;
  assert_ptr_equal(push_registry_take_expired(r, NOW), p5);
  push_free(p5, NULL);

  /* remove (revoke) of a middle push keeps both lookups right. */
  push *a = add_push(r, 10, 50, uids, 1);
  push *b = add_push(r, 11, 50, uids, 1);
  push *c = add_push(r, 12, 50, uids, 1);
  push_registry_remove(r, b);
  push_free(b, NULL);
  assert_ptr_equal(push_registry_find_seq(r, 10), a);
  assert_null(push_registry_find_seq(r, 11));
  assert_ptr_equal(push_registry_find_seq(r, 12), c);
  assert_ptr_equal(push_registry_find_task(r, a->task_id), a);
  assert_ptr_equal(push_registry_find_task(r, c->task_id), c);
  push_registry_free(r, NULL);
}

static void test_retries(void **state) {
  push_registry *r = push_registry_new();
  const int64_t t0 = NOW;
  assert_null(push_registry_seen(r, "admin", 42, t0));
  assert_int_equal(push_registry_remember(r, "admin", 42, "task_a", t0), 0);
  assert_int_equal(push_registry_remember(r, "u1", 42, "task_b", t0 + 10), 0);
  assert_int_equal(push_registry_remember(r, "admin", 43, "task_c", t0 + 20), 0);

  assert_string_equal(push_registry_seen(r, "admin", 42, t0), "task_a");
  assert_string_equal(push_registry_seen(r, "admin", 42, t0 + PUSH_RETRY_WINDOW_S - 1),
                      "task_a");
  assert_null(push_registry_seen(r, "admin", 42, t0 + PUSH_RETRY_WINDOW_S));
  assert_string_equal(push_registry_seen(r, "u1", 42, t0 + 10), "task_b");
  assert_string_equal(push_registry_seen(r, "admin", 43, t0 + 20), "task_c");
  assert_null(push_registry_seen(r, "u2", 42, t0));
  assert_null(push_registry_seen(r, "admin", 44, t0));
  assert_null(push_registry_seen(r, "admi", 42, t0));

  /* Senders that could blur into the MsgRandom in a naive key stay apart. */
  assert_int_equal(push_registry_remember(r, "1x", 0x2, "task_d", t0), 0);
  assert_int_equal(push_registry_remember(r, "x", 0x21, "task_e", t0), 0);
  assert_string_equal(push_registry_seen(r, "1x", 0x2, t0), "task_d");
  assert_string_equal(push_registry_seen(r, "x", 0x21, t0), "task_e");

  /* A long sender (key beyond the stack buffer). */
  char long_sender[600];
  memset(long_sender, 's', sizeof long_sender - 1);
  long_sender[sizeof long_sender - 1] = '\0';
  assert_int_equal(push_registry_remember(r, long_sender, 7, "task_long", t0), 0);
  assert_string_equal(push_registry_seen(r, long_sender, 7, t0), "task_long");

  /* The sweep keeps records still inside the window and drops the rest. */
  push_registry_sweep_retries(r, t0 + PUSH_RETRY_WINDOW_S + 10);
  assert_null(push_registry_seen(r, "admin", 42, t0));
  assert_null(push_registry_seen(r, "u1", 42, t0 + 10)); /* dropped: exactly 7 days old */
  assert_string_equal(push_registry_seen(r, "admin", 43, t0 + 20), "task_c");
  assert_null(push_registry_seen(r, long_sender, 7, t0));

  /* After the window the same pair may push again: the new record replaces the old. */
  const int64_t later = t0 + PUSH_RETRY_WINDOW_S + 30;
  assert_int_equal(push_registry_remember(r, "admin", 43, "task_f", later), 0);
  assert_string_equal(push_registry_seen(r, "admin", 43, later), "task_f");
  push_registry_sweep_retries(r, t0 + 2 * PUSH_RETRY_WINDOW_S);
  assert_string_equal(push_registry_seen(r, "admin", 43, t0 + 2 * PUSH_RETRY_WINDOW_S),
                      "task_f");
  push_registry_free(r, NULL);
}

/* Many records swept in an interleaved pattern: every survivor must still be found. */
static void test_retries_sweep_many(void **state) {
  push_registry *r = push_registry_new();
  enum { N = 5000 };
  char sender[32], task[32];
  for (uint32_t i = 0; i < N; i++) {
    snprintf(sender, sizeof sender, "user%u", i % 97);
    snprintf(task, sizeof task, "task%u", i);
    /* odd i are old, even i are recent */
    assert_int_equal(push_registry_remember(r, sender, i, task, i % 2 ? NOW : NOW + 1000), 0);
  }
  push_registry_sweep_retries(r, NOW + PUSH_RETRY_WINDOW_S + 1);
  for (uint32_t i = 0; i < N; i++) {
    snprintf(sender, sizeof sender, "user%u", i % 97);
    const char *seen = push_registry_seen(r, sender, i, NOW + 1000);
    if (i % 2) {
      assert_null(seen);
    } else {
      snprintf(task, sizeof task, "task%u", i);
      assert_non_null(seen);
      assert_string_equal(seen, task);
    }
  }
  push_registry_free(r, NULL);
}

static int save_unless_seq_2(push *p, void *ctx) {
  seq_list *l = ctx;
  collect_seq(p, l);
  return p->seq == 2 ? -5 : 0;
}

static void test_each_dirty(void **state) {
  push_registry *r = push_registry_new();
  uint32_t uids[] = {1};
  for (uint64_t seq = 1; seq <= 3; seq++)
    add_push(r, seq, 100, uids, 1);
  assert_int_equal(push_registry_ack(r, 1, 0, 3), 3);

  seq_list l = {0};
  push_registry_each_dirty(r, save_unless_seq_2, &l);
  assert_string_equal(l.text, "1,2"); /* a failed save stops the walk */
  assert_false(push_registry_find_seq(r, 1)->delivered_dirty);
  assert_true(push_registry_find_seq(r, 2)->delivered_dirty);
  assert_true(push_registry_find_seq(r, 3)->delivered_dirty);

  memset(&l, 0, sizeof l);
  push_registry_each_dirty(r, collect_seq, &l);
  assert_string_equal(l.text, "2,3");
  memset(&l, 0, sizeof l);
  push_registry_each_dirty(r, collect_seq, &l);
  assert_string_equal(l.text, ""); /* all clean now */
  push_registry_free(r, NULL);
}

/* Bytes a bitmap holds in containers (CRoaring's own accounting). */
static size_t bitmap_bytes(const roaring_bitmap_t *b) {
  roaring_statistics_t st;
  roaring_bitmap_statistics(b, &st);
  return (size_t)st.n_bytes_array_containers + st.n_bytes_run_containers +
         st.n_bytes_bitset_containers;
}

static size_t portable_size_optimized(const roaring_bitmap_t *b) {
  roaring_bitmap_t *copy = roaring_bitmap_copy(b);
  assert_non_null(copy);
  roaring_bitmap_run_optimize(copy);
  size_t n = roaring_bitmap_portable_size_in_bytes(copy);
  roaring_bitmap_free(copy);
  return n;
}

static void test_ten_million_audience_is_small(void **state) {
  enum { TEN_M = 10000000 };
  push_registry *r = push_registry_new();

  /* "Every account": built one uid at a time, as an index would, so it starts as bitset
  ** containers (about 1.2 MiB); the registry run-optimises it. */
  push *everyone = make_push(1, NOW, 600, NULL, 0);
  uint32_t chunk[4096];
  for (uint32_t base = 0; base < TEN_M; base += 4096) {
    for (uint32_t i = 0; i < 4096; i++)
      chunk[i] = base + i;
    roaring_bitmap_add_many(everyone->audience, base + 4096 <= TEN_M ? 4096 : TEN_M - base,
                            chunk);
  }
  assert_true(bitmap_bytes(everyone->audience) > 1000000);
  assert_int_equal(push_registry_add(r, everyone), 0);

  uint32_t ten[] = {1, 5, 9, 100, 1000, 50000, 70000, 900000, 5000000, 9999999};
  push *few = add_push(r, 2, 600, ten, 10);

  assert_int_equal(push_audience_count(everyone), TEN_M);
  assert_int_equal(push_audience_count(few), 10);
  size_t big = bitmap_bytes(everyone->audience), small = bitmap_bytes(few->audience);
  print_message("audience bytes: 10M accounts %zu, 10 accounts %zu\n", big, small);
  assert_true(big < 4096);
  assert_true(portable_size_optimized(everyone->audience) < 4096);
  assert_true(portable_size_optimized(few->audience) < 4096);

  /* A range-built audience stays small too, and acks into it work. */
  push *ranged = make_push(3, NOW, 600, NULL, 0);
  roaring_bitmap_free(ranged->audience);
  ranged->audience = roaring_bitmap_from_range(0, TEN_M, 1);
  assert_int_equal(push_registry_add(r, ranged), 0);
  assert_true(bitmap_bytes(ranged->audience) < 4096);
  assert_int_equal(push_registry_ack(r, 9999999, 0, 3), 3);
  seq_list l;
  assert_string_equal(pending_of(r, 4242, NOW, &l), "1,3");
  push_registry_free(r, NULL);
}

static int frames_freed;
static void count_frame(void *frame) {
  frames_freed++;
  free(frame);
}

static void test_free_calls_free_frame(void **state) {
  push_registry *r = push_registry_new();
  uint32_t uids[] = {1};
  for (uint64_t seq = 1; seq <= 4; seq++) {
    push *p = add_push(r, seq, seq == 1 ? 10 : 100, uids, 1);
    if (seq != 3)
      p->frame = malloc(16);
  }
  frames_freed = 0;
  push *t = push_registry_take_expired(r, NOW + 10);
  assert_non_null(t);
  push_free(t, count_frame);
  assert_int_equal(frames_freed, 1);
  push_registry_free(r, count_frame);
  assert_int_equal(frames_freed, 3); /* seqs 2 and 4; 3 had no frame */
  push_registry_free(NULL, count_frame);
  push_free(NULL, count_frame);
}

/* Adds and removes in a churning pattern (wrapping the ring, removing front, back and
** middle), checking both lookups and the Seq order against a plain model after each step. */
static void check_against_model(push_registry *r, push **model, size_t n) {
  assert_int_equal(push_registry_count(r), n);
  for (size_t i = 0; i < n; i++) {
    assert_ptr_equal(push_registry_find_seq(r, model[i]->seq), model[i]);
    assert_ptr_equal(push_registry_find_task(r, model[i]->task_id), model[i]);
  }
  seq_list l;
  pending_of(r, 1, NOW, &l);
  char want[512] = "";
  for (size_t i = 0; i < n && strlen(want) < 400; i++) {
    size_t len = strlen(want);
    snprintf(want + len, sizeof want - len, "%s%" PRIu64, len ? "," : "", model[i]->seq);
  }
  if (n <= 60) /* the text buffer holds this many */
    assert_string_equal(l.text, want);
}

static void test_churn_against_model(void **state) {
  push_registry *r = push_registry_new();
  push *model[128];
  size_t n = 0;
  uint64_t seq = 1;
  uint32_t uids[] = {1};
  unsigned rnd = 12345;
  for (int step = 0; step < 3000; step++) {
    rnd = rnd * 1103515245u + 12345u;
    bool add = n < 5 || (n < 60 && (rnd >> 16) % 3 != 0);
    if (add) {
      model[n++] = add_push(r, seq, 100, uids, 1);
      seq += 1 + (rnd >> 8) % 3;
    } else {
      size_t i = (rnd >> 16) % n;
      if (i % 2) {
        push_registry_remove(r, model[i]);
        push_free(model[i], NULL);
      } else {
        model[i]->state = PUSH_EXPIRED;
        push *t = push_registry_take_expired(r, NOW);
        assert_ptr_equal(t, model[i]);
        push_free(t, NULL);
      }
      memmove(&model[i], &model[i + 1], (n - i - 1) * sizeof model[0]);
      n--;
    }
    check_against_model(r, model, n);
  }
  push_registry_free(r, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_and_find),
      cmocka_unit_test(test_task_id_format),
      cmocka_unit_test(test_pending_order_and_filters),
      cmocka_unit_test(test_ack_ranges),
      cmocka_unit_test(test_forget_account),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_retries),
      cmocka_unit_test(test_retries_sweep_many),
      cmocka_unit_test(test_each_dirty),
      cmocka_unit_test(test_ten_million_audience_is_small),
      cmocka_unit_test(test_free_calls_free_frame),
      cmocka_unit_test(test_churn_against_model),
  };
  return cmocka_run_group_tests_name("pushes", tests, NULL, NULL);
}
