/*
** fuzz_usersig.c — usersig_verify (and auth_check, its cached front) on any input.
**
** The first byte picks a mode:
**  0  the rest is the sig string as it comes in a URL: usersig_verify must return one of
**     its documented codes, and auth_check (twice: the second may hit the cache) must agree;
**  1  the rest is the JSON inside a sig: the harness gives it a correct TLS.sig (computed
**     from the spec's text, independently of usersig.c) when its fields allow, compresses
**     and encodes it, and checks verify's answer against the contract (0 / 70001 by the
**     clock, 70003 for anything unreadable);
**  2  the rest picks an identifier, time and expire for usersig_gen: what gen makes must
**     verify (0, or 70001 once expired).
** Key, sdkappid, identifier and "now" are fixed except where the mode says otherwise.
*/
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/auth.h"
#include "common/errors.h"
#include "common/usersig.h"
#include "harness.h"

#define NOW 1700000100LL

static auth_cache *cache;

static bool known_code(int rc)
{
  return rc == 0 || rc == 70001 || rc == 70002 || rc == 70003 || rc == 70009 || rc == 70013 ||
         rc == 70014;
}

/* verify and auth_check must agree on a NUL-terminated sig. */
static int verify_all(const char *sig, uint64_t appid, const char *id, int64_t now)
{
  usersig_info info;
  int rc = usersig_verify(FZ_KEY, sig, strlen(sig), appid, id, now, &info);
  if (!known_code(rc)) fz_fail("usersig_verify returned %d", rc);
  if (rc != 70002 && rc != 70003 && strlen(info.identifier) >= sizeof info.identifier)
    fz_fail("info.identifier is not terminated");
  for (int i = 0; i < 2; i++) {
    int cached = auth_check(cache, FZ_KEY, appid, id, sig, now);
    if (cached != rc) fz_fail("auth_check (call %d) says %d, usersig_verify %d", i + 1, cached, rc);
  }
  return rc;
}

static void encode_sig(const unsigned char *z, size_t n, char *out)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-";
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)z[i] << 16 | (i + 1 < n ? (uint32_t)z[i + 1] << 8 : 0) |
                 (i + 2 < n ? z[i + 2] : 0);
    out[k++] = a[v >> 18 & 63];
    out[k++] = a[v >> 12 & 63];
    out[k++] = i + 1 < n ? a[v >> 6 & 63] : '_';
    out[k++] = i + 2 < n ? a[v & 63] : '_';
  }
  out[k] = '\0';
}

/* The spec's signed content and its MAC (base64). */
static void spec_mac(const char *id, json_int_t appid, json_int_t t, json_int_t exp,
                     const char *userbuf, char out[64])
{
  char content[USERSIG_MAX_JSON * 2];
  int n = snprintf(content, sizeof content,
                   "TLS.identifier:%s\nTLS.sdkappid:%lld\nTLS.time:%lld\nTLS.expire:%lld\n", id,
                   (long long)appid, (long long)t, (long long)exp);
  if (userbuf) n += snprintf(content + n, sizeof content - (size_t)n, "TLS.userbuf:%s\n", userbuf);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), FZ_KEY, (int)strlen(FZ_KEY), (unsigned char *)content, (size_t)n, mac, &len);
  EVP_EncodeBlock((unsigned char *)out, mac, 32);
}

static void mode_json(const uint8_t *data, size_t size)
{
  if (size < 2) return;
  int level = data[0] % 10;
  int64_t now = NOW + (int64_t)(data[1] % 5) * 43200 - 86400;
  json_t *obj = json_loadb((const char *)data + 2, size - 2, JSON_REJECT_DUPLICATES, NULL);
  if (!obj) return;
  /* Expected answer, per the contract (rest-api.md §2, usersig.h). */
  const char *id = NULL;
  json_int_t appid = 0, t = 0, exp = 0;
  const char *userbuf = NULL;
  bool readable = false;
  if (json_is_object(obj)) {
    json_t *ver = json_object_get(obj, "TLS.ver"), *jid = json_object_get(obj, "TLS.identifier"),
           *japp = json_object_get(obj, "TLS.sdkappid"), *jt = json_object_get(obj, "TLS.time"),
           *jexp = json_object_get(obj, "TLS.expire"), *jub = json_object_get(obj, "TLS.userbuf");
    readable = json_is_string(ver) && strcmp(json_string_value(ver), "2.0") == 0 &&
               json_string_length(ver) == 3 && json_is_string(jid) && json_is_integer(japp) &&
               json_is_integer(jt) && json_is_integer(jexp) && (!jub || json_is_string(jub));
    if (readable) {
      id = json_string_value(jid);
      appid = json_integer_value(japp);
      t = json_integer_value(jt);
      exp = json_integer_value(jexp);
      userbuf = jub ? json_string_value(jub) : NULL;
      readable = strlen(id) == json_string_length(jid) && json_string_length(jid) <= 63 &&
                 appid >= 0 && exp >= 0 && (!jub || strlen(userbuf) == json_string_length(jub));
    }
    if (readable) {
      char mac[64];
      spec_mac(id, appid, t, exp, userbuf, mac);
      json_object_set_new(obj, "TLS.sig", json_string(mac));
      id = json_string_value(json_object_get(obj, "TLS.identifier")); /* may have moved */
    }
  }
  char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) {
    json_decref(obj);
    return;
  }
  size_t tlen = strlen(text);
  uLongf zlen = compressBound(tlen);
  unsigned char *z = malloc(zlen);
  char *sig = malloc(zlen * 4 / 3 + 8);
  if (!z || !sig || compress2(z, &zlen, (unsigned char *)text, tlen, level) != Z_OK) abort();
  encode_sig(z, zlen, sig);
  bool fits = tlen <= USERSIG_MAX_JSON && strlen(sig) <= USERSIG_MAX_LEN;
  char ident[80];
  snprintf(ident, sizeof ident, "%s", readable ? id : FZ_ADMIN);
  int rc = verify_all(sig, readable ? (uint64_t)appid : FZ_SDKAPPID, ident, now);
  int expect = 70003;
  if (fits && readable) {
    bool expired = t <= INT64_MAX - exp && now > t + exp;
    expect = expired ? 70001 : 0;
  }
  if (rc != expect) fz_fail("verify says %d for %s; the contract says %d", rc, text, expect);
  free(z);
  free(sig);
  free(text);
  json_decref(obj);
}

static int64_t read_i64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return (int64_t)v;
}

static void mode_gen(const uint8_t *data, size_t size)
{
  if (size < 17) return;
  int64_t t = read_i64(data), exp = read_i64(data + 8);
  char id[64];
  size_t idlen = size - 16 < sizeof id - 1 ? size - 16 : sizeof id - 1;
  memcpy(id, data + 16, idlen);
  id[idlen] = '\0';
  char sig[USERSIG_MAX_LEN + 1];
  int n = usersig_gen(FZ_KEY, FZ_SDKAPPID, id, t, exp, sig, sizeof sig);
  if (n < 0) return; /* refused: a bad identifier or a negative expire */
  if ((size_t)n != strlen(sig)) fz_fail("usersig_gen returned %d for a %zu-byte sig", n, strlen(sig));
  bool expired = t <= INT64_MAX - exp && NOW > t + exp;
  int rc = verify_all(sig, FZ_SDKAPPID, id, NOW);
  if (rc != (expired ? 70001 : 0))
    fz_fail("a sig from usersig_gen(id '%s', time %lld, expire %lld) verifies as %d", id,
            (long long)t, (long long)exp, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!cache) cache = auth_cache_new();
  if (size < 1) return 0;
  switch (data[0] % 3) {
    case 0: {
      char *sig = strndup((const char *)data + 1, size - 1);
      usersig_info info;
      int raw = usersig_verify(FZ_KEY, (const char *)data + 1, size - 1, FZ_SDKAPPID, FZ_ADMIN,
                               NOW, &info);
      if (!known_code(raw)) fz_fail("usersig_verify returned %d", raw);
      verify_all(sig, FZ_SDKAPPID, FZ_ADMIN, NOW);
      free(sig);
      break;
    }
    case 1:
      mode_json(data + 1, size - 1);
      break;
    default:
      mode_gen(data + 1, size - 1);
      break;
  }
  return 0;
}
