/*
** bconn.h — a blocking TCP connection with a read buffer, for the controlling side of the
** bench: the admin REST calls (rest.c) and the Redis publisher (resp.c).
**
** The pushing side is deliberately plain blocking I/O in its own process: it writes a
** burst back to back, then reads the answers; receivers live in other processes.
*/
#ifndef IMCAST_BENCH_BCONN_H
#define IMCAST_BENCH_BCONN_H

#include <stddef.h>

typedef struct bconn {
  int fd;
  char *buf;            /* unread input is buf[off .. len) */
  size_t off, len, cap;
} bconn;

/* Connects (TCP_NODELAY). 0, or -1 with a message on stderr. */
int bconn_open(bconn *c, const char *host, int port);
/* Writes every byte of the iovec-like pair (b may be NULL). 0 or -1. */
int bconn_write2(bconn *c, const void *a, size_t alen, const void *b, size_t blen);
/* Reads what is available into the buffer, waiting at most timeout_ms. 0, or -1 on EOF,
** error or timeout. */
int bconn_fill(bconn *c, int timeout_ms);
/* Drops n bytes of unread input. */
void bconn_consume(bconn *c, size_t n);
void bconn_close(bconn *c);

#endif
