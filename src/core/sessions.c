/*
** sessions.c — the online registry. See sessions.h.
**
** uid -> first session lives in an open-addressing table (linear probing, backward-shift
** deletion, load <= 1/2): online accounts are few next to all accounts, so a dense array
** indexed by uid would waste 8 bytes per account.
*/
#include "core/sessions.h"

#include <errno.h>
#include <stdlib.h>

typedef struct slot {
  uint32_t uid;
  session *first;     /* NULL marks an empty slot */
} slot;

struct sessions {
  slot *slots;
  uint32_t capacity;  /* power of two */
  uint32_t used;
  size_t total;
  roaring_bitmap_t *online;
};

static uint32_t hash_uid(uint32_t uid)
{
  uid ^= uid >> 16;
  uid *= 0x7feb352dU;
  uid ^= uid >> 15;
  uid *= 0x846ca68bU;
  return uid ^ (uid >> 16);
}

sessions *sessions_new(void)
{
  sessions *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->capacity = 64;
  r->slots = calloc(r->capacity, sizeof(slot));
  r->online = roaring_bitmap_create();
  if (!r->slots || !r->online) {
    sessions_free(r);
    return NULL;
  }
  return r;
}

void sessions_free(sessions *r)
{
  if (!r) return;
  free(r->slots);
  if (r->online) roaring_bitmap_free(r->online);
  free(r);
}

static slot *find_slot(const sessions *r, uint32_t uid)
{
  uint32_t mask = r->capacity - 1;
  for (uint32_t i = hash_uid(uid) & mask;; i = (i + 1) & mask) {
    slot *s = &r->slots[i];
    if (!s->first || s->uid == uid) return s;
  }
}

static int grow(sessions *r)
{
  slot *old = r->slots;
  uint32_t old_cap = r->capacity;
  slot *fresh = calloc((size_t)old_cap * 2, sizeof(slot));
  if (!fresh) return -ENOMEM;
  r->slots = fresh;
  r->capacity = old_cap * 2;
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i].first) *find_slot(r, old[i].uid) = old[i];
  free(old);
  return 0;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void delete_slot(sessions *r, slot *hole)
{
  uint32_t mask = r->capacity - 1;
  uint32_t i = (uint32_t)(hole - r->slots);
  for (uint32_t j = (i + 1) & mask; r->slots[j].first; j = (j + 1) & mask) {
    uint32_t home = hash_uid(r->slots[j].uid) & mask;
    /* Move j into the hole unless its home lies cyclically in (i, j]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      r->slots[i] = r->slots[j];
      i = j;
    }
  }
  r->slots[i].first = NULL;
  r->used--;
}

int sessions_add(sessions *r, session *s)
{
  if ((r->used + 1) * 2 > r->capacity && grow(r) != 0) return -ENOMEM;
  slot *sl = find_slot(r, s->uid);
  s->prev = NULL;
  s->next = sl->first;
  if (sl->first) {
    sl->first->prev = s;
  } else {
    sl->uid = s->uid;
    r->used++;
    roaring_bitmap_add(r->online, s->uid);
  }
  sl->first = s;
  r->total++;
  return 0;
}

void sessions_remove(sessions *r, session *s)
{
  slot *sl = find_slot(r, s->uid);
  if (s->prev) s->prev->next = s->next;
  else sl->first = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  r->total--;
  if (!sl->first) {
    sl->first = s;       /* delete_slot expects an occupied slot */
    delete_slot(r, sl);
    roaring_bitmap_remove(r->online, s->uid);
  }
}

session *sessions_of(const sessions *r, uint32_t uid) { return find_slot(r, uid)->first; }

size_t sessions_count_of(const sessions *r, uint32_t uid)
{
  size_t n = 0;
  for (session *s = sessions_of(r, uid); s; s = s->next) n++;
  return n;
}

const roaring_bitmap_t *sessions_online(const sessions *r) { return r->online; }
size_t sessions_total(const sessions *r) { return r->total; }
