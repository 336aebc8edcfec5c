/*
** test_usersig.c — UserSig v2 make/verify against the shared vectors and hand-built sigs.
**
** The vectors ($IMCAST_TESTDATA/usersig/vectors.json) come from Tencent's own generator
** and from other SDKs' quirks (key order, PHP's \/, Python's spaces, stored blocks,
** percent-encoding) plus hostile inputs (zip bombs, truncation). The hand-built sigs here
** pin down the edges the vectors do not: size caps, field types, userbuf, base64 padding.
** Helpers that build sigs use OpenSSL/zlib directly, not the code under test.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "common/errors.h"
#include "common/usersig.h"

/* The official vector for "administrator": time 1700000000, expire 86400. */
#define ADMIN "administrator"
#define ADMIN_TIME 1700000000
#define ADMIN_EXPIRE 86400
#define ADMIN_NOW 1700000100
#define ADMIN_MAC "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60="
/* That sig's JSON in Tencent's Java/Go key order. */
#define ADMIN_JSON                                                                   \
  "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"administrator\",\"TLS.sdkappid\":1400000000," \
  "\"TLS.expire\":86400,\"TLS.time\":1700000000,\"TLS.sig\":\"" ADMIN_MAC "\"}"

/* Room for any sig the helpers build: base64 of a zlib stream of a <= 8 KiB JSON. */
#define SIG_BUF (USERSIG_MAX_LEN * 2)

static json_t *g_vectors;      /* the whole vectors.json */
static const char *g_key;      /* its "key" */
static uint64_t g_sdkappid;    /* its "sdkappid" */

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */
/* ------------------------------------------------------------------------------------ */

static int load_vectors(void)
{
  const char *dir = getenv("IMCAST_TESTDATA");
  if (dir == NULL || *dir == '\0') {
    fprintf(stderr, "test_usersig: IMCAST_TESTDATA is not set; point it at tests/testdata "
                    "(ctest sets it)\n");
    return -1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/usersig/vectors.json", dir);
  json_error_t err;
  g_vectors = json_load_file(path, 0, &err);
  if (g_vectors == NULL) {
    fprintf(stderr, "test_usersig: cannot load %s: %s (line %d)\n", path, err.text,
            err.line);
    return -1;
  }
  g_key = json_string_value(json_object_get(g_vectors, "key"));
  g_sdkappid = (uint64_t)json_integer_value(json_object_get(g_vectors, "sdkappid"));
  if (g_key == NULL || g_sdkappid == 0 ||
      !json_is_array(json_object_get(g_vectors, "vectors"))) {
    fprintf(stderr, "test_usersig: %s lacks key, sdkappid or vectors\n", path);
    return -1;
  }
  return 0;
}

static int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* What the HTTP layer does to a query value before it reaches usersig_verify. */
static size_t percent_decode(const char *in, char *out, size_t cap)
{
  size_t n = 0;
  for (size_t i = 0; in[i] != '\0'; i++) {
    assert_true(n + 1 < cap);
    int hi = in[i] == '%' ? hex_value(in[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
    if (lo >= 0) {
      out[n++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      out[n++] = in[i];
    }
  }
  out[n] = '\0';
  return n;
}

/* ADMIN_JSON with `spaces` blanks after its '{': same fields, longer text. */
static size_t spaced_admin_json(int spaces, char *out, size_t cap)
{
  int n = snprintf(out, cap, "{%*s%s", spaces, "", &ADMIN_JSON[1]);
  assert_true(n > 0 && (size_t)n < cap);
  return (size_t)n;
}

static void to_url_safe(char *s)
{
  for (; *s; s++)
    *s = *s == '+' ? '*' : *s == '/' ? '-' : *s == '=' ? '_' : *s;
}

/* base64 + the UserSig substitution of arbitrary bytes. */
static void encode_sig(const unsigned char *bytes, size_t len, char *out, size_t cap)
{
  assert_true(4 * ((len + 2) / 3) < cap);
  EVP_EncodeBlock((unsigned char *)out, bytes, (int)len);
  to_url_safe(out);
}

/* A sig wrapping exactly this JSON text (zlib at `level`). */
static void sig_from_json_level(const char *json, size_t len, int level, char *out, size_t cap)
{
  uLongf zlen = compressBound(len);
  unsigned char *z = malloc(zlen);
  assert_non_null(z);
  assert_int_equal(compress2(z, &zlen, (const Bytef *)json, len, level), Z_OK);
  encode_sig(z, zlen, out, cap);
  free(z);
}

static void sig_from_json(const char *json, char *out, size_t cap)
{
  sig_from_json_level(json, strlen(json), Z_DEFAULT_COMPRESSION, out, cap);
}

/* The reverse, to look inside what usersig_gen makes. Returns the JSON length. */
static size_t json_from_sig(const char *sig, char *out, size_t cap)
{
  char b64[SIG_BUF];
  size_t len = strlen(sig);
  assert_true(len < sizeof b64 && len % 4 == 0);
  for (size_t i = 0; i <= len; i++)
    b64[i] = sig[i] == '*' ? '+' : sig[i] == '-' ? '/' : sig[i] == '_' ? '=' : sig[i];
  unsigned char z[SIG_BUF];
  int zlen = EVP_DecodeBlock(z, (const unsigned char *)b64, (int)len);
  assert_true(zlen > 0);
  /* EVP_DecodeBlock counts the padding as zero bytes; zlib would call them trailing data. */
  zlen -= (len > 0 && b64[len - 1] == '=') + (len > 1 && b64[len - 2] == '=');
  uLongf jlen = cap - 1;
  assert_int_equal(uncompress((Bytef *)out, &jlen, z, (uLong)zlen), Z_OK);
  out[jlen] = '\0';
  return jlen;
}

static void mac_b64(const char *key, const char *content, char *out)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)content,
                       strlen(content), mac, &maclen));
  EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
}

static int verify_admin(const char *sig, int64_t now)
{
  return usersig_verify(g_key, sig, strlen(sig), g_sdkappid, ADMIN, now, NULL);
}

static json_t *vector_named(const char *name)
{
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(g_vectors, "vectors"), i, v) {
    if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
      return v;
  }
  fail_msg("no vector named %s", name);
  return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* The shared vectors                                                                   */
/* ------------------------------------------------------------------------------------ */

static int verify_vector(const json_t *v)
{
  const json_t *check = json_object_get(v, "verify");
  const char *sig = json_string_value(json_object_get(v, "usersig"));
  char *decoded = malloc(strlen(sig) + 1);
  assert_non_null(decoded);
  size_t len = strlen(sig);
  if (json_is_true(json_object_get(check, "percent_encoded")))
    len = percent_decode(sig, decoded, strlen(sig) + 1);
  else
    memcpy(decoded, sig, len + 1);
  int rc = usersig_verify(g_key, decoded, len,
                          (uint64_t)json_integer_value(json_object_get(check, "sdkappid")),
                          json_string_value(json_object_get(check, "identifier")),
                          json_integer_value(json_object_get(check, "now")), NULL);
  free(decoded);
  return rc;
}

/* Each vector gives its expected code; every mismatch is reported by name, then we fail. */
static void test_vectors_give_expected_codes(void **state)
{
  size_t i, failures = 0;
  json_t *v;
  json_t *vectors = json_object_get(g_vectors, "vectors");
  assert_true(json_array_size(vectors) > 0);
  json_array_foreach(vectors, i, v) {
    const char *name = json_string_value(json_object_get(v, "name"));
    int expect = (int)json_integer_value(json_object_get(v, "expect"));
    int rc = verify_vector(v);
    if (rc != expect) {
      print_error("vector \"%s\": expected %d, got %d\n", name, expect, rc);
      failures++;
    }
  }
  assert_int_equal(failures, 0);
}

/* The bombs are refused; at least one fits under USERSIG_MAX_LEN, so it is the inflate
** cap that stops it, not the length check. Under ASan an uncapped inflate of the 64 MiB
** one would also be visible as a very slow test. */
static void test_bomb_vectors_are_refused(void **state)
{
  const char *names[] = {"inflate-bomb-small", "inflate-bomb"};
  bool some_fit = false;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    json_t *v = vector_named(names[i]);
    some_fit |= strlen(json_string_value(json_object_get(v, "usersig"))) <= USERSIG_MAX_LEN;
    assert_int_equal(verify_vector(v), IMC_E_SIG_MALFORMED);
  }
  assert_true(some_fit);
}

/* A bomb made here: 4 MiB of spaces inside a JSON object. Deflate tops out near 1000:1,
** so this is about as big as a bomb can be and still fit under USERSIG_MAX_LEN. */
static void test_handmade_bomb_is_refused(void **state)
{
  size_t len = 4u << 20;
  char *json = malloc(len);
  assert_non_null(json);
  memset(json, ' ', len);
  json[0] = '{';
  json[len - 1] = '}';
  char *sig = malloc(SIG_BUF * 8);
  assert_non_null(sig);
  sig_from_json_level(json, len, 9, sig, SIG_BUF * 8);
  free(json);
  assert_true(strlen(sig) <= USERSIG_MAX_LEN);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MALFORMED);
  free(sig);
}

static void test_info_is_filled_even_on_error(void **state)
{
  const char *sig = json_string_value(json_object_get(vector_named("official-admin"), "usersig"));
  usersig_info info;
  assert_int_equal(usersig_verify(g_key, sig, strlen(sig), g_sdkappid, "bob", ADMIN_NOW, &info),
                   IMC_E_SIG_IDENTIFIER);
  assert_string_equal(info.identifier, ADMIN);
  assert_int_equal(info.sdkappid, g_sdkappid);
  assert_int_equal(info.time, ADMIN_TIME);
  assert_int_equal(info.expire, ADMIN_EXPIRE);

  memset(&info, 0x5a, sizeof info);
  assert_int_equal(usersig_verify(g_key, "eJ!!", 4, g_sdkappid, ADMIN, ADMIN_NOW, &info),
                   IMC_E_SIG_MALFORMED);
  assert_string_equal(info.identifier, "");  /* cleared, not left as garbage */
}

/* ------------------------------------------------------------------------------------ */
/* usersig_gen                                                                          */
/* ------------------------------------------------------------------------------------ */

static void test_gen_round_trip(void **state)
{
  char sig[512];
  int n = usersig_gen(g_key, g_sdkappid, "user_01", 1700000000, 604800, sig, sizeof sig);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(sig));
  assert_null(strpbrk(sig, "+/="));  /* URL-safe alphabet only */

  usersig_info info;
  assert_int_equal(usersig_verify(g_key, sig, (size_t)n, g_sdkappid, "user_01", 1700000001,
                                  &info), 0);
  assert_string_equal(info.identifier, "user_01");
  assert_int_equal(info.time, 1700000000);
  assert_int_equal(info.expire, 604800);
  assert_int_equal(usersig_verify(g_key, sig, (size_t)n, g_sdkappid + 1, "user_01",
                                  1700000001, NULL), IMC_E_SIG_SDKAPPID);
  assert_int_equal(usersig_verify(g_key, sig, (size_t)n, g_sdkappid, "user_02", 1700000001,
                                  NULL), IMC_E_SIG_IDENTIFIER);
  assert_int_equal(usersig_verify("another key", sig, (size_t)n, g_sdkappid, "user_01",
                                  1700000001, NULL), IMC_E_SIG_MISMATCH);

  /* Identifiers that need JSON escaping still round-trip (content uses the raw text). */
  const char *odd = "a\"b\\c/d \xc3\xa9";
  n = usersig_gen(g_key, g_sdkappid, odd, 1700000000, 60, sig, sizeof sig);
  assert_true(n > 0);
  assert_int_equal(usersig_verify(g_key, sig, (size_t)n, g_sdkappid, odd, 1700000000, NULL), 0);
}

/* Same JSON text, key order and MAC as Tencent's Java/Go generators. */
static void test_gen_matches_tencent_json(void **state)
{
  char sig[512], json[1024];
  assert_true(usersig_gen(g_key, g_sdkappid, ADMIN, ADMIN_TIME, ADMIN_EXPIRE, sig,
                          sizeof sig) > 0);
  json_from_sig(sig, json, sizeof json);
  assert_string_equal(json, ADMIN_JSON);
}

static void test_expiry_boundary(void **state)
{
  char sig[512];
  int n = usersig_gen(g_key, g_sdkappid, ADMIN, 1700000000, 3600, sig, sizeof sig);
  assert_true(n > 0);
  assert_int_equal(verify_admin(sig, 1700000000 + 3600), 0);
  assert_int_equal(verify_admin(sig, 1700000000 + 3600 + 1), IMC_E_SIG_EXPIRED);
  assert_int_equal(verify_admin(sig, 1700000000), 0);

  /* expire 0: valid only during its own second. */
  n = usersig_gen(g_key, g_sdkappid, ADMIN, 1700000000, 0, sig, sizeof sig);
  assert_true(n > 0);
  assert_int_equal(verify_admin(sig, 1700000000), 0);
  assert_int_equal(verify_admin(sig, 1700000001), IMC_E_SIG_EXPIRED);

  /* time + expire past INT64_MAX must not wrap into the past. */
  n = usersig_gen(g_key, g_sdkappid, ADMIN, INT64_MAX - 10, 100, sig, sizeof sig);
  assert_true(n > 0);
  assert_int_equal(verify_admin(sig, INT64_MAX), 0);
}

static void test_gen_output_too_small(void **state)
{
  char sig[512];
  int n = usersig_gen(g_key, g_sdkappid, ADMIN, ADMIN_TIME, ADMIN_EXPIRE, sig, sizeof sig);
  assert_true(n > 0);
  char exact[512];
  assert_int_equal(usersig_gen(g_key, g_sdkappid, ADMIN, ADMIN_TIME, ADMIN_EXPIRE, exact,
                               (size_t)n), -1);  /* no room for the NUL */
  assert_int_equal(usersig_gen(g_key, g_sdkappid, ADMIN, ADMIN_TIME, ADMIN_EXPIRE, exact, 0),
                   -1);
  assert_int_equal(usersig_gen(g_key, g_sdkappid, ADMIN, ADMIN_TIME, ADMIN_EXPIRE, exact,
                               (size_t)n + 1), n);
  assert_string_equal(exact, sig);
}

static void test_gen_bad_arguments(void **state)
{
  char sig[512];
  char long_id[65];
  memset(long_id, 'x', 64);
  long_id[64] = '\0';
  assert_int_equal(usersig_gen(NULL, 1, "u", 0, 1, sig, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", 1, NULL, 0, 1, sig, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", 1, "u", 0, 1, NULL, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", 1, "", 0, 1, sig, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", 1, long_id, 0, 1, sig, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", 1, "u", 0, -1, sig, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", (uint64_t)INT64_MAX + 1, "u", 0, 1, sig, sizeof sig), -1);
  assert_int_equal(usersig_gen("k", 1, "\xff\xfe", 0, 1, sig, sizeof sig), -1);  /* not UTF-8 */
  long_id[63] = '\0';  /* 63 bytes: the most usersig_info can carry */
  int n = usersig_gen("k", 1, long_id, 0, 1, sig, sizeof sig);
  assert_true(n > 0);
  assert_int_equal(usersig_verify("k", sig, (size_t)n, 1, long_id, 0, NULL), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Length, emptiness, size caps                                                         */
/* ------------------------------------------------------------------------------------ */

static void test_empty_and_too_long(void **state)
{
  assert_int_equal(usersig_verify(g_key, "", 0, g_sdkappid, ADMIN, ADMIN_NOW, NULL),
                   IMC_E_SIG_EMPTY);
  assert_int_equal(usersig_verify(g_key, NULL, 0, g_sdkappid, ADMIN, ADMIN_NOW, NULL),
                   IMC_E_SIG_EMPTY);

  char *sig = malloc(USERSIG_MAX_LEN + 2);
  assert_non_null(sig);
  memset(sig, 'A', USERSIG_MAX_LEN + 1);
  sig[USERSIG_MAX_LEN + 1] = '\0';
  assert_int_equal(usersig_verify(g_key, sig, USERSIG_MAX_LEN + 1, g_sdkappid, ADMIN,
                                  ADMIN_NOW, NULL), IMC_E_SIG_MALFORMED);
  free(sig);
}

/* JSON of exactly USERSIG_MAX_JSON bytes is read; one byte more is refused. */
static void test_json_size_cap_boundary(void **state)
{
  char json[USERSIG_MAX_JSON + 2];
  char sig[SIG_BUF];
  size_t base = strlen(ADMIN_JSON);
  int pad = (int)(USERSIG_MAX_JSON - base);
  assert_int_equal(spaced_admin_json(pad, json, sizeof json), USERSIG_MAX_JSON);
  sig_from_json(json, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), 0);

  assert_int_equal(spaced_admin_json(pad + 1, json, sizeof json), USERSIG_MAX_JSON + 1);
  sig_from_json(json, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MALFORMED);
}

/* Only siglen bytes are read: the sig need not be NUL-terminated. */
static void test_siglen_is_respected(void **state)
{
  char sig[SIG_BUF];
  sig_from_json(ADMIN_JSON, sig, sizeof sig);
  size_t n = strlen(sig);
  strcat(sig, "garbage");
  assert_int_equal(usersig_verify(g_key, sig, n, g_sdkappid, ADMIN, ADMIN_NOW, NULL), 0);
  assert_int_equal(usersig_verify(g_key, sig, n + 7, g_sdkappid, ADMIN, ADMIN_NOW, NULL),
                   IMC_E_SIG_MALFORMED);
  assert_int_equal(usersig_verify(g_key, sig, n - 1, g_sdkappid, ADMIN, ADMIN_NOW, NULL),
                   IMC_E_SIG_MALFORMED);
}

/* ------------------------------------------------------------------------------------ */
/* Base64 and zlib framing                                                              */
/* ------------------------------------------------------------------------------------ */

static size_t trailing_pads(const char *sig)
{
  size_t n = strlen(sig), pads = 0;
  while (pads < n && sig[n - 1 - pads] == '_')
    pads++;
  return pads;
}

/* A valid admin sig whose base64 ends in exactly `pads` padding characters. */
static void admin_sig_with_pads(size_t pads, char *sig, size_t cap)
{
  char json[1024];
  for (int spaces = 0; spaces < 6; spaces++) {
    spaced_admin_json(spaces, json, sizeof json);
    sig_from_json(json, sig, cap);
    if (trailing_pads(sig) == pads)
      return;
  }
  fail_msg("no spacing of the admin JSON gives %zu pads", pads);
}

/* Padding is all or nothing; the standard alphabet is the same bytes. */
static void check_padding_variants(const char *sig)
{
  size_t n = strlen(sig), pads = trailing_pads(sig);
  char v[SIG_BUF];
  assert_true(n + 2 < sizeof v);

  memcpy(v, sig, n - pads);  /* padding left off */
  v[n - pads] = '\0';
  assert_int_equal(verify_admin(v, ADMIN_NOW), 0);

  for (size_t i = 0; i <= n; i++)  /* '+' '/' '=' as themselves */
    v[i] = sig[i] == '*' ? '+' : sig[i] == '-' ? '/' : sig[i] == '_' ? '=' : sig[i];
  assert_int_equal(verify_admin(v, ADMIN_NOW), 0);

  memcpy(v, sig, n);  /* one pad too many */
  memcpy(v + n, "_", 2);
  assert_int_equal(verify_admin(v, ADMIN_NOW), IMC_E_SIG_MALFORMED);

  if (pads == 0) {  /* a lone extra character: 6 bits, not a byte */
    memcpy(v, sig, n);
    memcpy(v + n, "A", 2);
    assert_int_equal(verify_admin(v, ADMIN_NOW), IMC_E_SIG_MALFORMED);
  }
  if (pads == 2) {  /* one of two pads dropped: a partial group */
    memcpy(v, sig, n - 1);
    v[n - 1] = '\0';
    assert_int_equal(verify_admin(v, ADMIN_NOW), IMC_E_SIG_MALFORMED);
  }
}

static void test_base64_variants(void **state)
{
  char sig[SIG_BUF], bad[SIG_BUF];
  admin_sig_with_pads(0, sig, sizeof sig);
  check_padding_variants(sig);
  admin_sig_with_pads(1, sig, sizeof sig);
  check_padding_variants(sig);
  admin_sig_with_pads(2, sig, sizeof sig);
  check_padding_variants(sig);

  size_t n = strlen(sig);
  memcpy(bad, sig, n + 1);  /* padding inside */
  bad[4] = '_';
  assert_int_equal(verify_admin(bad, ADMIN_NOW), IMC_E_SIG_MALFORMED);
  memcpy(bad, sig, n + 1);  /* a space (e.g. a '+' that went through form decoding) */
  bad[10] = ' ';
  assert_int_equal(verify_admin(bad, ADMIN_NOW), IMC_E_SIG_MALFORMED);
  assert_int_equal(verify_admin("A", ADMIN_NOW), IMC_E_SIG_MALFORMED);
  assert_int_equal(verify_admin("eJyrV", ADMIN_NOW), IMC_E_SIG_MALFORMED);  /* 6 stray bits */
  assert_int_equal(verify_admin("____", ADMIN_NOW), IMC_E_SIG_MALFORMED);
}

static void test_zlib_framing(void **state)
{
  size_t len = strlen(ADMIN_JSON);
  uLongf zlen = compressBound(len) + 8;
  unsigned char z[1024];
  char sig[SIG_BUF];
  assert_int_equal(compress2(z, &zlen, (const Bytef *)ADMIN_JSON, len, 6), Z_OK);

  /* Every zlib level, including 0 (stored blocks), verifies. */
  for (int level = 0; level <= 9; level++) {
    sig_from_json_level(ADMIN_JSON, len, level, sig, sizeof sig);
    assert_int_equal(verify_admin(sig, ADMIN_NOW), 0);
  }

  /* Bytes after the end of the stream. */
  memcpy(z + zlen, "xyz", 3);
  encode_sig(z, zlen + 3, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MALFORMED);

  /* A wrong Adler-32 checksum. */
  z[zlen - 1] ^= 1;
  encode_sig(z, zlen, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MALFORMED);
  z[zlen - 1] ^= 1;

  /* Raw deflate without the zlib header. */
  encode_sig(z + 2, zlen - 2, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MALFORMED);

  /* Not compressed at all. */
  encode_sig((const unsigned char *)ADMIN_JSON, len, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MALFORMED);
}

/* ------------------------------------------------------------------------------------ */
/* JSON fields                                                                          */
/* ------------------------------------------------------------------------------------ */

#define F_VER "\"TLS.ver\":\"2.0\""
#define F_ID "\"TLS.identifier\":\"administrator\""
#define F_APP "\"TLS.sdkappid\":1400000000"
#define F_EXP "\"TLS.expire\":86400"
#define F_TIME "\"TLS.time\":1700000000"
#define F_SIG "\"TLS.sig\":\"" ADMIN_MAC "\""

static void test_json_fields(void **state)
{
  static const struct {
    const char *what, *json;
    int expect;
  } cases[] = {
      {"all fields", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG "}", 0},
      {"unknown extra key", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG
                            ",\"x\":[1,{}]}", 0},
      {"escaped identifier", "{" F_VER ",\"TLS.identifier\":\"admin\\u0069strator\"," F_APP
                             "," F_EXP "," F_TIME "," F_SIG "}", 0},
      {"ver 1.0", "{\"TLS.ver\":\"1.0\"," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG "}",
       IMC_E_SIG_MALFORMED},
      {"ver missing", "{" F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG "}",
       IMC_E_SIG_MALFORMED},
      {"ver number", "{\"TLS.ver\":2.0," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG "}",
       IMC_E_SIG_MALFORMED},
      {"identifier missing", "{" F_VER "," F_APP "," F_EXP "," F_TIME "," F_SIG "}",
       IMC_E_SIG_MALFORMED},
      {"identifier number", "{" F_VER ",\"TLS.identifier\":7," F_APP "," F_EXP "," F_TIME
                            "," F_SIG "}", IMC_E_SIG_MALFORMED},
      {"identifier with NUL", "{" F_VER ",\"TLS.identifier\":\"administrator\\u0000x\","
                              F_APP "," F_EXP "," F_TIME "," F_SIG "}", IMC_E_SIG_MALFORMED},
      {"identifier of 64 bytes", "{" F_VER ",\"TLS.identifier\":\"" "0123456789012345678901"
                                 "234567890123456789012345678901234567890123\"," F_APP "," F_EXP
                                 "," F_TIME "," F_SIG "}", IMC_E_SIG_MALFORMED},
      {"sdkappid string", "{" F_VER "," F_ID ",\"TLS.sdkappid\":\"1400000000\"," F_EXP ","
                          F_TIME "," F_SIG "}", IMC_E_SIG_MALFORMED},
      {"sdkappid real", "{" F_VER "," F_ID ",\"TLS.sdkappid\":1400000000.0," F_EXP ","
                        F_TIME "," F_SIG "}", IMC_E_SIG_MALFORMED},
      {"sdkappid negative", "{" F_VER "," F_ID ",\"TLS.sdkappid\":-1," F_EXP "," F_TIME ","
                            F_SIG "}", IMC_E_SIG_MALFORMED},
      {"sdkappid beyond int64", "{" F_VER "," F_ID ",\"TLS.sdkappid\":99999999999999999999,"
                                F_EXP "," F_TIME "," F_SIG "}", IMC_E_SIG_MALFORMED},
      {"time missing", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_SIG "}",
       IMC_E_SIG_MALFORMED},
      {"time null", "{" F_VER "," F_ID "," F_APP "," F_EXP ",\"TLS.time\":null," F_SIG "}",
       IMC_E_SIG_MALFORMED},
      {"expire real", "{" F_VER "," F_ID "," F_APP ",\"TLS.expire\":86400.5," F_TIME ","
                      F_SIG "}", IMC_E_SIG_MALFORMED},
      {"sig number", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME ",\"TLS.sig\":1}",
       IMC_E_SIG_MALFORMED},
      {"userbuf number", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG
                         ",\"TLS.userbuf\":5}", IMC_E_SIG_MALFORMED},
      {"duplicate key", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG ","
                        "\"TLS.sig\":\"x\"}", IMC_E_SIG_MALFORMED},
      {"array", "[" F_SIG "]", IMC_E_SIG_MALFORMED},
      {"bare string", "\"TLS.sig\"", IMC_E_SIG_MALFORMED},
      {"trailing text", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME "," F_SIG "}x",
       IMC_E_SIG_MALFORMED},
      {"empty JSON text", "", IMC_E_SIG_MALFORMED},
      {"sig cut short", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME
                        ",\"TLS.sig\":\"yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60\"}",
       IMC_E_SIG_MISMATCH},
      {"sig with extra characters", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME
                                    ",\"TLS.sig\":\"" ADMIN_MAC "AAAA\"}", IMC_E_SIG_MISMATCH},
      {"sig empty", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME ",\"TLS.sig\":\"\"}",
       IMC_E_SIG_MISMATCH},
      {"sig of raw MAC bytes in hex", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME
                                      ",\"TLS.sig\":\"c8b01efb0ed651e52ea9b57d87f4d7ef\"}",
       IMC_E_SIG_MISMATCH},
      {"userbuf added after signing", "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME ","
                                      F_SIG ",\"TLS.userbuf\":\"\"}", IMC_E_SIG_MISMATCH},
      {"time moved back", "{" F_VER "," F_ID "," F_APP "," F_EXP ",\"TLS.time\":1699999999,"
                          F_SIG "}", IMC_E_SIG_MISMATCH},
  };
  char sig[SIG_BUF];
  size_t failures = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sig_from_json(cases[i].json, sig, sizeof sig);
    int rc = verify_admin(sig, ADMIN_NOW);
    if (rc != cases[i].expect) {
      print_error("case \"%s\": expected %d, got %d\n", cases[i].what, cases[i].expect, rc);
      failures++;
    }
  }
  assert_int_equal(failures, 0);
}

/* A userbuf, when present, is part of the signed content, after TLS.expire. */
static void test_userbuf_is_signed(void **state)
{
  char mac[64], json[1024], sig[SIG_BUF];

  /* base64("hi???") has a '/', written PHP-style as \/ in the JSON: the signed content
  ** is the unescaped string. */
  mac_b64(g_key, "TLS.identifier:administrator\nTLS.sdkappid:1400000000\n"
                 "TLS.time:1700000000\nTLS.expire:86400\nTLS.userbuf:aGk/Pz8=\n", mac);
  snprintf(json, sizeof json, "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME
           ",\"TLS.sig\":\"%s\",\"TLS.userbuf\":\"aGk\\/Pz8=\"}", mac);
  sig_from_json(json, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), 0);

  /* The same MAC without the userbuf in the JSON no longer matches. */
  snprintf(json, sizeof json, "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME
           ",\"TLS.sig\":\"%s\"}", mac);
  sig_from_json(json, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MISMATCH);

  /* Nor does another userbuf. */
  snprintf(json, sizeof json, "{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME
           ",\"TLS.sig\":\"%s\",\"TLS.userbuf\":\"aGVsbG8=\"}", mac);
  sig_from_json(json, sig, sizeof sig);
  assert_int_equal(verify_admin(sig, ADMIN_NOW), IMC_E_SIG_MISMATCH);
}

/* Errors come in the documented order: sdkappid, identifier, HMAC, expiry. */
static void test_error_order(void **state)
{
  char sig[SIG_BUF];
  /* Wrong MAC and long expired at the same time. */
  sig_from_json("{" F_VER "," F_ID "," F_APP "," F_EXP "," F_TIME ",\"TLS.sig\":\"x\"}", sig,
                sizeof sig);
  int64_t late = ADMIN_TIME + ADMIN_EXPIRE + 1;
  assert_int_equal(usersig_verify(g_key, sig, strlen(sig), g_sdkappid + 1, "bob", late, NULL),
                   IMC_E_SIG_SDKAPPID);
  assert_int_equal(usersig_verify(g_key, sig, strlen(sig), g_sdkappid, "bob", late, NULL),
                   IMC_E_SIG_IDENTIFIER);
  assert_int_equal(usersig_verify(g_key, sig, strlen(sig), g_sdkappid, ADMIN, late, NULL),
                   IMC_E_SIG_MISMATCH);
  assert_int_equal(usersig_verify(g_key, sig, strlen(sig), g_sdkappid, NULL, late, NULL),
                   IMC_E_SIG_IDENTIFIER);
  assert_int_equal(usersig_verify(NULL, sig, strlen(sig), g_sdkappid, ADMIN, late, NULL),
                   IMC_E_SIG_MISMATCH);
  /* A negative expire is a decode error, so it beats even the sdkappid check. */
  sig_from_json("{" F_VER "," F_ID "," F_APP ",\"TLS.expire\":-1," F_TIME "," F_SIG "}", sig,
                sizeof sig);
  assert_int_equal(usersig_verify(g_key, sig, strlen(sig), g_sdkappid + 1, "bob", late, NULL),
                   IMC_E_SIG_MALFORMED);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_give_expected_codes),
      cmocka_unit_test(test_bomb_vectors_are_refused),
      cmocka_unit_test(test_handmade_bomb_is_refused),
      cmocka_unit_test(test_info_is_filled_even_on_error),
      cmocka_unit_test(test_gen_round_trip),
      cmocka_unit_test(test_gen_matches_tencent_json),
      cmocka_unit_test(test_expiry_boundary),
      cmocka_unit_test(test_gen_output_too_small),
      cmocka_unit_test(test_gen_bad_arguments),
      cmocka_unit_test(test_empty_and_too_long),
      cmocka_unit_test(test_json_size_cap_boundary),
      cmocka_unit_test(test_siglen_is_respected),
      cmocka_unit_test(test_base64_variants),
      cmocka_unit_test(test_zlib_framing),
      cmocka_unit_test(test_json_fields),
      cmocka_unit_test(test_userbuf_is_signed),
      cmocka_unit_test(test_error_order),
  };
  /* Loaded here rather than in a group setup: cmocka exits 0 when a group setup fails. */
  if (load_vectors() != 0)
    return 1;
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  json_decref(g_vectors);
  return failed;
}
