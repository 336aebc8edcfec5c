/*
** auth.c — UserSig checks with a bounded cache of verified sigs. See auth.h.
*/
#include "api/auth.h"

#include <stdlib.h>
#include <string.h>

#include "common/usersig.h"

typedef struct cached_sig {
  char *sig;               /* NULL when the slot is empty */
  size_t len;
  char identifier[64];
  uint64_t sdkappid;
  int64_t expires_at;      /* TLS.time + TLS.expire: valid while now <= expires_at */
} cached_sig;

struct auth_cache {
  cached_sig slots[AUTH_CACHE_SLOTS];
};

auth_cache *auth_cache_new(void) { return calloc(1, sizeof(auth_cache)); }

void auth_cache_free(auth_cache *c)
{
  if (!c) return;
  for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++) free(c->slots[i].sig);
  free(c);
}

/* FNV-1a: the sig is attacker-chosen, but a collision only costs a full verify. */
static size_t slot_of(const char *sig, size_t len)
{
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)sig[i]) * 1099511628211ULL;
  return (size_t)(h % AUTH_CACHE_SLOTS);
}

static const cached_sig *lookup(const auth_cache *c, const char *sig, size_t len)
{
  const cached_sig *e = &c->slots[slot_of(sig, len)];
  if (e->sig && e->len == len && memcmp(e->sig, sig, len) == 0) return e;
  return NULL;
}

static void remember(auth_cache *c, const char *sig, size_t len, const usersig_info *info)
{
  cached_sig *e = &c->slots[slot_of(sig, len)];
  char *copy = malloc(len + 1);
  if (!copy) return;  /* the cache is an optimisation: skip it when memory is short */
  memcpy(copy, sig, len + 1);
  free(e->sig);
  e->sig = copy;
  e->len = len;
  memcpy(e->identifier, info->identifier, sizeof e->identifier);
  e->sdkappid = info->sdkappid;
  /* expire >= 0 (verified); past the end of int64 time the sig never expires. */
  e->expires_at = info->time > INT64_MAX - info->expire ? INT64_MAX : info->time + info->expire;
}

int auth_check(auth_cache *c, const char *key, uint64_t sdkappid, const char *identifier,
               const char *sig, int64_t now)
{
  size_t len = strlen(sig);
  const cached_sig *hit = lookup(c, sig, len);
  if (hit && hit->sdkappid == sdkappid && strcmp(hit->identifier, identifier) == 0)
    return now <= hit->expires_at ? 0 : 70001;

  usersig_info info;
  int rc = usersig_verify(key, sig, len, sdkappid, identifier, now, &info);
  if (rc == 0) remember(c, sig, len, &info);
  return rc;
}
