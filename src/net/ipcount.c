/*
** ipcount.c — per-address connection counts. See ipcount.h.
*/
#include "net/ipcount.h"
#include "net/iphash.h"

#include <stdlib.h>
#include <string.h>

typedef struct ip_entry {
  struct ip_entry *next;
  uint32_t count;
  char ip[];
} ip_entry;

struct ipcount {
  ip_entry **buckets;
  size_t n_buckets;     /* power of two */
  size_t n_entries;
};

ipcount *ipcount_new(void)
{
  ipcount *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->n_buckets = 256;
  t->buckets = calloc(t->n_buckets, sizeof(ip_entry *));
  if (!t->buckets) {
    free(t);
    return NULL;
  }
  return t;
}

void ipcount_free(ipcount *t)
{
  if (!t) return;
  for (size_t i = 0; i < t->n_buckets; i++)
    for (ip_entry *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  free(t->buckets);
  free(t);
}

static ip_entry **slot_of(const ipcount *t, const char *ip)
{
  ip_entry **p = &t->buckets[ip_hash(ip, t) & (t->n_buckets - 1)];
  while (*p && strcmp((*p)->ip, ip) != 0) p = &(*p)->next;
  return p;
}

static void grow(ipcount *t)
{
  size_t n = t->n_buckets * 2;
  ip_entry **fresh = calloc(n, sizeof(ip_entry *));
  if (!fresh) return;   /* longer chains, still correct */
  for (size_t i = 0; i < t->n_buckets; i++)
    for (ip_entry *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t b = ip_hash(e->ip, t) & (n - 1);
      e->next = fresh[b];
      fresh[b] = e;
    }
  free(t->buckets);
  t->buckets = fresh;
  t->n_buckets = n;
}

uint32_t ipcount_add(ipcount *t, const char *ip)
{
  ip_entry **p = slot_of(t, ip);
  if (*p) return ++(*p)->count;
  size_t len = strlen(ip) + 1;
  ip_entry *e = malloc(sizeof *e + len);
  if (!e) return 0;
  e->next = NULL;
  e->count = 1;
  memcpy(e->ip, ip, len);
  *p = e;
  if (++t->n_entries > t->n_buckets) grow(t);
  return 1;
}

void ipcount_remove(ipcount *t, const char *ip)
{
  ip_entry **p = slot_of(t, ip);
  ip_entry *e = *p;
  if (!e || --e->count > 0) return;
  *p = e->next;
  free(e);
  t->n_entries--;
}

uint32_t ipcount_get(const ipcount *t, const char *ip)
{
  ip_entry **p = slot_of(t, ip);
  return *p ? (*p)->count : 0;
}
