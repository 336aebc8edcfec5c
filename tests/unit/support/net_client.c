/* net_client.c — see net_client.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/net_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

SSL_CTX *tls_client_ctx(const char *ca_file) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(ctx);
  assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca_file, NULL), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  return ctx;
}

SSL *tls_client(SSL_CTX *ctx, int fd) {
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  if (SSL_connect(ssl) != 1) {
    ERR_print_errors_fp(stderr);
    SSL_free(ssl);
    return NULL;
  }
  return ssl;
}

net_client *cl_connect(int port) {
  net_client *cl = calloc(1, sizeof *cl);
  assert_non_null(cl);
  cl->cap = 1 << 18;
  cl->buf = malloc(cl->cap);
  cl->buf[0] = '\0';
  cl->fd = tcp_connect(port);
  assert_true(cl->fd >= 0);
  return cl;
}

net_client *cl_connect_tls(int port, const char *ca_file) {
  net_client *cl = cl_connect(port);
  cl->ctx = tls_client_ctx(ca_file);
  cl->ssl = tls_client(cl->ctx, cl->fd);
  if (!cl->ssl) fail_msg("TLS handshake failed");
  assert_int_equal(SSL_get_verify_result(cl->ssl), X509_V_OK);
  return cl;
}

void cl_close(net_client *cl) {
  if (cl->ssl) SSL_free(cl->ssl);
  if (cl->ctx) SSL_CTX_free(cl->ctx);
  close(cl->fd);
  free(cl->buf);
  free(cl);
}

void cl_send(net_client *cl, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t w = cl->ssl ? SSL_write(cl->ssl, s, (int)n) : send(cl->fd, s, n, MSG_NOSIGNAL);
    if (w <= 0) fail_msg("send failed: %s", strerror(errno));
    s += w;
    n -= (size_t)w;
  }
}

void cl_sends(net_client *cl, const char *s) { cl_send(cl, s, strlen(s)); }

ssize_t cl_fill(net_client *cl) {
  if (cl->cap - cl->len < 65536) {
    cl->cap *= 2;
    cl->buf = realloc(cl->buf, cl->cap);
  }
  ssize_t r;
  if (cl->ssl) {
    r = SSL_read(cl->ssl, cl->buf + cl->len, (int)(cl->cap - cl->len - 1));
    if (r <= 0) {
      int e = SSL_get_error(cl->ssl, (int)r);
      ERR_clear_error();
      return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
  } else {
    r = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len - 1, 0);
    if (r < 0) return -1;
  }
  cl->len += (size_t)r;
  cl->buf[cl->len] = '\0';
  return r;
}

void cl_drop(net_client *cl, size_t n) {
  memmove(cl->buf, cl->buf + n, cl->len - n);
  cl->len -= n;
  cl->buf[cl->len] = '\0';
}

bool cl_eof(net_client *cl) {
  if (cl->len) return false;
  ssize_t r = cl_fill(cl);
  return r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE));
}

void copy_header(const char *head, const char *name, char *out, size_t cap) {
  out[0] = '\0';
  size_t nlen = strlen(name);
  for (const char *p = head; (p = strstr(p, "\r\n")) != NULL;) {
    p += 2;
    if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      p += nlen + 1;
      while (*p == ' ') p++;
      size_t k = 0;
      while (p[k] && p[k] != '\r' && k + 1 < cap) {
        out[k] = p[k];
        k++;
      }
      out[k] = '\0';
      return;
    }
  }
}

/* n bytes and a NUL (the bytes may hold NULs of their own). */
static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  assert_non_null(d);
  memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

int cl_response_ex(net_client *cl, net_response *r, bool head_only) {
  memset(r, 0, sizeof *r);
  char *end;
  while (!(end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)))
    if (cl_fill(cl) <= 0) return -1;
  size_t head_len = (size_t)(end - cl->buf) + 4;
  char *head = dup_bytes(cl->buf, head_len);
  char clen[32];
  copy_header(head, "Content-Length", clen, sizeof clen);
  size_t blen = head_only ? 0 : (size_t)atol(clen);
  while (cl->len < head_len + blen)
    if (cl_fill(cl) <= 0) {
      free(head);
      return -1;
    }
  assert_int_equal(sscanf(head, "HTTP/1.1 %d", &r->status), 1);
  copy_header(head, "Connection", r->connection, sizeof r->connection);
  copy_header(head, "Content-Type", r->content_type, sizeof r->content_type);
  r->head = head;
  r->body = dup_bytes(cl->buf + head_len, blen);
  r->body_len = blen;
  cl_drop(cl, head_len + blen);
  return 0;
}

int cl_response(net_client *cl, net_response *r) { return cl_response_ex(cl, r, false); }

void resp_clear(net_response *r) {
  free(r->head);
  free(r->body);
  memset(r, 0, sizeof *r);
}
