/*
** usersig.c — Tencent IM UserSig v2 (TLSSigAPIv2): generation and verification.
**
** A sig travels as base64 with '+' '/' '=' spelled '*' '-' '_', wrapping a zlib stream
** that inflates to a small JSON object; TLS.sig in it is an HMAC-SHA256 over the other
** fields (exact text in spec/rest-api.md §2).
**
** What this file guarantees (see usersig.h):
**  - Bounded work and memory for any input: the sig string is length-checked before it is
**    decoded, decoding and inflating use fixed stack buffers, and inflation stops as soon
**    as the output passes USERSIG_MAX_JSON, so a zip bomb costs a few KiB of output, not
**    its inflated size. The only heap use is zlib's fixed state and jansson's parse of at
**    most USERSIG_MAX_JSON bytes.
**  - The HMAC is compared in constant time (CRYPTO_memcmp).
**  - Errors come in the documented order: decode (70002/70003), sdkappid (70014),
**    identifier (70013), HMAC (70009), expiry (70001). Anything that cannot be read as
**    the contract describes is 70003. Deliberately lenient only where the bytes are
**    unambiguous: base64 padding may be left off, '+' '/' '=' may appear unsubstituted.
**  - No global state: safe to call from any thread.
*/
#include "common/usersig.h"

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#define ZLIB_CONST  /* lets next_in point at const input */
#include <zlib.h>

#include "common/errors.h"

/* base64 of a 32-byte HMAC-SHA256 is 44 characters (with one '=' of padding). */
#define MAC_B64_LEN 44
/* Longest TLS.identifier accepted, so that usersig_info can always carry it. */
#define MAX_IDENTIFIER_LEN (sizeof(((usersig_info *)0)->identifier) - 1)
/* Decoded bytes of the longest accepted sig string. */
#define MAX_DECODED ((USERSIG_MAX_LEN / 4) * 3 + 3)
/* Room for the signed content: the fixed labels and four numbers fit in 256 bytes with
** room to spare; the identifier and userbuf both come out of a JSON of at most
** USERSIG_MAX_JSON bytes, so together they cannot exceed it. */
#define MAX_CONTENT (USERSIG_MAX_JSON + 256)
/* JSON written by usersig_gen: the identifier is at most 63 bytes, which even escaped as
** \uXXXX (6 bytes each) plus the other fields stays well under this. */
#define GEN_JSON_MAX 1024
/* Worst case of zlib's compressBound() for GEN_JSON_MAX input is well below this. */
#define GEN_ZLIB_MAX (GEN_JSON_MAX + 64)

/* ------------------------------------------------------------------------------------ */
/* Base64                                                                               */
/* ------------------------------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encoded_len(size_t n)
{
  return 4 * ((n + 2) / 3);
}

/* Standard base64 with '=' padding; writes b64_encoded_len(n) chars and a NUL. */
static void b64_encode(const unsigned char *in, size_t n, char *out)
{
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *out++ = b64_alphabet[v >> 18 & 63];
    *out++ = b64_alphabet[v >> 12 & 63];
    *out++ = b64_alphabet[v >> 6 & 63];
    *out++ = b64_alphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16;
    bool two = i + 1 < n;
    if (two)
      v |= (uint32_t)in[i + 1] << 8;
    *out++ = b64_alphabet[v >> 18 & 63];
    *out++ = b64_alphabet[v >> 12 & 63];
    if (two)
      *out++ = b64_alphabet[v >> 6 & 63];
    else
      *out++ = '=';
    *out++ = '=';
  }
  *out = '\0';
}

/* The UserSig alphabet spells '+' '/' as '*' '-'. The standard spellings are accepted too:
** they decode to the same bytes, and the spec's "substitute, then decode" accepts them. */
static int sig_char_value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '*' || c == '+')
    return 62;
  if (c == '-' || c == '/')
    return 63;
  return -1;
}

static bool is_sig_padding(char c)
{
  return c == '_' || c == '=';
}

/*
** Decodes a UserSig string into out (cap bytes). Padding ('_' or '=') is optional, but
** when present it must be the last one or two characters and complete a 4-char group.
** Any other character anywhere is an error. Stray low bits in the last character are
** ignored, as most decoders do. Returns 0, or -1 when not valid base64.
*/
static int decode_sig_base64(const char *in, size_t len, unsigned char *out, size_t cap,
                             size_t *outlen)
{
  size_t pads = 0;
  while (pads < 2 && pads < len && is_sig_padding(in[len - 1 - pads]))
    pads++;
  size_t datalen = len - pads;
  if (pads > 0 && len % 4 != 0)
    return -1;
  /* One leftover character carries only 6 bits: not a byte, so not base64. */
  if (datalen % 4 == 1)
    return -1;
  if (datalen / 4 * 3 + 2 > cap)
    return -1;

  uint32_t bits = 0;
  int nbits = 0;
  size_t n = 0;
  for (size_t i = 0; i < datalen; i++) {
    int v = sig_char_value((unsigned char)in[i]);
    if (v < 0)
      return -1;
    bits = (bits << 6 | (uint32_t)v) & 0xFFFFFF;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out[n++] = (unsigned char)(bits >> nbits);
    }
  }
  *outlen = n;
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* zlib                                                                                 */
/* ------------------------------------------------------------------------------------ */

/*
** Inflates one complete zlib stream into out, which must hold cap + 1 bytes. Succeeds only
** when the stream ends, its checksum holds, nothing follows it, and the output is at most
** cap bytes. The +1 byte lets "exactly cap" be told apart from "more than cap" while
** inflate never writes past it: a bomb stops after cap + 1 bytes of work.
*/
static int inflate_capped(const unsigned char *in, size_t inlen, char *out, size_t cap,
                          size_t *outlen)
{
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit(&zs) != Z_OK)
    return -1;
  zs.next_in = in;
  zs.avail_in = (uInt)inlen;
  zs.next_out = (Bytef *)out;
  zs.avail_out = (uInt)(cap + 1);
  /* All input is here, so one call goes as far as it can: to the end of the stream, the
  ** end of the input, a data error, or a full output buffer. Z_FINISH also lets zlib skip
  ** allocating its 32 KiB window when the stream completes in this call. */
  int ret = inflate(&zs, Z_FINISH);
  bool ok = ret == Z_STREAM_END && zs.avail_in == 0 && zs.total_out <= cap;
  *outlen = zs.total_out;
  inflateEnd(&zs);
  return ok ? 0 : -1;
}

/* ------------------------------------------------------------------------------------ */
/* The JSON fields                                                                      */
/* ------------------------------------------------------------------------------------ */

/* The fields of a decoded sig. Strings point into the json_t they were read from. */
typedef struct sig_fields {
  const char *identifier;
  size_t identifier_len;
  json_int_t sdkappid;
  json_int_t time;
  json_int_t expire;
  const char *mac_b64;       /* TLS.sig */
  size_t mac_b64_len;
  const char *userbuf;       /* TLS.userbuf, NULL when absent */
} sig_fields;

/* A string member with no embedded NUL (which C code downstream would silently cut).
** jansson already refuses \u0000 unless JSON_ALLOW_NUL is passed; checking here keeps
** the guarantee from hanging on a flag. */
static const char *get_string(const json_t *obj, const char *key, size_t *len)
{
  const json_t *v = json_object_get(obj, key);
  if (!json_is_string(v))
    return NULL;
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  if (memchr(s, '\0', n) != NULL)
    return NULL;
  if (len != NULL)
    *len = n;
  return s;
}

/* An integer member; a real (86400.0) or a numeric string is not an integer. */
static bool get_integer(const json_t *obj, const char *key, json_int_t *value)
{
  const json_t *v = json_object_get(obj, key);
  if (!json_is_integer(v))
    return false;
  *value = json_integer_value(v);
  return true;
}

static int read_fields(const json_t *root, sig_fields *f)
{
  const char *ver = get_string(root, "TLS.ver", NULL);
  if (ver == NULL || strcmp(ver, "2.0") != 0)
    return -1;

  f->identifier = get_string(root, "TLS.identifier", &f->identifier_len);
  f->mac_b64 = get_string(root, "TLS.sig", &f->mac_b64_len);
  if (f->identifier == NULL || f->mac_b64 == NULL)
    return -1;
  /* usersig_info must be able to carry it; real UserIDs are at most 32 bytes. */
  if (f->identifier_len > MAX_IDENTIFIER_LEN)
    return -1;

  if (!get_integer(root, "TLS.sdkappid", &f->sdkappid) ||
      !get_integer(root, "TLS.time", &f->time) ||
      !get_integer(root, "TLS.expire", &f->expire))
    return -1;
  if (f->sdkappid < 0 || f->expire < 0)
    return -1;

  /* Optional, but when the key is there it is signed, so it must be a usable string. */
  f->userbuf = NULL;
  if (json_object_get(root, "TLS.userbuf") != NULL) {
    f->userbuf = get_string(root, "TLS.userbuf", NULL);
    if (f->userbuf == NULL)
      return -1;
  }
  return 0;
}

/*
** sig string -> JSON object and its fields. On success *root owns the JSON (the fields
** point into it) and the caller must json_decref it. Returns 0 or 70003.
*/
static int decode_usersig(const char *sig, size_t siglen, json_t **root, sig_fields *f)
{
  unsigned char compressed[MAX_DECODED];
  char json_text[USERSIG_MAX_JSON + 1];
  size_t compressed_len, json_len;

  *root = NULL;
  if (decode_sig_base64(sig, siglen, compressed, sizeof compressed, &compressed_len) != 0)
    return IMC_E_SIG_MALFORMED;
  if (inflate_capped(compressed, compressed_len, json_text, USERSIG_MAX_JSON,
                     &json_len) != 0)
    return IMC_E_SIG_MALFORMED;

  /* Duplicate keys are refused: which of two TLS.sig values would be "the" one is exactly
  ** the kind of ambiguity a forger looks for. */
  json_t *obj = json_loadb(json_text, json_len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(obj) || read_fields(obj, f) != 0) {
    json_decref(obj);
    return IMC_E_SIG_MALFORMED;
  }
  *root = obj;
  return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Signing                                                                              */
/* ------------------------------------------------------------------------------------ */

/*
** base64(HMAC-SHA256(key, content)) into out (MAC_B64_LEN + 1 bytes), where content is
** the exact text of spec/rest-api.md §2. userbuf may be NULL (absent). Returns 0 or -1.
*/
static int compute_mac_b64(const char *key, const char *identifier, uint64_t sdkappid,
                           int64_t time, int64_t expire, const char *userbuf, char *out)
{
  char content[MAX_CONTENT];
  int n = snprintf(content, sizeof content,
                   "TLS.identifier:%s\nTLS.sdkappid:%" PRIu64 "\nTLS.time:%" PRId64
                   "\nTLS.expire:%" PRId64 "\n",
                   identifier, sdkappid, time, expire);
  if (n < 0 || (size_t)n >= sizeof content)
    return -1;
  if (userbuf != NULL) {
    int m = snprintf(content + n, sizeof content - (size_t)n, "TLS.userbuf:%s\n", userbuf);
    if (m < 0 || (size_t)m >= sizeof content - (size_t)n)
      return -1;
    n += m;
  }

  size_t keylen = strlen(key);
  if (keylen > INT_MAX)
    return -1;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)content, (size_t)n, mac,
           &maclen) == NULL || b64_encoded_len(maclen) != MAC_B64_LEN)
    return -1;
  b64_encode(mac, maclen, out);
  return 0;
}

/* expire is >= 0 here, so time + expire can only overflow upwards: such a sig would
** expire after the end of int64 time, i.e. never. Valid up to and including time+expire. */
static bool has_expired(int64_t time, int64_t expire, int64_t now)
{
  if (time > INT64_MAX - expire)
    return false;
  return now > time + expire;
}

/* ------------------------------------------------------------------------------------ */
/* Public API                                                                           */
/* ------------------------------------------------------------------------------------ */

static void fill_info(usersig_info *info, const sig_fields *f)
{
  memcpy(info->identifier, f->identifier, f->identifier_len);
  info->identifier[f->identifier_len] = '\0';
  info->sdkappid = (uint64_t)f->sdkappid;
  info->time = f->time;
  info->expire = f->expire;
}

static bool same_identifier(const sig_fields *f, const char *identifier)
{
  return identifier != NULL && strlen(identifier) == f->identifier_len &&
         memcmp(identifier, f->identifier, f->identifier_len) == 0;
}

/* Constant time over the MAC text; only its length, which is public, may end it early. */
static bool mac_matches(const char *key, const sig_fields *f)
{
  char expected[MAC_B64_LEN + 1];
  if (key == NULL ||
      compute_mac_b64(key, f->identifier, (uint64_t)f->sdkappid, f->time, f->expire,
                      f->userbuf, expected) != 0)
    return false;
  return f->mac_b64_len == MAC_B64_LEN &&
         CRYPTO_memcmp(expected, f->mac_b64, MAC_B64_LEN) == 0;
}

int usersig_verify(const char *key, const char *sig, size_t siglen, uint64_t sdkappid,
                   const char *identifier, int64_t now, usersig_info *info)
{
  if (info != NULL)
    memset(info, 0, sizeof *info);
  if (sig == NULL || siglen == 0)
    return IMC_E_SIG_EMPTY;
  if (siglen > USERSIG_MAX_LEN)
    return IMC_E_SIG_MALFORMED;

  json_t *root;
  sig_fields f;
  int rc = decode_usersig(sig, siglen, &root, &f);
  if (rc != 0)
    return rc;
  if (info != NULL)
    fill_info(info, &f);

  if ((uint64_t)f.sdkappid != sdkappid)
    rc = IMC_E_SIG_SDKAPPID;
  else if (!same_identifier(&f, identifier))
    rc = IMC_E_SIG_IDENTIFIER;
  else if (!mac_matches(key, &f))
    rc = IMC_E_SIG_MISMATCH;
  else if (has_expired(f.time, f.expire, now))
    rc = IMC_E_SIG_EXPIRED;
  else
    rc = IMC_OK;
  json_decref(root);
  return rc;
}

/* Undo-able only by verify: '+' '/' '=' become the URL-safe '*' '-' '_'. */
static void substitute_url_safe(char *s)
{
  for (; *s != '\0'; s++) {
    if (*s == '+')
      *s = '*';
    else if (*s == '/')
      *s = '-';
    else if (*s == '=')
      *s = '_';
  }
}

/* The JSON exactly as Tencent's generators (Java, Go) lay it out: this key order, compact.
** jansson (>= 2.8) always writes keys in insertion order. */
static size_t write_sig_json(const char *identifier, uint64_t sdkappid, int64_t now,
                             int64_t expire, const char *mac_b64, char *out, size_t cap)
{
  json_t *obj = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}",
                          "TLS.ver", "2.0",
                          "TLS.identifier", identifier,
                          "TLS.sdkappid", (json_int_t)sdkappid,
                          "TLS.expire", (json_int_t)expire,
                          "TLS.time", (json_int_t)now,
                          "TLS.sig", mac_b64);
  if (obj == NULL)  /* e.g. an identifier that is not valid UTF-8 */
    return 0;
  size_t n = json_dumpb(obj, out, cap, JSON_COMPACT);
  json_decref(obj);
  return n <= cap ? n : 0;
}

int usersig_gen(const char *key, uint64_t sdkappid, const char *identifier,
                int64_t now, int64_t expire, char *out, size_t outlen)
{
  /* Refuse anything usersig_verify would refuse, so every sig made here verifies. */
  if (key == NULL || identifier == NULL || out == NULL || expire < 0 ||
      sdkappid > (uint64_t)INT64_MAX)
    return -1;
  size_t idlen = strlen(identifier);
  if (idlen == 0 || idlen > MAX_IDENTIFIER_LEN)
    return -1;

  char mac_b64[MAC_B64_LEN + 1];
  if (compute_mac_b64(key, identifier, sdkappid, now, expire, NULL, mac_b64) != 0)
    return -1;

  char json_text[GEN_JSON_MAX];
  size_t json_len =
      write_sig_json(identifier, sdkappid, now, expire, mac_b64, json_text, sizeof json_text);
  if (json_len == 0)
    return -1;

  unsigned char compressed[GEN_ZLIB_MAX];
  uLongf compressed_len = sizeof compressed;
  if (compress2(compressed, &compressed_len, (const Bytef *)json_text, json_len,
                Z_DEFAULT_COMPRESSION) != Z_OK)
    return -1;

  size_t sig_len = b64_encoded_len(compressed_len);
  if (sig_len >= outlen || sig_len > INT_MAX)
    return -1;
  b64_encode(compressed, compressed_len, out);
  substitute_url_safe(out);
  return (int)sig_len;
}
