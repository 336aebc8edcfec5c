/*
** audience.h — who a push reaches: a Condition compiled to a bitmap of uids.
**
** The query is already validated (the api layer checks the Tencent rules and resolves
** attribute names to slots). Semantics (rest-api.md §4.1):
**   no condition                -> every account
**   TagsAnd                     -> has every tag
**   TagsOr                      -> has at least one tag
**   TagsAnd + TagsOr            -> has every TagsAnd tag AND at least one TagsOr tag
**   AttrsAnd / AttrsOr / both   -> the same over (slot, value) pairs
** A tag or value nobody has makes an AND empty and adds nothing to an OR.
** The result is a new bitmap the caller frees with roaring_bitmap_free().
** Cost: a handful of bitmap operations, smallest operand first for AND.
*/
#ifndef IMCAST_AUDIENCE_H
#define IMCAST_AUDIENCE_H

#include <stddef.h>
#include "core/directory.h"

typedef struct audience_attr {
  int slot;
  const char *value;
} audience_attr;

typedef struct audience_query {
  const char *const *tags_and;  size_t n_tags_and;
  const char *const *tags_or;   size_t n_tags_or;
  const audience_attr *attrs_and; size_t n_attrs_and;
  const audience_attr *attrs_or;  size_t n_attrs_or;
} audience_query;

/* Returns the audience, or NULL when out of memory. */
roaring_bitmap_t *audience_compute(const directory *d, const audience_query *q);

#endif
