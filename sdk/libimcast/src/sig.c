/*
** sig.c — the public UserSig functions: thin wrappers of src/common/usersig.c.
**
** imcastd verifies sigs with that very file, so a sig made here is accepted there and a
** verdict here is the server's verdict (same checks, same order, same codes). Thread-safe:
** no state.
*/
#include <string.h>
#include <time.h>

#include "common/usersig.h"
#include "sdk_internal.h"

_Static_assert(sizeof(((imcast_usersig_info *)0)->identifier) ==
                   sizeof(((usersig_info *)0)->identifier),
               "imcast_usersig_info mirrors usersig_info");

int imcast_usersig_gen_at(const char *key, uint64_t sdkappid, const char *identifier,
                          int64_t now, int64_t expire, char *out, size_t outlen)
{
  return usersig_gen(key, sdkappid, identifier, now, expire, out, outlen);
}

int imcast_usersig_gen(const char *key, uint64_t sdkappid, const char *identifier,
                       int64_t expire, char *out, size_t outlen)
{
  return usersig_gen(key, sdkappid, identifier, (int64_t)time(NULL), expire, out, outlen);
}

int imcast_usersig_verify_at(const char *key, const char *sig, uint64_t sdkappid,
                             const char *identifier, int64_t now, imcast_usersig_info *info)
{
  if (info != NULL)
    memset(info, 0, sizeof *info);
  if (key == NULL || identifier == NULL)
    return 70003;
  usersig_info raw; /* zeroed by usersig_verify, filled when the sig decodes */
  int rc = usersig_verify(key, sig, sig ? strlen(sig) : 0, sdkappid, identifier, now, &raw);
  if (info != NULL) {
    memcpy(info->identifier, raw.identifier, sizeof info->identifier);
    info->sdkappid = raw.sdkappid;
    info->time = raw.time;
    info->expire = raw.expire;
  }
  return rc;
}

int imcast_usersig_verify(const char *key, const char *sig, uint64_t sdkappid,
                          const char *identifier, imcast_usersig_info *info)
{
  return imcast_usersig_verify_at(key, sig, sdkappid, identifier, (int64_t)time(NULL), info);
}
