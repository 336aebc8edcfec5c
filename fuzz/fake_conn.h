/*
** fake_conn.h — the harness side of fake_conn.c (net/conn.h without sockets).
**
** A fuzz target makes its server as usual (http_server_new: the hub it creates is
** fake_last_hub), opens connections with fake_conn_accept, queues the peer's bytes with
** fake_conn_send, and runs loop turns with fake_hub_turn until it returns false (idle).
*/
#ifndef IMCAST_FUZZ_FAKE_CONN_H
#define IMCAST_FUZZ_FAKE_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "net/conn.h"

/* The hub made by the last conn_hub_new (http_server_new makes one). */
extern conn_hub *fake_last_hub;

/* A new connection, handed to the hub's on_accept. */
conn *fake_conn_accept(conn_hub *hub);
/* The peer sends bytes; they are read in the next turns. */
void fake_conn_send(conn *c, const void *p, size_t n);
/* The peer will have closed its side once its bytes are read. */
void fake_conn_eof(conn *c);
/* A slow peer: it reads at most bytes_per_turn of our output per loop turn (0: all).
** Output then backs up (conn_pending_output, conn_output_full, the receivers' cap). */
void fake_conn_set_drain(conn *c, size_t bytes_per_turn);
/* Everything the peer has received so far. */
const char *fake_conn_received(const conn *c, size_t *len);
void fake_conn_clear_received(conn *c);
/* What is queued and not read by the peer yet (a slow peer's backlog; after a close,
** what it never got). */
const char *fake_conn_unsent(const conn *c, size_t *len);
/* True once the connection is closed. The struct (and what it received) stays until
** fake_conn_free, after its close callback has run. */
bool fake_conn_closed(const conn *c);
/* True when it was closed at once (conn_close) with output the peer had not read: what
** it received may end inside a response. */
bool fake_conn_dropped_output(const conn *c);
/* Forgets a connection: an open one is closed first (the peer vanished) and its close
** callback runs now. */
void fake_conn_free(conn *c);

/* One loop turn: each readable connection reads up to read_max bytes (0: 64 KiB), then
** end_of_turn(ctx) runs (the daemon's uv_check: commit, then flush), then close callbacks.
** Returns whether anything happened. */
bool fake_hub_turn(conn_hub *hub, size_t read_max, void (*end_of_turn)(void *), void *ctx);
/* Fires every armed deadline (as if every timeout had passed). */
void fake_hub_expire(conn_hub *hub);
/* Closes every connection and runs the close callbacks. */
void fake_hub_close_all(conn_hub *hub);

#endif
