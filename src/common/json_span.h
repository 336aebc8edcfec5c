/*
** json_span.h — where a top-level member's value stands in a JSON object's text.
**
** Used to forward client JSON byte for byte (MsgBody, OfflinePushInfo) instead of
** re-serializing it, which would change numbers like 1.10 into 1.1000000000000001.
** The text must already be known to be valid JSON (e.g. parsed by jansson): this is a
** scanner, not a validator. Keys are compared as they are written; a key written with
** escapes is not found (the caller falls back to its parsed value). No allocation.
*/
#ifndef IMCAST_JSON_SPAN_H
#define IMCAST_JSON_SPAN_H

#include <stdbool.h>
#include <stddef.h>

/* Finds member `key` of the object text[0..len). On success stores the value's offset and
** length (surrounding white space excluded) and returns true. */
bool json_member_span(const char *text, size_t len, const char *key, size_t *offset,
                      size_t *value_len);

#endif
