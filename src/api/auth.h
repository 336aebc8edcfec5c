/*
** auth.h — who is calling: UserSig checks for the REST API, with a cache of verified sigs.
**
** A verified sig is remembered (keyed by the whole sig string) with its identifier,
** sdkappid and absolute expiry, so repeated calls skip the inflate and HMAC. The cache
** can never let a wrong sig through: a hit must match the sig byte for byte, the URL's
** identifier and sdkappid, and still be unexpired; anything else is verified in full.
** It is bounded (AUTH_CACHE_SLOTS entries, direct-mapped: a new sig replaces the one in
** its slot). Threads: one owner.
*/
#ifndef IMCAST_AUTH_H
#define IMCAST_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_CACHE_SLOTS 4096

typedef struct auth_cache auth_cache;

auth_cache *auth_cache_new(void);
void auth_cache_free(auth_cache *c);

/*
** Checks that `sig` is a valid UserSig of `identifier` for app `sdkappid` at time now,
** signed with key. Returns 0 or the Tencent code (70001, 70002, 70003, 70009, 70013,
** 70014), as usersig_verify does.
*/
int auth_check(auth_cache *c, const char *key, uint64_t sdkappid, const char *identifier,
               const char *sig, int64_t now);

#endif
