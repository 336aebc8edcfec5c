/*
** audience.c — compiles an audience_query into the bitmap of uids it reaches.
**
** Plan: the query is a conjunction of parts, each of which must hold —
**   the AND part  every TagsAnd tag and every AttrsAnd (slot, value) pair;
**   each OR group TagsOr, and AttrsOr, each satisfied by any one of its operands.
** The AND part is intersected smallest operands first, so the working bitmap starts as
** small as it can and only ever shrinks; a tag or value nobody has ends the query at once
** (empty). An OR group drops its unknown operands and unions the rest in one
** roaring_bitmap_or_many call; a group with no known operand matches nobody. With no part
** at all the audience is every account. The api layer never mixes tag and attribute
** conditions (90039); if a caller did, every part would still have to hold.
**
** Guarantees: the directory is only read; the result is a new bitmap owned by the caller;
** NULL only when memory runs out (nothing is leaked then).
*/
#include "core/audience.h"

#include <stdbool.h>
#include <stdlib.h>

/* Operand lists are short (the API allows 10 conditions); this many live on the stack. */
#define INLINE_OPERANDS 16

typedef struct operand_list {
  const roaring_bitmap_t **items;
  size_t n;
  const roaring_bitmap_t *inline_items[INLINE_OPERANDS];
} operand_list;

static bool operands_init(operand_list *ops, size_t max) {
  ops->n = 0;
  ops->items = ops->inline_items;
  if (max > INLINE_OPERANDS) {
    ops->items = malloc(max * sizeof(const roaring_bitmap_t *));
    if (!ops->items)
      return false;
  }
  return true;
}

static void operands_free(operand_list *ops) {
  if (ops->items != ops->inline_items)
    free(ops->items);
}

/* Adds the tags' bitmaps; returns false if a tag is unknown (the caller decides what an
** unknown operand means). */
static bool add_tag_operands(operand_list *ops, const directory *d, const char *const *tags,
                             size_t n) {
  bool all_known = true;
  for (size_t i = 0; i < n; i++) {
    const roaring_bitmap_t *members = directory_tag_members(d, tags[i]);
    if (members)
      ops->items[ops->n++] = members;
    else
      all_known = false;
  }
  return all_known;
}

static bool add_attr_operands(operand_list *ops, const directory *d, const audience_attr *attrs,
                              size_t n) {
  bool all_known = true;
  for (size_t i = 0; i < n; i++) {
    const roaring_bitmap_t *members = directory_attr_members(d, attrs[i].slot, attrs[i].value);
    if (members)
      ops->items[ops->n++] = members;
    else
      all_known = false;
  }
  return all_known;
}

/* Orders the operands by cardinality, smallest first (insertion sort: the list is short). */
static void sort_by_cardinality(operand_list *ops) {
  for (size_t i = 1; i < ops->n; i++) {
    const roaring_bitmap_t *item = ops->items[i];
    uint64_t card = roaring_bitmap_get_cardinality(item);
    size_t j = i;
    while (j > 0 && roaring_bitmap_get_cardinality(ops->items[j - 1]) > card) {
      ops->items[j] = ops->items[j - 1];
      j--;
    }
    ops->items[j] = item;
  }
}

/* The intersection of at least one operand. The two smallest are intersected into a new
** bitmap (cheaper than copying the smallest whole), which the rest narrow in place. */
static roaring_bitmap_t *intersect_all(operand_list *ops) {
  sort_by_cardinality(ops);
  if (ops->n == 1)
    return roaring_bitmap_copy(ops->items[0]);
  roaring_bitmap_t *result = roaring_bitmap_and(ops->items[0], ops->items[1]);
  if (!result)
    return NULL;
  for (size_t i = 2; i < ops->n && !roaring_bitmap_is_empty(result); i++)
    roaring_bitmap_and_inplace(result, ops->items[i]);
  return result;
}

/* Narrows *result (or, when it is NULL, sets it) to the members of the OR group. */
static bool apply_or_group(roaring_bitmap_t **result, operand_list *group) {
  if (group->n == 0) {
    /* Every operand unknown: nobody has at least one of them. */
    if (*result) {
      roaring_bitmap_clear(*result);
      return true;
    }
    *result = roaring_bitmap_create();
    return *result != NULL;
  }
  roaring_bitmap_t *any = roaring_bitmap_or_many(group->n, group->items);
  if (!any)
    return false;
  if (*result) {
    roaring_bitmap_and_inplace(*result, any);
    roaring_bitmap_free(any);
  } else {
    *result = any;
  }
  return true;
}

/* The AND part, or NULL in *result when the query has none. False when out of memory. */
static bool compute_and_part(const directory *d, const audience_query *q,
                             roaring_bitmap_t **result) {
  *result = NULL;
  size_t n = q->n_tags_and + q->n_attrs_and;
  if (n == 0)
    return true;
  operand_list ops;
  if (!operands_init(&ops, n))
    return false;
  bool all_known = add_tag_operands(&ops, d, q->tags_and, q->n_tags_and);
  all_known = add_attr_operands(&ops, d, q->attrs_and, q->n_attrs_and) && all_known;
  *result = all_known ? intersect_all(&ops) : roaring_bitmap_create();
  operands_free(&ops);
  return *result != NULL;
}

static bool apply_tags_or(const directory *d, const audience_query *q, roaring_bitmap_t **result) {
  if (q->n_tags_or == 0 || (*result && roaring_bitmap_is_empty(*result)))
    return true;
  operand_list ops;
  if (!operands_init(&ops, q->n_tags_or))
    return false;
  add_tag_operands(&ops, d, q->tags_or, q->n_tags_or);
  bool ok = apply_or_group(result, &ops);
  operands_free(&ops);
  return ok;
}

static bool apply_attrs_or(const directory *d, const audience_query *q, roaring_bitmap_t **result) {
  if (q->n_attrs_or == 0 || (*result && roaring_bitmap_is_empty(*result)))
    return true;
  operand_list ops;
  if (!operands_init(&ops, q->n_attrs_or))
    return false;
  add_attr_operands(&ops, d, q->attrs_or, q->n_attrs_or);
  bool ok = apply_or_group(result, &ops);
  operands_free(&ops);
  return ok;
}

roaring_bitmap_t *audience_compute(const directory *d, const audience_query *q) {
  roaring_bitmap_t *result = NULL;
  bool ok = !q || (compute_and_part(d, q, &result) && apply_tags_or(d, q, &result) &&
                   apply_attrs_or(d, q, &result));
  if (!ok) {
    if (result)
      roaring_bitmap_free(result);
    return NULL;
  }
  /* No condition at all: every account (a copy, so the caller owns what it frees). */
  return result ? result : roaring_bitmap_copy(directory_all(d));
}
