/*
** http.h — the HTTP/1.1 server: libuv TCP (plain or TLS), http-parser, keep-alive,
** pipelining, limits, and responses coalesced into one write per connection per loop turn.
**
** Model: the server calls on_request once per complete request (method, target, headers,
** body all read). The owner answers with http_respond(), at once or later (e.g. after a
** group commit); responses leave in request order on each connection whatever order they
** are given in. Nothing is written to a socket until http_server_flush(), which the owner
** calls once per loop turn (after committing), so a burst of pipelined requests is
** answered with one writev.
**
** Requests that are not valid HTTP never reach on_request: the server answers them itself
** with 400 (malformed), 431 (request line + headers over max_header_bytes), 413 (body over
** max_body_bytes) or 408 (not complete within request_timeout_ms), each with the body
** {"ActionStatus":"FAIL","ErrorInfo":"<why>","ErrorCode":60002} and Connection: close.
**
** Ownership: the server owns every connection and request; an http_request is valid from
** on_request until http_respond() returns (or the connection closes: then on_abandon is
** called for it, and the owner must not respond). Buffers passed in are copied.
** The precise rule when a peer goes away with requests unanswered:
**  - with on_abandon set, it is called once for each such request, when the connection is
**    closed (from a libuv close callback, never from inside an http_* call). The owner
**    drops every reference to it there (e.g. takes it off a commit's waiting list, frees
**    its data); the server frees it when on_abandon returns. Until on_abandon the owner
**    may still call http_respond (the answer is then dropped).
**  - with on_abandon NULL, such a request outlives its connection until the owner calls
**    http_respond on it (the answer is dropped and the request freed), so holding it is
**    always safe; an owner that never answers leaks it.
** Threads: one loop; no call may come from another thread.
*/
#ifndef IMCAST_HTTP_H
#define IMCAST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <openssl/ssl.h>

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef struct http_limits {
  size_t max_header_bytes;      /* request line + headers; default 16 KiB -> 431 */
  size_t max_body_bytes;        /* default 1 MiB -> 413 */
  uint64_t request_timeout_ms;  /* a started request must be complete by then; default 30 s */
  uint64_t idle_timeout_ms;     /* keep-alive connection with nothing in flight; default 120 s */
  unsigned max_connections;     /* over it a new connection is closed at once; default 10000 */
  unsigned max_pipelined;       /* requests in flight per connection before reading pauses; default 64 */
  unsigned io_threads;          /* threads sharing a large flush's writes (0/1: the loop only) */
  unsigned max_per_ip;          /* connections one peer address may hold; 0 = no cap */
} http_limits;

typedef struct http_server_options {
  uv_loop_t *loop;
  http_limits limits;                                   /* zero fields take the defaults */
  void (*on_request)(http_request *req, void *ctx);
  void (*on_abandon)(http_request *req, void *ctx);     /* may be NULL */
  void *ctx;
} http_server_options;

/* Returns 0 or a negative errno / libuv error. */
int http_server_new(http_server **out, const http_server_options *opts);

/*
** Listens on host:port (port 0 picks a free one; *bound_port, if not NULL, receives the
** port). tls NULL means plain HTTP; otherwise connections speak TLS with that context
** (the server takes a reference; the caller may free its own). Call once per listener.
** Returns 0 or a negative libuv error (e.g. UV_EADDRINUSE).
*/
int http_server_listen(http_server *srv, const char *host, int port, SSL_CTX *tls,
                       int *bound_port);

/* Writes every response queued since the last flush. Call once per loop turn, from a
** uv_check handle (not from inside on_request: it would do nothing there). While
** answers wait for it, the server keeps the loop from sleeping, so answers given in a
** timer callback still leave in that same turn. */
void http_server_flush(http_server *srv);

/*
** Graceful stop: closes the listeners at once, lets every connection finish the requests
** it has in flight (answers are flushed), then closes it; calls done(ctx) once every
** connection is closed. Idle connections close at once. A request still being received
** is dropped. Connections taken over with http_takeover() are their new owner's to
** close; done waits for them too.
*/
void http_server_shutdown(http_server *srv, void (*done)(void *ctx), void *ctx);
/* Frees the server; only after shutdown's done callback, or if it never listened
** successfully. */
void http_server_free(http_server *srv);

/* Open connections, for metrics. */
size_t http_server_connections(const http_server *srv);
/* Connections closed at accept for max_connections, and for max_per_ip. */
void http_server_refused(const http_server *srv, uint64_t *over_total, uint64_t *over_per_ip);

/* The statuses the server answers requests with itself (malformed, too slow, body too
** large, head too large). */
#define HTTP_N_REJECTED 4
extern const int http_rejected_statuses[HTTP_N_REJECTED];
/* Requests the server answered itself with `status` (one of http_rejected_statuses; 0 for
** any other status), counted when the answer is queued. */
uint64_t http_server_rejected(const http_server *srv, int status);

/* New TLS context for every https listener (SIGHUP certificate reload); open connections
** keep theirs. Takes its own references. Returns how many listeners changed. */
int http_server_replace_tls(http_server *srv, SSL_CTX *tls);

/* Replaces the ctx given to the callbacks (for an owner made after the server). */
void http_server_set_context(http_server *srv, void *ctx);

/* --- the request (valid until answered) --- */
const char *http_request_method(const http_request *req);        /* "POST", "GET", ... */
const char *http_request_path(const http_request *req);          /* without the query */
/* The first value of a query parameter, percent-decoded ('+' stays '+'), or NULL. */
const char *http_request_query(const http_request *req, const char *name);
/* A header's value (name compared case-insensitively), or NULL. */
const char *http_request_header(const http_request *req, const char *name);
/* The body (NUL-terminated for convenience; *len excludes the NUL). */
const char *http_request_body(const http_request *req, size_t *len);
/* The peer's IP address as text. */
const char *http_request_peer(const http_request *req);
bool http_request_is_tls(const http_request *req);

/* Extra data the owner may hang on a request (e.g. while it awaits a commit). */
void http_request_set_data(http_request *req, void *data);
void *http_request_get_data(const http_request *req);

/*
** Answers the request. Adds Content-Length, Content-Type (content_type), Date-free
** minimal headers, and Connection: keep-alive or close as the request asked (HTTP/1.0
** without keep-alive, or "Connection: close", closes after this response).
** The body is copied. req is invalid afterwards.
*/
void http_respond(http_request *req, int status, const char *content_type,
                  const void *body, size_t len);
/* The same with extra header lines: `headers` is "Name: value\r\n" lines, or NULL. */
void http_respond_with(http_request *req, int status, const char *headers,
                       const char *content_type, const void *body, size_t len);

/*
** Protocol hand-off (WebSocket): takes the connection of an Upgrade request away from
** HTTP. `response` (e.g. the complete "101 Switching Protocols" head) is copied and queued
** as the request's answer; req is freed. The caller then owns the connection: it must
** install its handler with conn_set_handler() (net/conn.h) and call conn_read_start();
** bytes the client sent after the request are delivered to that handler first. Only a
** request with an Upgrade (Connection: upgrade) header that is the only one in flight on
** its connection can be taken over; otherwise NULL is returned and req stays valid (answer
** it with http_respond, which closes the connection after the answer).
*/
struct conn *http_takeover(http_request *req, const void *response, size_t len);

/* --- TLS --- */
/* Makes a server TLS context from PEM files (certificate chain and private key).
** Returns NULL and writes a one-line reason into err on failure. Free with SSL_CTX_free. */
SSL_CTX *http_tls_context(const char *cert_pem, const char *key_pem, char *err, size_t errlen);

#endif
