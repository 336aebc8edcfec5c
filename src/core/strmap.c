/*
** strmap.c — open-addressing string → uint32 map whose keys live with their owner.
**
** See strmap.h for the contract. Layout: a power-of-two array of {hash, value} slots,
** linear probing from hash & mask. Deleting shifts later members of the probe run back
** into the hole instead of leaving a tombstone, so the table never fills with dead slots.
*/
#include "core/strmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STRMAP_MIN_CAPACITY 16u
#define STRMAP_MAX_CAPACITY (1u << 31)
/* Returned by find_index when the key is absent; no real index reaches it. */
#define NO_INDEX UINT32_MAX

uint32_t strmap_hash(const char *key) {
  /* FNV-1a over the bytes, then a multiply-xorshift finish: FNV's low bits are weak and
  ** the low bits are exactly what picks the slot. */
  uint64_t h = 0xcbf29ce484222325u;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3u;
  }
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93u;
  h ^= h >> 32;
  return (uint32_t)h;
}

void strmap_init(strmap *m, strmap_key_fn key_of, const void *ctx) {
  m->slots = NULL;
  m->capacity = 0;
  m->count = 0;
  m->key_of = key_of;
  m->ctx = ctx;
}

void strmap_destroy(strmap *m) {
  free(m->slots);
  m->slots = NULL;
  m->capacity = 0;
  m->count = 0;
}

static bool slot_is_empty(const strmap_slot *s) { return s->value == STRMAP_NONE; }

static uint32_t find_index(const strmap *m, const char *key, uint32_t hash) {
  if (m->capacity == 0)
    return NO_INDEX;
  uint32_t mask = m->capacity - 1;
  /* Terminates: the load factor keeps at least a quarter of the slots empty. */
  for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
    const strmap_slot *s = &m->slots[i];
    if (slot_is_empty(s))
      return NO_INDEX;
    if (s->hash == hash && strcmp(m->key_of(m->ctx, s->value), key) == 0)
      return i;
  }
}

/* Puts a slot known not to be present; used by put and by rehashing. */
static void place(strmap_slot *slots, uint32_t capacity, strmap_slot entry) {
  uint32_t mask = capacity - 1;
  uint32_t i = entry.hash & mask;
  while (!slot_is_empty(&slots[i]))
    i = (i + 1) & mask;
  slots[i] = entry;
}

static int rehash(strmap *m, uint32_t new_capacity) {
  strmap_slot *slots = malloc((size_t)new_capacity * sizeof *slots);
  if (!slots)
    return -ENOMEM;
  /* Every byte 0xff makes every value STRMAP_NONE: all slots empty. */
  memset(slots, 0xff, (size_t)new_capacity * sizeof *slots);
  for (uint32_t i = 0; i < m->capacity; i++)
    if (!slot_is_empty(&m->slots[i]))
      place(slots, new_capacity, m->slots[i]);
  free(m->slots);
  m->slots = slots;
  m->capacity = new_capacity;
  return 0;
}

/* The smallest capacity that holds n entries within the 3/4 load factor, or 0 if none. */
static uint32_t capacity_for(size_t n) {
  uint64_t capacity = STRMAP_MIN_CAPACITY;
  while (capacity * 3 / 4 < n) {
    capacity *= 2;
    if (capacity > STRMAP_MAX_CAPACITY)
      return 0;
  }
  return (uint32_t)capacity;
}

int strmap_reserve(strmap *m, size_t n) {
  uint32_t capacity = capacity_for(n);
  if (capacity == 0)
    return -ENOMEM;
  if (capacity <= m->capacity)
    return 0;
  return rehash(m, capacity);
}

uint32_t strmap_get(const strmap *m, const char *key) {
  uint32_t i = find_index(m, key, strmap_hash(key));
  return i == NO_INDEX ? STRMAP_NONE : m->slots[i].value;
}

int strmap_put(strmap *m, const char *key, uint32_t value) {
  if (value == STRMAP_NONE)
    return -EINVAL;
  uint32_t hash = strmap_hash(key);
  if (find_index(m, key, hash) != NO_INDEX)
    return -EEXIST;
  int rc = strmap_reserve(m, (size_t)m->count + 1);
  if (rc)
    return rc;
  place(m->slots, m->capacity, (strmap_slot){.hash = hash, .value = value});
  m->count++;
  return 0;
}

/* Empties slot `hole`, then pulls back later members of its probe run that would otherwise
** become unreachable: an entry at j may fill the hole only if the hole lies on its probe
** path, i.e. cyclically within [home(j), j). */
static void erase_at(strmap *m, uint32_t hole) {
  uint32_t mask = m->capacity - 1;
  for (uint32_t j = (hole + 1) & mask; !slot_is_empty(&m->slots[j]); j = (j + 1) & mask) {
    uint32_t home = m->slots[j].hash & mask;
    uint32_t home_to_j = (j - home) & mask;
    uint32_t hole_to_j = (j - hole) & mask;
    if (hole_to_j <= home_to_j) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole].value = STRMAP_NONE;
}

uint32_t strmap_remove(strmap *m, const char *key) {
  uint32_t i = find_index(m, key, strmap_hash(key));
  if (i == NO_INDEX)
    return STRMAP_NONE;
  uint32_t value = m->slots[i].value;
  erase_at(m, i);
  m->count--;
  return value;
}

size_t strmap_count(const strmap *m) { return m->count; }

size_t strmap_memory_bytes(const strmap *m) { return (size_t)m->capacity * sizeof(strmap_slot); }
