/*
** pushes.c — the registry of live pushes and of recent (sender, MsgRandom) retries.
**
** See pushes.h for the contract. What this file guarantees on top of it:
**   - one record per push, whatever its audience: the audience and delivered bitmaps are
**     run-optimised when the push is added, so "everyone" (a run of 10M uids) costs a few
**     KiB, about what a push to 10 accounts costs;
**   - lookups: by Seq O(log n) (binary search), by TaskId O(1) expected (hash map);
**   - a failed add (-ENOMEM, -EINVAL, -EEXIST) leaves the registry as it was.
**
** Layout. Live pushes are few (rate x lifetime, at most some thousands), so plain arrays
** of pointers serve:
**   - `ring`: the pushes in increasing Seq, a power-of-two ring buffer. Pushes arrive in
**     Seq order and mostly expire in that order too, so adding at the back and taking
**     from the front are O(1); a revoke or an out-of-order expiry in the middle shifts
**     the shorter side, O(n) pointer moves with n in the thousands.
**   - `by_task`: the same pushes, unordered; `task_index` (strmap) maps a TaskId to its
**     position here. Removal swaps the last entry into the hole, so positions stay dense
**     and only one map entry moves.
**   - `retries`: (sender, MsgRandom) -> (TaskId, time), dense array + `retry_index`
**     (strmap), removed the same swap-last way. These are many more than pushes (every
**     push of 7 days, MsgLifeTime 0 ones too), so a record is 16 bytes plus one small
**     string allocation.
** Scans (pending, ack, expiry, next_expiry, forget_account) walk the live pushes: O(n),
** fine for n in the thousands and far below the cost of the I/O they lead to.
*/
#include "core/pushes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"

#define RING_MIN_CAPACITY 16u
#define RETRIES_MIN_CAPACITY 64u
/* A retry key is 8 hex digits of MsgRandom followed by the sender. */
#define RETRY_KEY_PREFIX 8
/* Keys up to this long are built on the stack when looking one up. */
#define RETRY_KEY_STACK 256

/* The text of a retry record holds "<key>\0<task_id>\0" in one allocation. */
typedef struct retry_record {
  int64_t when;
  char *text;
} retry_record;

struct push_registry {
  push **ring;          /* capacity `cap`, a power of two; Seq order from `head` */
  push **by_task;       /* capacity `cap`; task_index values index it */
  size_t head;
  size_t count;
  size_t cap;
  strmap task_index;

  retry_record *retries;
  size_t retry_count;
  size_t retry_cap;
  strmap retry_index;

  uint64_t next_seq;
};

/* --- keys for the maps --------------------------------------------------------------- */

static const char *task_key_of(const void *ctx, uint32_t value) {
  const push_registry *r = ctx;
  return r->by_task[value]->task_id;
}

static const char *retry_key_of(const void *ctx, uint32_t value) {
  const push_registry *r = ctx;
  return r->retries[value].text;
}

static const char *retry_task_id(const retry_record *rec) {
  return rec->text + strlen(rec->text) + 1;
}

/* Writes the key of (sender, msg_random) into out (room for RETRY_KEY_PREFIX +
** strlen(sender) + 1 bytes). The fixed-width prefix keeps the pair unambiguous whatever
** bytes the sender holds. */
static void write_retry_key(char *out, const char *sender, uint32_t msg_random) {
  snprintf(out, RETRY_KEY_PREFIX + 1, "%08" PRIx32, msg_random);
  memcpy(out + RETRY_KEY_PREFIX, sender, strlen(sender) + 1);
}

static size_t retry_key_len(const char *sender) { return RETRY_KEY_PREFIX + strlen(sender); }

/* --- the registry ---------------------------------------------------------------------- */

push_registry *push_registry_new(void) {
  push_registry *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  strmap_init(&r->task_index, task_key_of, r);
  strmap_init(&r->retry_index, retry_key_of, r);
  r->next_seq = 1;
  return r;
}

static push **ring_at(const push_registry *r, size_t i) {
  return &r->ring[(r->head + i) & (r->cap - 1)];
}

void push_registry_free(push_registry *r, void (*free_frame)(void *frame)) {
  if (!r)
    return;
  for (size_t i = 0; i < r->count; i++)
    push_free(*ring_at(r, i), free_frame);
  for (size_t i = 0; i < r->retry_count; i++)
    free(r->retries[i].text);
  free(r->ring);
  free(r->by_task);
  free(r->retries);
  strmap_destroy(&r->task_index);
  strmap_destroy(&r->retry_index);
  free(r);
}

uint64_t push_registry_next_seq(const push_registry *r) { return r->next_seq; }

void push_registry_bump_seq(push_registry *r, uint64_t seq) {
  if (seq > r->next_seq)
    r->next_seq = seq;
}

void push_make_task_id(char out[PUSH_TASK_ID_MAX], int64_t time, uint64_t sdkappid,
                       uint64_t seq, uint32_t msg_random) {
  /* At most 16+1+16+1+16+1+8 = 59 characters: always fits. */
  snprintf(out, PUSH_TASK_ID_MAX, "%" PRIx64 "_%" PRIx64 "_%" PRIx64 "_%" PRIx32,
           (uint64_t)time, sdkappid, seq, msg_random);
}

size_t push_registry_count(const push_registry *r) { return r->count; }

/* --- Seq order --------------------------------------------------------------------------- */

/* The position of the first push whose Seq is >= seq (count when there is none). */
static size_t lower_bound(const push_registry *r, uint64_t seq) {
  size_t lo = 0, hi = r->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((*ring_at(r, mid))->seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Doubles both arrays (the ring unrolled to start at 0). Nothing changes on failure. */
static int grow(push_registry *r) {
  size_t cap = r->cap ? r->cap * 2 : RING_MIN_CAPACITY;
  push **ring = malloc(cap * sizeof(push *));
  push **by_task = realloc(r->by_task, cap * sizeof(push *));
  if (by_task)
    r->by_task = by_task;
  if (!ring || !by_task) {
    free(ring);
    return -ENOMEM;
  }
  for (size_t i = 0; i < r->count; i++)
    ring[i] = *ring_at(r, i);
  free(r->ring);
  r->ring = ring;
  r->head = 0;
  r->cap = cap;
  return 0;
}

/* Closes the gap at position i by moving whichever side of it is shorter. */
static void ring_remove_at(push_registry *r, size_t i) {
  if (i < r->count - 1 - i) {
    for (size_t k = i; k > 0; k--)
      *ring_at(r, k) = *ring_at(r, k - 1);
    r->head = (r->head + 1) & (r->cap - 1);
  } else {
    for (size_t k = i; k + 1 < r->count; k++)
      *ring_at(r, k) = *ring_at(r, k + 1);
  }
  r->count--;
}

/* Removes p from by_task and task_index, moving the last entry into its place. */
static void task_remove(push_registry *r, const push *p) {
  uint32_t hole = strmap_remove(&r->task_index, p->task_id);
  uint32_t last = (uint32_t)(r->count - 1);
  if (hole == STRMAP_NONE || hole == last)
    return;
  push *moved = r->by_task[last];
  strmap_remove(&r->task_index, moved->task_id);
  r->by_task[hole] = moved;
  /* Cannot fail: the map just lost two entries, so it has room without growing. */
  (void)strmap_put(&r->task_index, moved->task_id, hole);
}

/* --- adding and finding -------------------------------------------------------------- */

/* Gives p empty bitmaps where it has none and makes its bitmaps as small as they go. */
static int compact_bitmaps(push *p) {
  if (!p->audience)
    p->audience = roaring_bitmap_create();
  if (!p->delivered)
    p->delivered = roaring_bitmap_create();
  if (!p->audience || !p->delivered)
    return -ENOMEM;
  roaring_bitmap_run_optimize(p->audience);
  roaring_bitmap_shrink_to_fit(p->audience);
  roaring_bitmap_run_optimize(p->delivered);
  roaring_bitmap_shrink_to_fit(p->delivered);
  return 0;
}

int push_registry_add(push_registry *r, push *p) {
  if (!p || memchr(p->task_id, '\0', sizeof p->task_id) == NULL || p->task_id[0] == '\0')
    return -EINVAL;
  if (r->count > 0 && (*ring_at(r, r->count - 1))->seq >= p->seq)
    return -EINVAL;
  if (r->count >= STRMAP_NONE - 1u)
    return -ENOMEM;
  if (strmap_get(&r->task_index, p->task_id) != STRMAP_NONE)
    return -EEXIST;
  int rc = compact_bitmaps(p);
  if (rc == 0 && r->count == r->cap)
    rc = grow(r);
  if (rc == 0)
    rc = strmap_put(&r->task_index, p->task_id, (uint32_t)r->count);
  if (rc)
    return rc;
  r->by_task[r->count] = p;
  *ring_at(r, r->count) = p;
  r->count++;
  push_registry_bump_seq(r, p->seq + 1);
  return 0;
}

push *push_registry_find_seq(const push_registry *r, uint64_t seq) {
  size_t i = lower_bound(r, seq);
  if (i == r->count)
    return NULL;
  push *p = *ring_at(r, i);
  return p->seq == seq ? p : NULL;
}

push *push_registry_find_task(const push_registry *r, const char *task_id) {
  uint32_t i = strmap_get(&r->task_index, task_id);
  return i == STRMAP_NONE ? NULL : r->by_task[i];
}

void push_registry_remove(push_registry *r, push *p) {
  size_t i = lower_bound(r, p->seq);
  if (i == r->count || *ring_at(r, i) != p)
    return; /* not ours (already removed): nothing to do */
  task_remove(r, p);
  ring_remove_at(r, i);
}

/* --- receiver side ----------------------------------------------------------------------- */

/* Still deliverable: neither revoked nor expired, by state or by clock. */
static bool is_live(const push *p, int64_t now) {
  return (p->state == PUSH_FANNING_OUT || p->state == PUSH_DONE) && now < p->expires_at;
}

void push_registry_pending(const push_registry *r, uint32_t uid, int64_t now,
                           int (*fn)(push *p, void *ctx), void *ctx) {
  for (size_t i = 0; i < r->count; i++) {
    push *p = *ring_at(r, i);
    if (!is_live(p, now) || !roaring_bitmap_contains(p->audience, uid) ||
        roaring_bitmap_contains(p->delivered, uid))
      continue;
    if (fn(p, ctx) != 0)
      return;
  }
}

/* No clock here: an ack for a push that has just run out of time is harmless, and the push
** goes at the next expiry sweep anyway. */
size_t push_registry_ack(push_registry *r, uint32_t uid, uint64_t after, uint64_t upto) {
  size_t added = 0;
  if (upto <= after)
    return 0;
  for (size_t i = lower_bound(r, after + 1); i < r->count; i++) {
    push *p = *ring_at(r, i);
    if (p->seq > upto)
      break;
    if (p->state != PUSH_FANNING_OUT && p->state != PUSH_DONE)
      continue;
    if (!roaring_bitmap_contains(p->audience, uid))
      continue;
    if (roaring_bitmap_add_checked(p->delivered, uid)) {
      p->delivered_dirty = true;
      added++;
    }
  }
  return added;
}

void push_registry_forget_account(push_registry *r, uint32_t uid) {
  for (size_t i = 0; i < r->count; i++) {
    push *p = *ring_at(r, i);
    roaring_bitmap_remove(p->audience, uid);
    if (roaring_bitmap_remove_checked(p->delivered, uid))
      p->delivered_dirty = true;
  }
}

void push_registry_each_dirty(push_registry *r, int (*fn)(push *p, void *ctx), void *ctx) {
  for (size_t i = 0; i < r->count; i++) {
    push *p = *ring_at(r, i);
    if (!p->delivered_dirty)
      continue;
    if (fn(p, ctx) != 0)
      return; /* the flag stays: the next flush tries again */
    p->delivered_dirty = false;
  }
}

/* --- expiry ------------------------------------------------------------------------------ */

static bool is_expired(const push *p, int64_t now) {
  return now >= p->expires_at || p->state == PUSH_EXPIRED;
}

/* Scans from the oldest: pushes mostly expire in the order they were made, so the first
** candidate is usually at the front, where removal is O(1). */
push *push_registry_take_expired(push_registry *r, int64_t now) {
  for (size_t i = 0; i < r->count; i++) {
    push *p = *ring_at(r, i);
    if (!is_expired(p, now))
      continue;
    task_remove(r, p);
    ring_remove_at(r, i);
    if (p->state != PUSH_REVOKED) /* a revoked push stays reported as revoked */
      p->state = PUSH_EXPIRED;
    return p;
  }
  return NULL;
}

/* Every held push counts, live or not: each must still be taken at its expiry. */
int64_t push_registry_next_expiry(const push_registry *r) {
  int64_t earliest = INT64_MAX;
  for (size_t i = 0; i < r->count; i++) {
    const push *p = *ring_at(r, i);
    if (p->expires_at < earliest)
      earliest = p->expires_at;
  }
  return earliest;
}

/* --- retries ------------------------------------------------------------------------------ */

static bool retry_in_window(const retry_record *rec, int64_t now) {
  return now - rec->when < PUSH_RETRY_WINDOW_S;
}

/* Removes record i, moving the last record into its place (one map entry moves). */
static void retry_remove_at(push_registry *r, size_t i) {
  retry_record gone = r->retries[i];
  size_t last = r->retry_count - 1;
  strmap_remove(&r->retry_index, gone.text);
  if (i != last) {
    retry_record moved = r->retries[last];
    strmap_remove(&r->retry_index, moved.text);
    r->retries[i] = moved;
    /* Cannot fail: the map just lost two entries, so it has room without growing. */
    (void)strmap_put(&r->retry_index, moved.text, (uint32_t)i);
  }
  r->retry_count--;
  free(gone.text);
}

static int retries_reserve_one(push_registry *r) {
  if (r->retry_count < r->retry_cap)
    return 0;
  if (r->retry_cap >= STRMAP_NONE / 2)
    return -ENOMEM;
  size_t cap = r->retry_cap ? r->retry_cap * 2 : RETRIES_MIN_CAPACITY;
  retry_record *grown = realloc(r->retries, cap * sizeof *grown);
  if (!grown)
    return -ENOMEM;
  r->retries = grown;
  r->retry_cap = cap;
  return 0;
}

static char *retry_text_new(const char *sender, uint32_t msg_random, const char *task_id) {
  size_t key_len = retry_key_len(sender);
  size_t task_len = strlen(task_id);
  char *text = malloc(key_len + 1 + task_len + 1);
  if (!text)
    return NULL;
  write_retry_key(text, sender, msg_random);
  memcpy(text + key_len + 1, task_id, task_len + 1);
  return text;
}

/* The record index of (sender, msg_random), or STRMAP_NONE (also when out of memory for
** a very long sender's key, which the caller treats as "not seen"). */
static uint32_t retry_find(const push_registry *r, const char *sender, uint32_t msg_random) {
  char stack_key[RETRY_KEY_STACK];
  size_t len = retry_key_len(sender);
  char *key = len < sizeof stack_key ? stack_key : malloc(len + 1);
  if (!key)
    return STRMAP_NONE;
  write_retry_key(key, sender, msg_random);
  uint32_t i = strmap_get(&r->retry_index, key);
  if (key != stack_key)
    free(key);
  return i;
}

/* A newer record for the same pair replaces the old one (a MsgRandom reused after the
** window; or records loaded oldest first). */
int push_registry_remember(push_registry *r, const char *sender, uint32_t msg_random,
                           const char *task_id, int64_t when) {
  if (!sender)
    sender = "";
  char *text = retry_text_new(sender, msg_random, task_id);
  if (!text)
    return -ENOMEM;
  uint32_t existing = strmap_get(&r->retry_index, text); /* text starts with the key */
  if (existing != STRMAP_NONE) {
    /* Same key, so the map entry stays valid once text is swapped under it. */
    retry_record *rec = &r->retries[existing];
    free(rec->text);
    rec->text = text;
    rec->when = when;
    return 0;
  }
  int rc = retries_reserve_one(r);
  if (rc == 0) {
    r->retries[r->retry_count] = (retry_record){.when = when, .text = text};
    rc = strmap_put(&r->retry_index, text, (uint32_t)r->retry_count);
  }
  if (rc) {
    free(text);
    return rc;
  }
  r->retry_count++;
  return 0;
}

const char *push_registry_seen(const push_registry *r, const char *sender,
                               uint32_t msg_random, int64_t now) {
  uint32_t i = retry_find(r, sender ? sender : "", msg_random);
  if (i == STRMAP_NONE || !retry_in_window(&r->retries[i], now))
    return NULL;
  return retry_task_id(&r->retries[i]);
}

void push_registry_sweep_retries(push_registry *r, int64_t now) {
  size_t i = 0;
  while (i < r->retry_count) {
    if (retry_in_window(&r->retries[i], now))
      i++;
    else
      retry_remove_at(r, i); /* brings the last record to i: look at i again */
  }
}

/* --- one push ---------------------------------------------------------------------------- */

void push_free(push *p, void (*free_frame)(void *frame)) {
  if (!p)
    return;
  if (p->frame && free_frame)
    free_frame(p->frame);
  if (p->audience)
    roaring_bitmap_free(p->audience);
  if (p->delivered)
    roaring_bitmap_free(p->delivered);
  free(p->sender);
  free(p->msg_json);
  free(p);
}

uint64_t push_audience_count(const push *p) {
  return p->audience ? roaring_bitmap_get_cardinality(p->audience) : 0;
}

uint64_t push_delivered_count(const push *p) {
  return p->delivered ? roaring_bitmap_get_cardinality(p->delivered) : 0;
}
