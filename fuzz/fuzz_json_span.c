/*
** fuzz_json_span.c — json_member_span (src/common/json_span.c) against jansson.
**
** Any bytes: the scanner must stay inside them (it is meant for valid JSON, but a bug there
** should not turn into a read past the buffer). Bytes jansson accepts as a JSON object, as
** the api parses bodies (JSON_REJECT_DUPLICATES): for every member, and for keys that are
** absent, a span found must hold exactly the member's value (parsed again, json_equal), with
** no white space around it; a member written without escapes must be found.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_span.h"
#include "harness.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* True when the member must be found: a key needing no escape, in a text with no backslash
** (so no key is spelled with an escape) and no NUL byte. jansson 2.14 accepts a NUL right
** after a number ({"a":1\0,"b":2} parses); that is not JSON, the scanner stops there and
** the api falls back to re-serializing the member, which is fine. */
static bool must_find(const char *text, size_t len, const char *key)
{
  if (memchr(text, '\\', len) || memchr(text, '\0', len)) return false;
  for (const unsigned char *k = (const unsigned char *)key; *k; k++)
    if (*k < 0x20 || *k == '"') return false;
  return true;
}

static void check_key(const char *text, size_t len, json_t *obj, const char *key)
{
  size_t off = 0, vlen = 0;
  bool found = json_member_span(text, len, key, &off, &vlen);
  json_t *want = json_object_get(obj, key);
  if (!found) {
    if (want && must_find(text, len, key)) fz_fail("member '%s' not found", key);
    return;
  }
  if (!want) fz_fail("span found for absent member '%s'", key);
  if (off > len || vlen > len - off || vlen == 0) fz_fail("span out of range for '%s'", key);
  if (is_space(text[off]) || is_space(text[off + vlen - 1]))
    fz_fail("span of '%s' includes white space", key);
  json_error_t err;
  json_t *got = json_loadb(text + off, vlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
  if (!got) fz_fail("span of '%s' is not JSON (%s): %.*s", key, err.text, (int)vlen, text + off);
  if (!json_equal(got, want)) fz_fail("span of '%s' holds another value: %.*s", key, (int)vlen, text + off);
  json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* An exact-size copy, so ASan sees any read past the end. */
  char *text = malloc(size ? size : 1);
  if (!text) return 0;
  memcpy(text, data, size);
  size_t off, vlen;
  static const char *const fixed[] = {"MsgBody", "OfflinePushInfo", "Condition", "a", ""};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (json_member_span(text, size, fixed[i], &off, &vlen) && (off > size || vlen > size - off))
      fz_fail("span out of range on raw bytes");

  json_t *obj = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
  if (json_is_object(obj)) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) check_key(text, size, obj, key);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) check_key(text, size, obj, fixed[i]);
  }
  json_decref(obj);
  free(text);
  return 0;
}
