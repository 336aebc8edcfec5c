/*
** buf.h — net_buf: immutable, refcounted bytes shared by many outputs.
**
** A WebSocket frame fanned out to thousands of receivers is one net_buf with one
** reference per queue that holds it: writing it to N connections costs N references and
** no copies. The bytes never change once the buffer is shared.
** Threads: refcounts are plain integers: every reference is taken and dropped on the
** loop thread (I/O threads only read the bytes while the loop thread waits for them).
*/
#ifndef IMCAST_NET_BUF_H
#define IMCAST_NET_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct net_buf {
  uint32_t refs;
  uint32_t cap;   /* bytes allocated in data[] */
  uint32_t len;   /* bytes used */
  char data[];
} net_buf;

/* A buffer of capacity cap with len 0 and one reference; NULL when out of memory. */
net_buf *net_buf_new(size_t cap);
/* A buffer holding a copy of p[0..len). */
net_buf *net_buf_copy(const void *p, size_t len);
static inline net_buf *net_buf_ref(net_buf *b) { b->refs++; return b; }
/* Drops one reference; the last one frees the buffer. NULL is ignored. */
void net_buf_unref(net_buf *b);

#endif
