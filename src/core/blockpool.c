/*
** blockpool.c — size-class slabs for small headerless blocks. See blockpool.h.
**
** A size class per 4 bytes up to BLOCKPOOL_MAX. A free block of a class holds the next
** free block's address in its first bytes (every class is at least a pointer wide; the
** address is copied in and out with memcpy, as blocks are only 4-byte aligned). A slab's
** first bytes link it to the previous slab, for blockpool_destroy.
*/
#include "core/blockpool.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define BLOCKPOOL_ALL_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BLOCKPOOL_ALL_MALLOC 1
#endif
#endif
#ifndef BLOCKPOOL_ALL_MALLOC
#define BLOCKPOOL_ALL_MALLOC 0
#endif

#define SLAB_BYTES ((size_t)64 * 1024)
#define SLAB_HEADER 8   /* the link to the previous slab; keeps blocks 4-byte aligned */

_Static_assert(sizeof(void *) <= 8, "a free block of the smallest class holds a pointer");
_Static_assert(SLAB_HEADER % 4 == 0, "blocks stay 4-byte aligned");

/* Size rounded to its class (a multiple of 4, at least a pointer). */
static size_t class_size(size_t size)
{
  size_t c = (size + 3) & ~(size_t)3;
  return c < sizeof(void *) ? sizeof(void *) : c;
}

static bool is_big(size_t size) { return BLOCKPOOL_ALL_MALLOC || size > BLOCKPOOL_MAX; }

static size_t malloc_cost(const void *p)
{
  return malloc_usable_size((void *)p) + sizeof(size_t);   /* glibc's chunk header */
}

void blockpool_init(blockpool *bp) { memset(bp, 0, sizeof *bp); }

void blockpool_destroy(blockpool *bp)
{
  void *slab = bp->slabs;
  while (slab) {
    void *prev;
    memcpy(&prev, slab, sizeof prev);
    free(slab);
    slab = prev;
  }
  blockpool_init(bp);
}

size_t blockpool_held_bytes(const blockpool *bp) { return bp->held_bytes; }

/* A new slab becomes the bump area; the old one's unused rest (< BLOCKPOOL_MAX) is lost. */
static int new_slab(blockpool *bp)
{
  char *slab = malloc(SLAB_BYTES);
  if (!slab) return -1;
  memcpy(slab, &bp->slabs, sizeof bp->slabs);
  bp->slabs = slab;
  bp->bump = slab + SLAB_HEADER;
  bp->bump_end = slab + SLAB_BYTES;
  bp->held_bytes += SLAB_BYTES;
  return 0;
}

void *blockpool_alloc(blockpool *bp, size_t size)
{
  if (is_big(size)) {
    void *p = malloc(size);
    if (p) bp->held_bytes += malloc_cost(p);
    return p;
  }
  size_t c = class_size(size);
  void **head = &bp->free_lists[c / 4];
  if (*head) {
    void *block = *head;
    memcpy(head, block, sizeof *head);   /* the next free block */
    return block;
  }
  if ((size_t)(bp->bump_end - bp->bump) < c && new_slab(bp) != 0) return NULL;
  void *block = bp->bump;
  bp->bump += c;
  return block;
}

void blockpool_free(blockpool *bp, void *block, size_t size)
{
  if (!block) return;
  if (is_big(size)) {
    bp->held_bytes -= malloc_cost(block);
    free(block);
    return;
  }
  void **head = &bp->free_lists[class_size(size) / 4];
  memcpy(block, head, sizeof *head);
  *head = block;
}

void *blockpool_resize(blockpool *bp, void *block, size_t old_size, size_t new_size)
{
  if (!is_big(old_size) && !is_big(new_size) && class_size(old_size) == class_size(new_size))
    return block;
  if (is_big(old_size) && is_big(new_size)) {
    size_t old_cost = malloc_cost(block);
    void *p = realloc(block, new_size);
    if (!p) return NULL;
    bp->held_bytes = bp->held_bytes - old_cost + malloc_cost(p);
    return p;
  }
  void *p = blockpool_alloc(bp, new_size);
  if (!p) return NULL;
  memcpy(p, block, old_size < new_size ? old_size : new_size);
  blockpool_free(bp, block, old_size);
  return p;
}
