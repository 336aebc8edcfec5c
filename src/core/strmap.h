/*
** strmap.h — a compact open-addressing hash map from strings to uint32 values.
**
** The map does not store its keys. A slot holds only the key's 32-bit hash and the value
** (8 bytes), and the owner supplies key_of(ctx, value), which returns the string the value
** was put under. The strings live once, in the records that own them (an account block,
** an interned tag), so a map of 10M UserIDs costs 8 bytes a slot and no string copies.
**
** Guarantees: linear probing with backward-shift deletion (no tombstones, so lookups stay
** short however much the map churns); the load factor stays at or below 3/4; get, put and
** remove are O(1) expected. A failed put (-ENOMEM) leaves the map unchanged.
** The owner guarantees: key_of(ctx, v) returns the key v was put under for as long as v is
** in the map (so each value belongs to exactly one key), and STRMAP_NONE is never a value.
** Keys are compared with strcmp. Not thread-safe; the owner serialises calls.
** Hashing is unseeded: the keys come from authenticated admins, not from the open network.
*/
#ifndef IMCAST_STRMAP_H
#define IMCAST_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define STRMAP_NONE UINT32_MAX

typedef const char *(*strmap_key_fn)(const void *ctx, uint32_t value);

typedef struct strmap_slot {
  uint32_t hash;
  uint32_t value; /* STRMAP_NONE marks an empty slot */
} strmap_slot;

typedef struct strmap {
  strmap_slot *slots;  /* NULL until the first put */
  uint32_t capacity;   /* 0 or a power of two */
  uint32_t count;
  strmap_key_fn key_of;
  const void *ctx;
} strmap;

/* An empty map; it allocates nothing until the first put. */
void strmap_init(strmap *m, strmap_key_fn key_of, const void *ctx);
/* Frees the slots (the keys belong to the owner). The map may be re-initialised. */
void strmap_destroy(strmap *m);

/* The value stored under key, or STRMAP_NONE. */
uint32_t strmap_get(const strmap *m, const char *key);
/* Stores value under key. Returns 0, -EEXIST if key is present, -EINVAL if value is
** STRMAP_NONE, -ENOMEM. */
int strmap_put(strmap *m, const char *key, uint32_t value);
/* Removes key. Returns the value it had, or STRMAP_NONE if it was absent. */
uint32_t strmap_remove(strmap *m, const char *key);
/* Makes room for n entries in total so that loading them rehashes no more. 0 or -ENOMEM. */
int strmap_reserve(strmap *m, size_t n);

size_t strmap_count(const strmap *m);
/* Bytes of slots held (the map's whole footprint apart from the struct itself). */
size_t strmap_memory_bytes(const strmap *m);
/* The hash the map uses; exposed for tests. */
uint32_t strmap_hash(const char *key);

#endif
