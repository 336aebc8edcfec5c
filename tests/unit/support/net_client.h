/*
** net_client.h — a blocking test client for a server under test on 127.0.0.1.
**
** The test thread speaks to the server (running on its loop thread, loop_thread.h) over
** blocking sockets, plain TCP or TLS, with 5-second send and receive timeouts and
** TCP_NODELAY: a server that does not answer fails the test instead of hanging it, and
** each cl_send reaches the server as its own write (tests split requests on purpose).
**
** Bytes read accumulate in cl->buf, which stays NUL-terminated so text protocols can
** search it with string functions. A reader parses from the front with cl_fill (read more)
** and cl_drop (consume). cl_response reads one HTTP/1.1 response; readers for other
** protocols (WebSocket frames, ...) live in their tests on top of cl_fill and cl_drop.
** Failures end the test through cmocka's assertions; functions that return -1 say so.
**
** TLS clients verify the server's certificate for "localhost" against ca_file alone (the
** test's own certificate, test_certs.h). tcp_connect, tls_client_ctx and tls_client are
** the pieces, for tests that keep many bare connections and no net_client around them.
*/
#ifndef IMCAST_TEST_NET_CLIENT_H
#define IMCAST_TEST_NET_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct net_client {
  int fd;
  SSL_CTX *ctx; /* NULL for plain TCP */
  SSL *ssl;
  char *buf;    /* len bytes read and not yet consumed, then a NUL */
  size_t len, cap;
} net_client;

/* One HTTP/1.1 response as cl_response reads it. */
typedef struct net_response {
  int status;
  char connection[32];   /* the Connection header, "" when absent */
  char content_type[64]; /* likewise Content-Type */
  char *head;            /* the status line and headers up to the blank line, NUL-terminated */
  char *body;            /* body_len bytes (Content-Length), NUL-terminated */
  size_t body_len;
} net_response;

/* A TCP connection to 127.0.0.1:port with the timeouts above; -1 if it is refused. */
int tcp_connect(int port);

/* A client context that trusts only ca_file and verifies the peer. */
SSL_CTX *tls_client_ctx(const char *ca_file);

/* The TLS handshake on fd as client of "localhost"; NULL (errors printed) if it fails. */
SSL *tls_client(SSL_CTX *ctx, int fd);

net_client *cl_connect(int port);
net_client *cl_connect_tls(int port, const char *ca_file);
void cl_close(net_client *cl);

/* Writes all n bytes (the test fails if it cannot). */
void cl_send(net_client *cl, const void *p, size_t n);
void cl_sends(net_client *cl, const char *s);

/* Reads more bytes into cl->buf; returns the count, 0 at EOF, -1 on error or timeout. */
ssize_t cl_fill(net_client *cl);

/* Consumes the first n bytes of cl->buf. */
void cl_drop(net_client *cl, size_t n);

/* True when the server closes with nothing more to read (EOF or reset). */
bool cl_eof(net_client *cl);

/* Reads one response into *r (free it with resp_clear); head_only for HEAD requests (no
** body whatever Content-Length says). The bytes after it stay in cl->buf. Returns 0, or -1
** (and *r empty) if the connection ended first. */
int cl_response_ex(net_client *cl, net_response *r, bool head_only);
int cl_response(net_client *cl, net_response *r);
void resp_clear(net_response *r);

/* Copies the value of header name (any case, leading spaces skipped) from an HTTP head
** into out; "" when there is none. */
void copy_header(const char *head, const char *name, char *out, size_t cap);

#endif
