/*
** iphash.h — the hash of a peer address for the per-address tables (ipcount, ratelimit).
**
** FNV-1a over the address text, seeded by the table's own address (randomised by ASLR),
** so that peers cannot pick addresses that all land in one bucket of every server.
*/
#ifndef IMCAST_NET_IPHASH_H
#define IMCAST_NET_IPHASH_H

#include <stdint.h>

static inline uint64_t ip_hash(const char *ip, const void *table)
{
  uint64_t h = 1469598103934665603ULL ^ ((uint64_t)(uintptr_t)table * 0x9E3779B97F4A7C15ULL);
  for (; *ip; ip++) h = (h ^ (unsigned char)*ip) * 1099511628211ULL;
  return h ^ (h >> 29);
}

#endif
