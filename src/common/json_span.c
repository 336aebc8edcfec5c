/*
** json_span.c — locating a member's raw value in valid JSON text. See json_span.h.
*/
#include "common/json_span.h"

#include <string.h>

typedef struct scanner {
  const char *s;
  size_t len, pos;
} scanner;

static void skip_space(scanner *sc)
{
  while (sc->pos < sc->len && strchr(" \t\r\n", sc->s[sc->pos]) && sc->s[sc->pos]) sc->pos++;
}

/* Skips a string starting at its opening quote; false when the text ends first. */
static bool skip_string(scanner *sc)
{
  for (sc->pos++; sc->pos < sc->len; sc->pos++) {
    if (sc->s[sc->pos] == '\\') sc->pos++;
    else if (sc->s[sc->pos] == '"') {
      sc->pos++;
      return true;
    }
  }
  return false;
}

/* Skips one value (string, object, array or scalar). */
static bool skip_value(scanner *sc)
{
  if (sc->pos >= sc->len) return false;
  char c = sc->s[sc->pos];
  if (c == '"') return skip_string(sc);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (sc->pos < sc->len) {
      c = sc->s[sc->pos];
      if (c == '"') {
        if (!skip_string(sc)) return false;
        continue;
      }
      if (c == '{' || c == '[') depth++;
      else if ((c == '}' || c == ']') && --depth == 0) {
        sc->pos++;
        return true;
      }
      sc->pos++;
    }
    return false;
  }
  while (sc->pos < sc->len && !strchr(",}] \t\r\n", sc->s[sc->pos])) sc->pos++;
  return true;
}

bool json_member_span(const char *text, size_t len, const char *key, size_t *offset,
                      size_t *value_len)
{
  scanner sc = {text, len, 0};
  size_t klen = strlen(key);
  skip_space(&sc);
  if (sc.pos >= len || text[sc.pos] != '{') return false;
  sc.pos++;
  for (;;) {
    skip_space(&sc);
    if (sc.pos >= len || text[sc.pos] != '"') return false;   /* '}' or broken: not found */
    size_t key_start = sc.pos + 1;
    if (!skip_string(&sc)) return false;
    /* A key written with escapes never matches, even when its raw text equals `key`:
    ** "\\" is one backslash, not two. */
    bool match = sc.pos - 1 - key_start == klen && memcmp(text + key_start, key, klen) == 0 &&
                 !memchr(text + key_start, '\\', klen);
    skip_space(&sc);
    if (sc.pos >= len || text[sc.pos] != ':') return false;
    sc.pos++;
    skip_space(&sc);
    size_t value_start = sc.pos;
    if (!skip_value(&sc)) return false;
    if (match) {
      *offset = value_start;
      *value_len = sc.pos - value_start;
      return true;
    }
    skip_space(&sc);
    if (sc.pos >= len || text[sc.pos] != ',') return false;
    sc.pos++;
  }
}
