/*
** rx_internal.h — pure helpers of the receiver library, shared by its files and its tests.
**
** Nothing here does I/O or keeps state: URL parsing, the upgrade request, the
** Sec-WebSocket-Key/Accept pair, the HTTP response head and body framing, and finding a
** member's raw text in a JSON object. Keeping them pure lets tests/unit/test_receiver.c
** pin down their edge cases without a socket.
*/
#ifndef IMCAST_RX_INTERNAL_H
#define IMCAST_RX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define IMCAST_RX_HOST_MAX 255
#define IMCAST_RX_PATH_MAX 512

/* ---------------------------------------------------------------------- rx_url.c --- */

typedef struct imcast_rx_url {
  int tls;                              /* wss:// */
  int host_is_ip;                       /* IPv4 or IPv6 literal */
  int host_is_ip6;                      /* written [..] in the URL and Host header */
  uint16_t port;                        /* explicit or 80/443 */
  int default_port;                     /* port was absent or equal to the default */
  char host[IMCAST_RX_HOST_MAX + 1];    /* no brackets */
  char path[IMCAST_RX_PATH_MAX + 1];    /* prefix before /v4/ws, no trailing '/'; "" */
} imcast_rx_url;

/* 0, or UV_EINVAL for anything but ws[s]://host[:port][/path] with safe characters
 * (no userinfo, query or fragment). */
int imcast_rx_url_parse(const char *url, imcast_rx_url *out);

/* Percent-encodes src for a query value: unreserved characters and '*' (UserSig's
 * alphabet) stay, every other byte becomes %XX. Writes at most cap-1 bytes plus NUL;
 * returns the full encoded length (like snprintf). */
size_t imcast_rx_pct_encode(char *dst, size_t cap, const char *src);

/* The upgrade request up to, not including, the Sec-WebSocket-Key header line.
 * malloc'd; NULL when out of memory. */
char *imcast_rx_request_head(const imcast_rx_url *u, uint64_t sdkappid,
                             const char *identifier, const char *usersig);

/* A fresh Sec-WebSocket-Key (16 random bytes, base64: 24 chars + NUL). 0 or -1. */
int imcast_rx_ws_key(char key[25]);

/* The Sec-WebSocket-Accept the server must answer for key (28 chars + NUL). 0 or -1. */
int imcast_rx_ws_accept(const char *key, char accept[29]);

/* --------------------------------------------------------------------- rx_http.c --- */

#define IMCAST_RX_HTTP_HEAD_MAX ((size_t)16 * 1024)
#define IMCAST_RX_HTTP_BODY_MAX ((size_t)64 * 1024)

typedef struct imcast_rx_http_head {
  int status;
  size_t head_len;          /* bytes up to and including the blank line */
  int64_t content_length;   /* -1 when absent */
  int chunked;              /* Transfer-Encoding: chunked */
  int upgrade_websocket;    /* Upgrade: websocket */
  int connection_upgrade;   /* Connection lists the token "upgrade" */
  int has_extensions;       /* Sec-WebSocket-Extensions present (we offered none) */
  int has_protocol;         /* Sec-WebSocket-Protocol present (we offered none) */
  const char *accept;       /* Sec-WebSocket-Accept value inside buf, or NULL */
  size_t accept_len;
} imcast_rx_http_head;

/* Parses a response head at the start of buf. 1 complete, 0 need more bytes,
 * -1 malformed or longer than IMCAST_RX_HTTP_HEAD_MAX. */
int imcast_rx_http_parse_head(const char *buf, size_t len, imcast_rx_http_head *h);

/* Frames the body that follows the head: body/len are the bytes received so far (a
 * chunked body is decoded in place), eof says the peer has closed. 1 complete with
 * *out_len bytes (capped at IMCAST_RX_HTTP_BODY_MAX), 0 need more, -1 malformed. */
int imcast_rx_http_body(const imcast_rx_http_head *h, char *body, size_t len, int eof,
                        size_t *out_len);

/* --------------------------------------------------------------------- rx_json.c --- */

/* Finds top-level member `key` of the JSON object in json[0..len) and returns the exact
 * text of its value. 1 found, 0 absent, -1 not an object / malformed. Meant for text
 * jansson has already accepted; keys are compared as raw bytes (no escape decoding). */
int imcast_rx_json_member(const char *json, size_t len, const char *key,
                          const char **val, size_t *val_len);

#endif /* IMCAST_RX_INTERNAL_H */
