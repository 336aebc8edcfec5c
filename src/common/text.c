/*
** text.c — UTF-8 and identifier checks. See text.h.
*/
#include "common/text.h"

#include <stdint.h>
#include <string.h>

/* Length of the UTF-8 sequence starting at s (1..4), or 0 when it is malformed. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail)
{
  unsigned char c = s[0];
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (avail < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0; /* overlong */
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                        /* surrogate */
  if (cp > 0x10FFFF) return 0;
  return n;
}

bool text_is_utf8(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence_length(p + i, len - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void text_scrub_utf8(char *s)
{
  unsigned char *p = (unsigned char *)s;
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence_length(p + i, len - i);
    if (n == 0) p[i++] = '?';
    else i += n;
  }
}

bool text_has_control(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < 0x20 || p[i] == 0x7F) return true;
    /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
    if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) return true;
  }
  return false;
}

const char *text_user_id_problem(const char *s, size_t len)
{
  if (len == 0) return "is empty";
  if (len > USER_ID_MAX_BYTES) return "is longer than 32 bytes";
  if (!text_is_utf8(s, len)) return "is not valid UTF-8";
  if (text_has_control(s, len)) return "contains a control character";
  return NULL;
}
