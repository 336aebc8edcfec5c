/*
** imcast_receiver.h — a receiver client for imcastd's WebSocket protocol.
**
** One imcast_receiver is one end user's connection to GET /v4/ws as defined by
** spec/client-protocol.md: it performs the HTTP/1.1 upgrade (ws:// or wss://), parses the
** server's JSON events, hands them to callbacks, acknowledges pushes, pings every PingSec,
** and reconnects with exponential backoff. It is built on libuv + wslay and is meant for
** the end-to-end tests, the load generator (thousands of receivers in one loop), the
** CLI's `listen` command and the C SDK.
**
** Threads. A receiver lives on the one uv loop it was created with and is not
** thread-safe: call every function of this header on that loop's thread. Receivers on
** different loops in different threads are independent. Nothing here blocks.
**
** Ownership. imcast_receiver_new copies every string of the options; the caller may free
** them after it returns. Pointers handed to callbacks (strings, imcast_msg and the JSON
** text it points into) are valid only during that callback. imcast_receiver_free may be
** called at any time, from inside any callback too: after it no callback runs, and the
** memory is released by the loop's close callbacks, so run the loop until it has no
** more handles (as with any libuv handle) before uv_loop_close.
**
** Errors are negative ints: libuv's codes (UV_ECONNREFUSED, UV_ETIMEDOUT, ...) pass
** through unchanged, and the IMCAST_RX_E* codes below cover the rest;
** imcast_receiver_strerror names both.
**
** Life of a connection (browser-like). Every connection attempt ends with exactly one
** on_close. A failure — resolve/connect/TLS error, upgrade refused or invalid, no Hello
** within connect_timeout_ms, read/write error, a silent server — first gets on_error; a
** server that merely drops the TCP connection gets on_close(1006) alone. A clean close
** carries the code of the server's close frame; any other end reports 1006. on_close
** says whether the receiver will try again; it does not after imcast_receiver_close,
** after a Kicked event or close code 4001, after an upgrade refused with a 4xx status
** (other than 408/429), or when reconnect is off. Events the receiver cannot use (bad
** JSON, a Msg missing a field, a binary frame) get on_error(IMCAST_RX_EPROTO) and are
** skipped; the connection carries on. Unknown events are ignored silently.
**
** Nothing is called back from inside imcast_receiver_start/ack/send_text/close: frames
** are queued and sent once per loop turn, connections are made from the loop.
*/
#ifndef IMCAST_RECEIVER_H
#define IMCAST_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct imcast_receiver imcast_receiver;

/* Error codes of this library; far from libuv's range (-1..-4095, UV_EAI_* ~ -3000). */
enum {
  IMCAST_RX_EHTTP = -30001,      /* the server answered the upgrade with another status */
  IMCAST_RX_EHANDSHAKE = -30002, /* a 101 that is not a valid WebSocket upgrade */
  IMCAST_RX_EPROTO = -30003,     /* a frame or event that breaks the protocol */
  IMCAST_RX_ETLS = -30004,       /* TLS handshake/record failure, certificate included */
  IMCAST_RX_ESILENT = -30005,    /* nothing from the server for 3 x PingSec */
  IMCAST_RX_EWS = -30006         /* wslay refused an operation (out of memory, closed) */
};

typedef enum imcast_receiver_state {
  IMCAST_RX_IDLE,       /* created, never started */
  IMCAST_RX_CONNECTING, /* resolving, TCP/TLS connect, upgrade, waiting for Hello */
  IMCAST_RX_OPEN,       /* Hello received: pushes flow */
  IMCAST_RX_CLOSING,    /* close handshake or teardown under way */
  IMCAST_RX_WAITING,    /* backoff before the next attempt (also just after start) */
  IMCAST_RX_STOPPED     /* no connection and none planned; imcast_receiver_start again */
} imcast_receiver_state;

/* One push ({"Event":"Msg",...}). The JSON spans are not NUL-terminated (print them with
 * "%.*s"); string fields are. Everything is valid only during on_msg. */
typedef struct imcast_msg {
  int64_t seq;                 /* the app-wide push sequence number (acknowledge this) */
  const char *task_id;
  const char *from_account;
  const char *to_account;      /* NULL when the server omitted it (shared fan-out frame) */
  uint32_t msg_random;
  int64_t msg_time;            /* unix seconds */
  const char *json;            /* the whole event text, as received */
  size_t json_len;
  const char *body_json;       /* the MsgBody array text, byte for byte as received */
  size_t body_json_len;
  const char *offline_push_json; /* OfflinePushInfo text, NULL when absent */
  size_t offline_push_json_len;
  int maybe_duplicate;         /* 1 when seq <= the highest seq this receiver already
                                  passed to on_msg (e.g. redelivered after a reconnect);
                                  spec: clients drop duplicates by Seq */
} imcast_msg;

/* Callbacks; any may be NULL. `user` is imcast_receiver_options.user. */
typedef struct imcast_receiver_callbacks {
  void (*on_hello)(void *user, const char *user_id, int64_t server_time, int ping_sec);
  void (*on_msg)(void *user, const imcast_msg *m);
  void (*on_revoke)(void *user, int64_t seq, const char *task_id);
  void (*on_kicked)(void *user, const char *reason);
  /* code: the server's close code (1005 when its frame had none), or 1006 for any end
   * without a close handshake; reason: its text, or a short description (never NULL). */
  void (*on_close)(void *user, int code, const char *reason, int will_reconnect);
  /* err: negative code. http_status != 0 only for IMCAST_RX_EHTTP, and then detail is
   * the response body (e.g. the 70xxx JSON envelope of a 401). Otherwise detail is a
   * short human-readable explanation. detail is NUL-terminated; detail_len excludes it. */
  void (*on_error)(void *user, int err, int http_status, const char *detail,
                   size_t detail_len);
} imcast_receiver_callbacks;

/* Options. A zeroed struct plus url/sdkappid/identifier/usersig is a valid configuration:
 * every zero means the documented default. */
typedef struct imcast_receiver_options {
  const char *url;          /* "ws://host[:port][/prefix]" or "wss://..."; the library
                               appends /v4/ws and the query string */
  uint64_t sdkappid;
  const char *identifier;   /* the UserID */
  const char *usersig;      /* that user's UserSig */

  const char *ca_file;      /* wss: PEM bundle to trust; NULL = system default paths */
  void *ssl_ctx;            /* wss: an SSL_CTX* to share between receivers (up-ref'd;
                               ca_file is then ignored); NULL = one of our own */
  int tls_insecure;         /* wss: do not verify the certificate (tests only) */

  int manual_ack;           /* 0 (default): after each on_msg, Ack its Seq (see below) */
  uint32_t ack_delay_ms;    /* automatic Acks wait this long for more pushes, then one Ack
                               carries the highest Seq (Acks are cumulative): a burst of
                               pushes costs the device one upstream frame, not one each.
                               0 = 500; IMCAST_RX_ACK_NOW = at the end of the loop turn.
                               A close we start sends the pending Ack first. */
  uint32_t reconnect_initial_ms; /* 0 = never reconnect; else first backoff delay */
  uint32_t reconnect_max_ms;     /* backoff ceiling; 0 = 30000 */
  uint32_t connect_timeout_ms;   /* from connect to Hello; 0 = 10000 */

  imcast_receiver_callbacks cb;
  void *user;
} imcast_receiver_options;

/* ack_delay_ms: acknowledge at the end of the loop turn that received the push. */
#define IMCAST_RX_ACK_NOW UINT32_MAX
#define IMCAST_RX_DEFAULT_ACK_DELAY_MS 500

/* Validates and copies the options. NULL when they are invalid (bad URL, missing
 * identifier/usersig, unreadable ca_file) or memory ran out. Does not connect. */
imcast_receiver *imcast_receiver_new(uv_loop_t *loop, const imcast_receiver_options *opts);

/* Starts connecting (from IDLE or STOPPED — e.g. inside an on_close that said it will not
 * reconnect). 0, or UV_EALREADY while an attempt, its teardown or a backoff is under way. */
int imcast_receiver_start(imcast_receiver *r);

/* Acknowledges every Seq <= seq delivered on the current connection. Coalesced with the
 * automatic acks. 0, UV_ENOTCONN when not open, UV_EINVAL for a negative seq. */
int imcast_receiver_ack(imcast_receiver *r, int64_t seq);

/* Sends a text frame as is (tests use it to send odd events). 0 or negative. */
int imcast_receiver_send_text(imcast_receiver *r, const char *text, size_t len);

/* Closes with `code` (0 = 1000; else 1000, 1001 or 3000..4999) and stops reconnecting.
 * A pending Ack and frames queued by send_text go out first. on_close follows when the
 * close handshake ends (at most 2 s); before the upgrade the attempt is just dropped
 * (on_close 1006). 0, or UV_EINVAL for a bad code. Closing a receiver that is waiting
 * to reconnect just stops it (no on_close: no attempt is under way). */
int imcast_receiver_close(imcast_receiver *r, int code);

/* Releases the receiver (see Ownership above). No callback runs after this call. */
void imcast_receiver_free(imcast_receiver *r);

imcast_receiver_state imcast_receiver_get_state(const imcast_receiver *r);

/* A static description of err (ours or libuv's). */
const char *imcast_receiver_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* IMCAST_RECEIVER_H */
