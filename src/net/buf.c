/*
** buf.c — net_buf (see buf.h).
*/
#include "net/buf.h"

#include <stdlib.h>
#include <string.h>

net_buf *net_buf_new(size_t cap) {
  if (cap > UINT32_MAX - sizeof(net_buf)) return NULL;
  net_buf *b = malloc(sizeof *b + cap);
  if (!b) return NULL;
  b->refs = 1;
  b->cap = (uint32_t)cap;
  b->len = 0;
  return b;
}

net_buf *net_buf_copy(const void *p, size_t len) {
  net_buf *b = net_buf_new(len);
  if (!b) return NULL;
  if (len) memcpy(b->data, p, len);
  b->len = (uint32_t)len;
  return b;
}

void net_buf_unref(net_buf *b) {
  if (b && --b->refs == 0) free(b);
}
