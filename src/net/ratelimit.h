/*
** ratelimit.h — how often each peer address may make a request (the per-IP request cap).
**
** A token bucket per address: `per_second` requests a second on average, with a burst of
** one second's worth (`per_second` at once after a quiet second). Kept in the GCRA form:
** one deadline per address, so refilling costs nothing and a bucket is 8 bytes.
**
** Guarantees:
** - Only addresses whose bucket is not full are remembered: a full bucket is the same as
**   no entry. Entries are on a least-recently-used list and every call drops full ones
**   from its cold end, so memory follows the addresses active within the last second.
** - At most max_entries addresses are kept. A new address past that takes the place of
**   the least recently seen one, which is forgotten: its next request finds a full
**   bucket. So with more than max_entries addresses busy within one second the cap turns
**   lenient for the coldest of them; it never refuses an address for lack of room.
** - Out of memory, a request from an unknown address is allowed and not remembered.
** - A refused request is not counted: it does not push the address's next chance back.
** Time is passed in (nanoseconds of a monotonic clock), so tests drive it. One owner
** thread; addresses are the text form of the peer (conn_peer()).
*/
#ifndef IMCAST_RATELIMIT_H
#define IMCAST_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

/* per_second >= 1 and max_entries >= 1, else NULL (as when out of memory). */
ratelimit *ratelimit_new(uint32_t per_second, size_t max_entries);
void ratelimit_free(ratelimit *rl);

/* One request from ip at now_ns. true: allowed and counted. false: refused, nothing
** counted; *retry_ns (if not NULL) is how long until one would be allowed (> 0). */
bool ratelimit_take(ratelimit *rl, const char *ip, uint64_t now_ns, uint64_t *retry_ns);

/* Addresses remembered now (for tests and memory accounting). */
size_t ratelimit_entries(const ratelimit *rl);

#endif
