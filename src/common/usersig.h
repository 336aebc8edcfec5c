/*
** usersig.h — Tencent IM UserSig v2 (TLSSigAPIv2): make one, and verify one.
**
** A UserSig is base64url'(zlib(JSON{TLS.ver, TLS.identifier, TLS.sdkappid, TLS.time,
** TLS.expire, TLS.sig})) where TLS.sig = base64(HMAC-SHA256(key, content)) and base64url'
** is standard base64 with '+'->'*', '/'->'-', '='->'_'. The exact signed content is in
** ../spec/rest-api.md §2. The server and the admin SDK share this code.
**
** Guarantees: verification never allocates more than a small fixed amount however the sig
** is built (inflation stops at USERSIG_MAX_JSON bytes: zip bombs are refused without being
** inflated), compares the HMAC in constant time, and returns Tencent's error codes.
** Thread-safe: no global state.
*/
#ifndef IMCAST_USERSIG_H
#define IMCAST_USERSIG_H

#include <stddef.h>
#include <stdint.h>

/* Inflated JSON larger than this is malformed (70003). Real sigs inflate to ~200 bytes. */
#define USERSIG_MAX_JSON 4096
/* Longest UserSig string accepted; longer is malformed (70003) without decoding it. */
#define USERSIG_MAX_LEN 8192

typedef struct usersig_info {
  char identifier[64];  /* TLS.identifier (UserIDs are at most 32 bytes) */
  uint64_t sdkappid;
  int64_t time;         /* TLS.time, unix seconds */
  int64_t expire;       /* TLS.expire, seconds */
} usersig_info;

/*
** Makes a UserSig for `identifier` valid from `now` for `expire` seconds, signed with
** `key` (the app's secret key string). Writes a NUL-terminated string into out.
** Returns its length, or -1 if out (outlen bytes) is too small or an argument is bad.
*/
int usersig_gen(const char *key, uint64_t sdkappid, const char *identifier,
                int64_t now, int64_t expire, char *out, size_t outlen);

/*
** Verifies `sig` (already percent-decoded) against `key` for the given sdkappid and
** identifier at time `now`. Returns 0 when valid, else one of 70001 (expired, i.e.
** now > time + expire), 70002 (empty), 70003 (undecodable, not zlib, not JSON, fields
** missing or of the wrong type, negative expire, too large), 70009 (HMAC mismatch),
** 70013 (identifier differs), 70014 (sdkappid differs). The checks run in this order:
** decode (70002/70003), sdkappid (70014), identifier (70013), HMAC (70009), expiry (70001).
** When info is not NULL and the sig decodes, info receives its fields (even on error).
*/
int usersig_verify(const char *key, const char *sig, size_t siglen, uint64_t sdkappid,
                   const char *identifier, int64_t now, usersig_info *info);

#endif
