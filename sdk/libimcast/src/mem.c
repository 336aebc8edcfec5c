/*
** mem.c — the memory of one result: an arena that is released all at once.
**
** Results hold many small strings and arrays; giving each result one arena makes the
** ownership rule of imcast.h trivial (one _free per result, whatever it holds) and
** makes a half-built result on a parse error free to throw away. Blocks grow
** geometrically; every allocation is zeroed and aligned for any type.
*/
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"

#define FIRST_BLOCK 1024
#define ALIGNMENT alignof(max_align_t)

typedef struct block {
  struct block *next;
  size_t used;
  size_t cap;
  alignas(max_align_t) unsigned char data[];
} block;

struct imcast_mem {
  block *head;       /* the block being filled; older ones follow */
};

imcast_mem *sdk_mem_new(void)
{
  return calloc(1, sizeof(imcast_mem));
}

static size_t round_up(size_t n)
{
  return (n + ALIGNMENT - 1) & ~(ALIGNMENT - 1);
}

static block *add_block(imcast_mem *m, size_t need)
{
  size_t cap = m->head ? m->head->cap * 2 : FIRST_BLOCK;
  while (cap < need)
    cap *= 2;
  block *b = malloc(sizeof(block) + cap);
  if (b == NULL)
    return NULL;
  b->next = m->head;
  b->used = 0;
  b->cap = cap;
  m->head = b;
  return b;
}

void *sdk_mem_alloc(imcast_mem *m, size_t n)
{
  if (n > SIZE_MAX / 4)
    return NULL;
  n = round_up(n == 0 ? 1 : n);
  block *b = m->head;
  if (b == NULL || b->cap - b->used < n) {
    b = add_block(m, n);
    if (b == NULL)
      return NULL;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *sdk_mem_strdup(imcast_mem *m, const char *s)
{
  if (s == NULL)
    return NULL;
  size_t n = strlen(s) + 1;
  char *copy = sdk_mem_alloc(m, n);
  if (copy != NULL)
    memcpy(copy, s, n);
  return copy;
}

void sdk_mem_free(imcast_mem *m)
{
  if (m == NULL)
    return;
  block *b = m->head;
  while (b != NULL) {
    block *next = b->next;
    free(b);
    b = next;
  }
  free(m);
}
