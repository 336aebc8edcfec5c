/*
** ws.h — the WebSocket (RFC 6455) server side, on a connection taken over from HTTP.
**
** ws_accept() checks an HTTP Upgrade request, answers 101 and takes the connection from
** the HTTP layer (http_takeover). From then on:
**   - complete text messages (fragments reassembled, at most max_message_bytes) reach
**     on_text; pings are answered with pongs; a close handshake is answered;
**   - protocol errors close the connection with the RFC's code: 1002 (protocol error,
**     including an unmasked client frame), 1003 (binary message), 1007 (text that is not
**     UTF-8), 1009 (message over max_message_bytes);
**   - a connection from which nothing arrives for idle_timeout_ms is closed (1001).
** Sending: ws_send_text() frames and copies; ws_frame_text() encodes a frame ONCE into a
** net_buf that ws_send_frame() queues on any number of connections without copying (the
** push fan-out). Output goes through conn's queue: one writev per connection per loop turn.
**
** Ownership: the ws_server owns its connections; on_close is called exactly once per
** connection (never from inside a ws_* call), and the ws_conn is freed when it returns.
** Threads: one loop, as net/conn.h.
*/
#ifndef IMCAST_WS_H
#define IMCAST_WS_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "net/http.h"

typedef struct ws_server ws_server;
typedef struct ws_conn ws_conn;

typedef struct ws_handler {
  /* One complete text message (valid UTF-8; not NUL-terminated). */
  void (*on_text)(ws_conn *ws, const char *text, size_t len);
  /* The connection is gone (close handshake, error, timeout, peer vanished); `code` is the
  ** close code sent or received (1005 for a close frame without a code, 1006 when no close
  ** frame was exchanged). ws is freed when this returns. */
  void (*on_close)(ws_conn *ws, uint16_t code);
} ws_handler;

typedef struct ws_options {
  size_t max_message_bytes;     /* default 64 KiB */
  uint64_t idle_timeout_ms;     /* default 90 s (3 x PingSec 30) */
} ws_options;

/* A server for the connections upgraded on srv's listeners (pass ws_accept requests of
** srv only). NULL when out of memory. */
ws_server *ws_server_new(http_server *srv, const ws_options *opts);
/* Frees the server; only once it has no connection left, and before http_server_free(srv)
** (its idle-timeout queue is registered with the hub of srv's connections). */
void ws_server_free(ws_server *s);
size_t ws_server_count(const ws_server *s);
/* Sends every connection a close frame with code and reason and closes it after flush
** (shutdown: 1001 "going away"). */
void ws_server_close_all(ws_server *s, uint16_t code, const char *reason);

/*
** Accepts an Upgrade request: GET, "Upgrade: websocket", "Connection: upgrade",
** "Sec-WebSocket-Version: 13" and a valid Sec-WebSocket-Key. Returns the new connection
** (handler and data installed, reading started). When the request is not a valid
** WebSocket upgrade it answers it itself (400 with a short text, or 426 for a wrong
** version) and returns NULL.
*/
ws_conn *ws_accept(ws_server *s, http_request *req, const ws_handler *h, void *data);

void ws_set_data(ws_conn *ws, void *data);
void *ws_data(const ws_conn *ws);
const char *ws_peer(const ws_conn *ws);

/* Frames and queues one text message (copied). */
void ws_send_text(ws_conn *ws, const char *text, size_t len);
/* Encodes one unmasked text frame holding text[0..len). One reference; NULL on no memory. */
net_buf *ws_frame_text(const char *text, size_t len);
/* Queues an encoded frame; takes over one reference (pass net_buf_ref(f) to share). */
void ws_send_frame(ws_conn *ws, net_buf *frame);
/* Bytes queued and not yet taken by the kernel (for the per-receiver output cap). */
size_t ws_pending_output(const ws_conn *ws);

/* Sends a close frame (code, reason) and closes after the queued output is flushed. */
void ws_close(ws_conn *ws, uint16_t code, const char *reason);
/* Closes at once, dropping queued output (a receiver over its output cap). */
void ws_abort(ws_conn *ws);

#endif
