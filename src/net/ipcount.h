/*
** ipcount.h — how many connections each peer address holds (the per-IP cap).
**
** A chained hash table of the addresses that have at least one connection: memory is
** proportional to the distinct peers connected now, never to the history. One owner
** thread; addresses are the text form of conn_peer().
*/
#ifndef IMCAST_IPCOUNT_H
#define IMCAST_IPCOUNT_H

#include <stdint.h>

typedef struct ipcount ipcount;

ipcount *ipcount_new(void);
void ipcount_free(ipcount *t);
/* One more connection from ip; returns its count, or 0 when out of memory. */
uint32_t ipcount_add(ipcount *t, const char *ip);
/* One connection fewer from ip (forgotten at zero). */
void ipcount_remove(ipcount *t, const char *ip);
uint32_t ipcount_get(const ipcount *t, const char *ip);

#endif
