/*
** bconn.c — blocking TCP connection with a read buffer (see bconn.h).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bconn.h"
#include "bench.h"

int bconn_open(bconn *c, const char *host, int port)
{
  memset(c, 0, sizeof *c);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "imcast-bench: %s is not an IPv4 address\n", host);
    return -1;
  }
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    fprintf(stderr, "imcast-bench: cannot connect to %s:%d: %s\n", host, port, strerror(errno));
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    return -1;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->cap = 1 << 16;
  c->buf = xmalloc(c->cap);
  return 0;
}

int bconn_write2(bconn *c, const void *a, size_t alen, const void *b, size_t blen)
{
  struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, b ? blen : 0}};
  int n_iov = 2, first = 0;
  while (first < n_iov) {
    ssize_t n = writev(c->fd, iov + first, n_iov - first);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "imcast-bench: write: %s\n", strerror(errno));
      return -1;
    }
    while (first < n_iov && (size_t)n >= iov[first].iov_len) n -= (ssize_t)iov[first++].iov_len;
    if (first < n_iov) {
      iov[first].iov_base = (char *)iov[first].iov_base + n;
      iov[first].iov_len -= (size_t)n;
    }
  }
  return 0;
}

int bconn_fill(bconn *c, int timeout_ms)
{
  if (c->off > 0 && c->off == c->len) c->off = c->len = 0;
  if (c->off > c->cap / 2) {
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
  }
  if (c->len == c->cap) {
    c->cap *= 2;
    // False positive: cap starts at 1 << 16 when the connection opens and only doubles,
    // so it is never 0.
    // NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI): see above
    char *grown = realloc(c->buf, c->cap);
    if (!grown) die("out of memory");
    c->buf = grown;
  }
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  int rc;
  while ((rc = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (rc == 0) {
    fprintf(stderr, "imcast-bench: no answer within %d ms\n", timeout_ms);
    return -1;
  }
  ssize_t n;
  while ((n = read(c->fd, c->buf + c->len, c->cap - c->len)) < 0 && errno == EINTR) {
  }
  if (n <= 0) {
    fprintf(stderr, "imcast-bench: connection %s\n", n == 0 ? "closed by the server" : strerror(errno));
    return -1;
  }
  c->len += (size_t)n;
  return 0;
}

void bconn_consume(bconn *c, size_t n) { c->off += n; }

void bconn_close(bconn *c)
{
  if (c->fd >= 0) close(c->fd);
  free(c->buf);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}
