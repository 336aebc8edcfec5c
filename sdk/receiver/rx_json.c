/*
** rx_json.c — the exact text of one member of a JSON object.
**
** jansson gives values, not their bytes: re-serialising MsgBody would reorder nothing but
** could still change numbers (1.10 -> 1.1) and escapes. The spec keeps MsgContent
** verbatim, so the receiver hands callers the bytes the server sent. This scanner walks
** the top level of an object and skips values by bracket depth, honouring strings and
** escapes. Guarantees: never reads outside json[0..len); returns the first occurrence
** of the key. It does not validate: the caller has already parsed the text with jansson.
*/
#include <string.h>

#include "rx_internal.h"

static size_t skip_ws(const char *s, size_t i, size_t n)
{
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

/* s[i] is '"'; returns the index just past the closing quote, or n when unterminated. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
  for (i++; i < n; i++) {
    if (s[i] == '\\')
      i++;
    else if (s[i] == '"')
      return i + 1;
  }
  return n;
}

/* Returns the index just past the value starting at s[i], or n when it runs off the end. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
  if (i >= n)
    return n;
  if (s[i] == '"')
    return skip_string(s, i, n);
  if (s[i] != '{' && s[i] != '[') {
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      i++;
    return i;
  }
  size_t depth = 0;
  while (i < n) {
    char ch = s[i];
    if (ch == '"') {
      i = skip_string(s, i, n);
      continue;
    }
    if (ch == '{' || ch == '[')
      depth++;
    else if ((ch == '}' || ch == ']') && --depth == 0)
      return i + 1;
    i++;
  }
  return n;
}

int imcast_rx_json_member(const char *json, size_t len, const char *key,
                          const char **val, size_t *val_len)
{
  size_t klen = strlen(key);
  size_t i = skip_ws(json, 0, len);
  if (i >= len || json[i] != '{')
    return -1;
  i = skip_ws(json, i + 1, len);
  while (i < len && json[i] != '}') {
    if (json[i] != '"')
      return -1;
    size_t kstart = i + 1, kend = skip_string(json, i, len);
    if (kend >= len)
      return -1;
    int match = kend - 1 - kstart == klen && memcmp(json + kstart, key, klen) == 0;
    i = skip_ws(json, kend, len);
    if (i >= len || json[i] != ':')
      return -1;
    size_t vstart = skip_ws(json, i + 1, len), vend = skip_value(json, vstart, len);
    if (vend >= len || vend == vstart)
      return -1; /* an object's value is always followed by ',' or '}' */
    if (match) {
      *val = json + vstart;
      *val_len = vend - vstart;
      return 1;
    }
    i = skip_ws(json, vend, len);
    if (i < len && json[i] == ',')
      i = skip_ws(json, i + 1, len);
    else if (i >= len || json[i] != '}')
      return -1;
  }
  return i < len ? 0 : -1;
}
