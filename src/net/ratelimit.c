/*
** ratelimit.c — per-address token buckets. See ratelimit.h.
**
** GCRA: an address's entry holds `ready`, the time its bucket is full again. A request
** costs one interval (1 s / per_second) and is allowed while `ready` is at most
** tolerance (burst - 1 intervals) ahead of now; it then moves `ready` one interval on
** (from now, if `ready` was already past). An entry with ready <= now is a full bucket.
** An address not seen for a second is always full (ready <= its last request + burst
** intervals <= + 1 s), so the sweep from the cold end keeps only the last second's peers.
*/
#include "net/ratelimit.h"
#include "net/iphash.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_SECOND 1000000000ULL
#define FIRST_BUCKETS 64

typedef struct rl_entry {
  struct rl_entry *chain;          /* next in its hash bucket */
  struct rl_entry *older, *newer;  /* least-recently-used list */
  uint64_t ready;                  /* when the bucket is full again */
  char ip[];
} rl_entry;

struct ratelimit {
  rl_entry **buckets;
  size_t n_buckets;                /* power of two */
  size_t n_entries, max_entries;
  rl_entry *coldest, *hottest;
  uint64_t interval_ns;            /* what one request costs */
  uint64_t tolerance_ns;           /* how far ahead of now `ready` may be: the burst */
};

ratelimit *ratelimit_new(uint32_t per_second, size_t max_entries)
{
  if (per_second == 0 || max_entries == 0) return NULL;
  ratelimit *rl = calloc(1, sizeof *rl);
  if (!rl) return NULL;
  rl->n_buckets = FIRST_BUCKETS;
  rl->buckets = calloc(rl->n_buckets, sizeof(rl_entry *));
  if (!rl->buckets) {
    free(rl);
    return NULL;
  }
  rl->max_entries = max_entries;
  rl->interval_ns = NS_PER_SECOND / per_second;
  rl->tolerance_ns = rl->interval_ns * (per_second - 1);
  return rl;
}

void ratelimit_free(ratelimit *rl)
{
  if (!rl) return;
  for (rl_entry *e = rl->coldest, *next; e; e = next) {
    next = e->newer;
    free(e);
  }
  free(rl->buckets);
  free(rl);
}

size_t ratelimit_entries(const ratelimit *rl) { return rl->n_entries; }

static rl_entry **slot_of(const ratelimit *rl, const char *ip)
{
  rl_entry **p = &rl->buckets[ip_hash(ip, rl) & (rl->n_buckets - 1)];
  while (*p && strcmp((*p)->ip, ip) != 0) p = &(*p)->chain;
  return p;
}

static void lru_unlink(ratelimit *rl, rl_entry *e)
{
  if (e->older) e->older->newer = e->newer;
  else rl->coldest = e->newer;
  if (e->newer) e->newer->older = e->older;
  else rl->hottest = e->older;
  e->older = e->newer = NULL;
}

static void lru_push_hot(ratelimit *rl, rl_entry *e)
{
  e->older = rl->hottest;
  e->newer = NULL;
  if (rl->hottest) rl->hottest->newer = e;
  else rl->coldest = e;
  rl->hottest = e;
}

/* Unhooks e from its bucket's chain (found by pointer: no string compares). */
static void unchain(ratelimit *rl, rl_entry *e)
{
  rl_entry **p = &rl->buckets[ip_hash(e->ip, rl) & (rl->n_buckets - 1)];
  while (*p && *p != e) p = &(*p)->chain;
  if (*p) *p = e->chain;
}

/* Drops the least recently seen address (if any). */
static void forget_coldest(ratelimit *rl)
{
  rl_entry *e = rl->coldest;
  if (!e) return;
  rl->coldest = e->newer;
  if (rl->coldest) rl->coldest->older = NULL;
  else rl->hottest = NULL;
  unchain(rl, e);
  free(e);
  rl->n_entries--;
}

/* Full buckets at the cold end are the same as no entry: dropping them costs nothing. */
static void sweep(ratelimit *rl, uint64_t now)
{
  while (rl->coldest && rl->coldest->ready <= now) forget_coldest(rl);
}

static void grow(ratelimit *rl)
{
  size_t n = rl->n_buckets * 2;
  rl_entry **fresh = calloc(n, sizeof(rl_entry *));
  if (!fresh) return;   /* longer chains, still correct */
  for (rl_entry *e = rl->coldest; e; e = e->newer) {
    size_t b = ip_hash(e->ip, rl) & (n - 1);
    e->chain = fresh[b];
    fresh[b] = e;
  }
  free(rl->buckets);
  rl->buckets = fresh;
  rl->n_buckets = n;
}

/* A new address with one request counted; false when out of memory. */
static bool remember(ratelimit *rl, const char *ip, uint64_t now)
{
  if (rl->n_entries >= rl->max_entries) forget_coldest(rl);   /* see ratelimit.h */
  size_t len = strlen(ip) + 1;
  rl_entry *e = malloc(sizeof *e + len);
  if (!e) return false;
  memcpy(e->ip, ip, len);
  e->ready = now + rl->interval_ns;
  rl_entry **p = slot_of(rl, ip);
  e->chain = *p;
  *p = e;
  lru_push_hot(rl, e);
  if (++rl->n_entries > rl->n_buckets) grow(rl);
  return true;
}

bool ratelimit_take(ratelimit *rl, const char *ip, uint64_t now_ns, uint64_t *retry_ns)
{
  sweep(rl, now_ns);
  rl_entry *e = *slot_of(rl, ip);
  if (!e) {
    remember(rl, ip, now_ns);   /* out of memory: allowed, not remembered */
    return true;
  }
  /* Refused or not, the address is active: the cap's eviction must pick a quiet one. */
  lru_unlink(rl, e);
  lru_push_hot(rl, e);
  if (e->ready > now_ns + rl->tolerance_ns) {
    if (retry_ns) *retry_ns = e->ready - rl->tolerance_ns - now_ns;
    return false;
  }
  e->ready = (e->ready > now_ns ? e->ready : now_ns) + rl->interval_ns;
  return true;
}
