/*
** text.h — checks on the strings the API accepts: UTF-8 validity, UserIDs, tags.
**
** Pure functions, no allocation.
*/
#ifndef IMCAST_TEXT_H
#define IMCAST_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define USER_ID_MAX_BYTES 32
#define TAG_MAX_BYTES 50
#define ATTR_MAX_BYTES 50

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF)
** and holds no NUL byte. */
bool text_is_utf8(const char *s, size_t len);

/* True when s[0..len) holds a control character (C0, DEL or C1). s must be valid UTF-8. */
bool text_has_control(const char *s, size_t len);

/* Replaces, in place, every byte of s that is not part of a well-formed UTF-8 sequence
** with '?', so that text quoting request bytes (or cut by a length limit) can go into JSON. */
void text_scrub_utf8(char *s);

/* Why a UserID is not valid ("is empty", "is 33 bytes; at most 32", ...), or NULL when it
** is: 1..32 bytes of UTF-8 without control characters. */
const char *text_user_id_problem(const char *s, size_t len);

#endif
