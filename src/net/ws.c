/*
** ws.c — the WebSocket (RFC 6455) server side over conn (net/conn.h), after an HTTP
** Upgrade taken over with http_takeover().
**
** Guarantees (the contract is in ws.h):
** - Every byte a client sends is checked as it arrives: RSV bits (no extension is ever
**   negotiated), opcode, masking, control-frame rules and fragment sequencing (1002),
**   binary data (1003), the message size (1009, refused from the frame header, before its
**   payload is buffered) and UTF-8 of complete text messages and close reasons (1007).
** - Output order is call order: pongs, close frames, ws_send_text() and shared frames
**   from ws_send_frame() are all appended straight to the connection's queue; nothing
**   is buffered here. Once a close frame is queued, later data frames are dropped.
** - Closing: every close this side starts (error, ws_close, idle timeout, shutdown)
**   queues a close frame and then conn_close_after_flush(). conn writes it, half-closes
**   and drains the peer's input for its linger time, which is where the peer's answering
**   close frame arrives (and is discarded); the linger deadline bounds a silent peer.
**   A close the peer starts is answered with the same code, then closed the same way.
** - on_close runs exactly once, from conn's close callback (a libuv callback), so never
**   from inside a ws_* call; `code` is the close code sent or received (1005 for a close
**   frame without one, 1006 when none was exchanged).
** Why not wslay: a wslay 1.1.1 event context allocates 8,784 bytes (two 4 KiB I/O
** buffers), four times the memory budget of a whole idle connection. The server half of
** RFC 6455 is small, so it is done here with a parser whose idle state is a few dozen
** bytes: a reassembly buffer exists only while a message is being received, and a
** control frame's payload buffer only while that frame is being received.
** Per idle connection (test_ws.c measures it over 1,000 connections): struct conn (528
** bytes) + struct ws_conn (96) + libuv's per-fd slots = 640 bytes requested, 674 with
** glibc's malloc overhead. Over TLS, OpenSSL's per-connection state adds ~17 KB.
** The idle-timeout queue is registered with the hub of the first connection accepted
** (http.h has no accessor from http_server to its hub), which is why ws_server_free must
** come before http_server_free.
*/
#include "net/ws.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_DEFAULT_MAX_MESSAGE ((size_t)64 * 1024)
#define WS_DEFAULT_IDLE_MS 90000
#define WS_MAX_CONTROL 125       /* RFC 6455 5.5: control payloads are at most 125 bytes */
#define WS_MAX_HEAD 14           /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_KEY_LEN 24            /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28         /* base64 of a SHA-1 digest */
/* No pong is queued behind more unsent output than this: a peer that pings and never
** reads cannot make the server buffer pongs without bound. RFC 6455 5.5.3 lets an
** endpoint with pongs still unsent answer only some of the pings. */
#define WS_MAX_PONG_BACKLOG ((size_t)1024 * 1024)

enum {
  OP_CONT = 0x0,
  OP_TEXT = 0x1,
  OP_BINARY = 0x2,
  OP_CLOSE = 0x8,
  OP_PING = 0x9,
  OP_PONG = 0xA,
};

enum {
  CLOSE_GOING_AWAY = 1001,
  CLOSE_PROTOCOL = 1002,
  CLOSE_UNSUPPORTED = 1003,
  CLOSE_NO_STATUS = 1005,
  CLOSE_ABNORMAL = 1006,
  CLOSE_BAD_DATA = 1007,
  CLOSE_TOO_BIG = 1009,
};

struct ws_server {
  http_server *http;
  ws_options o;
  conn_hub *hub;           /* learnt from the first accepted connection */
  conn_tq idle_tq;         /* registered with hub at that moment */
  size_t count;
};

struct ws_conn {
  ws_server *srv;
  conn *c;
  const ws_handler *h;
  void *data;
  char *msg;               /* the text message being assembled; NULL between messages */
  uint8_t *ctl;            /* payload of the control frame being read; NULL otherwise */
  uint64_t left;           /* payload bytes of the current frame still to come */
  uint32_t msg_len, msg_cap;
  uint16_t code;           /* close code sent or received; 0 while none */
  uint8_t ctl_len;
  uint8_t head[WS_MAX_HEAD];
  uint8_t head_len;        /* header bytes of the coming frame gathered so far */
  uint8_t mask[4];
  uint8_t mask_at;         /* payload offset of the current frame, mod 4 */
  uint8_t opcode;          /* of the current frame */
  bool fin;
  bool in_payload;         /* the header is complete; payload bytes come next */
  bool in_message;         /* a fragmented text message awaits continuation frames */
  bool close_sent;
};

static const conn_handler ws_conn_handler;

/* ---------- small helpers ---------- */

/* RFC 3629 UTF-8 (no overlongs, surrogates or code points past U+10FFFF). Unlike
** text_is_utf8() it accepts NUL: U+0000 is valid text in a WebSocket message. */
static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp, min;
    if ((b & 0xE0) == 0xC0) k = 1, cp = b & 0x1F, min = 0x80;
    else if ((b & 0xF0) == 0xE0) k = 2, cp = b & 0x0F, min = 0x800;
    else if ((b & 0xF8) == 0xF0) k = 3, cp = b & 0x07, min = 0x10000;
    else return false;
    if (n - i <= k) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += k + 1;
  }
  return true;
}

/* Writes a server frame header (FIN set, unmasked) for a payload of len; returns its size. */
static size_t frame_head(uint8_t *h, uint8_t opcode, size_t len) {
  h[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    h[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xFFFF) {
    h[1] = 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    return 4;
  }
  h[1] = 127;
  for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

/* Queues one control frame (payload at most 125 bytes). */
static void write_control(ws_conn *ws, uint8_t opcode, const uint8_t *p, size_t n) {
  uint8_t f[2 + WS_MAX_CONTROL];
  size_t h = frame_head(f, opcode, n);
  /* cppcheck-suppress uninitvar ; send_close passes an unfilled p only with n == 0 */
  if (n) memcpy(f + h, p, n);
  conn_write(ws->c, f, h + n);
}

/* How many bytes of reason fit in a close frame without splitting a UTF-8 sequence. */
static size_t reason_fit(const char *reason, size_t len) {
  size_t room = WS_MAX_CONTROL - 2;
  if (len <= room) return len;
  while (room > 0 && ((uint8_t)reason[room] & 0xC0) == 0x80) room--;
  return room;
}

/* ---------- closing ---------- */

/* Queues a close frame, then lets conn finish: flush, half-close, drain, close. Codes
** that must not travel in a frame (0, 1005, 1006) give an empty close frame. */
static void send_close(ws_conn *ws, uint16_t code, const char *reason) {
  if (ws->close_sent || conn_is_closing(ws->c)) return;
  uint8_t p[WS_MAX_CONTROL];
  size_t n = 0;
  if (code != 0 && code != CLOSE_NO_STATUS && code != CLOSE_ABNORMAL) {
    size_t rlen = reason ? reason_fit(reason, strlen(reason)) : 0;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    // A close payload (code, then reason bytes) is sent with its length n: no C string.
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): see above
    if (rlen) memcpy(p + 2, reason, rlen);
    n = 2 + rlen;
  }
  write_control(ws, OP_CLOSE, p, n);
  ws->close_sent = true;
  if (!ws->code) ws->code = code ? code : CLOSE_NO_STATUS;
  conn_close_after_flush(ws->c);
}

/* A protocol violation: close with its code; the rest of the input is not read. */
static void fail(ws_conn *ws, uint16_t code, const char *why) { send_close(ws, code, why); }

/* Close codes a peer may send (RFC 6455 7.4.1, plus 1012-1014 from the IANA registry). */
static bool close_code_valid(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/* The peer's close frame: answer with its code and close. */
static void on_peer_close(ws_conn *ws, const uint8_t *p, size_t n) {
  if (n == 1) {
    fail(ws, CLOSE_PROTOCOL, "close frame with a 1-byte payload");
    return;
  }
  uint16_t code = n ? (uint16_t)(p[0] << 8 | p[1]) : CLOSE_NO_STATUS;
  if (n && !close_code_valid(code)) {
    fail(ws, CLOSE_PROTOCOL, "invalid close code");
    return;
  }
  if (n > 2 && !utf8_valid(p + 2, n - 2)) {
    fail(ws, CLOSE_BAD_DATA, "close reason is not UTF-8");
    return;
  }
  ws->code = code;
  send_close(ws, code, NULL);
}

/* ---------- receiving ---------- */

/* The header length a frame needs, from what is known of it: 2 bytes to start with,
** then its length field and mask key (frames reaching this are masked). */
static size_t head_need(const ws_conn *ws) {
  if (ws->head_len < 2) return 2;
  uint8_t l7 = ws->head[1] & 0x7F;
  return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + 4;
}

/* What is wrong with a frame, judged from its first two header bytes (before the rest of
** the header arrives, so e.g. an unmasked frame is refused at once); NULL when nothing. */
static const char *start_problem(const ws_conn *ws, uint16_t *code) {
  uint8_t b0 = ws->head[0], b1 = ws->head[1];
  *code = CLOSE_PROTOCOL;
  if (b0 & 0x70) return "reserved bits set";
  if (!(b1 & 0x80)) return "client frames must be masked";
  switch (b0 & 0x0F) {
    case OP_CONT:
      return ws->in_message ? NULL : "continuation frame without a message";
    case OP_TEXT:
      return ws->in_message ? "new message inside a fragmented one" : NULL;
    case OP_BINARY:
      *code = CLOSE_UNSUPPORTED;
      return "binary messages are not accepted";
    case OP_CLOSE:
    case OP_PING:
    case OP_PONG:
      if (!(b0 & 0x80)) return "fragmented control frame";
      return (b1 & 0x7F) > WS_MAX_CONTROL ? "control frame over 125 bytes" : NULL;
    default:
      return "unknown opcode";
  }
}

/* Takes the frame's first two bytes; false when the connection was failed. */
static bool check_start(ws_conn *ws) {
  uint16_t code;
  const char *why = start_problem(ws, &code);
  if (why) {
    fail(ws, code, why);
    return false;
  }
  ws->opcode = ws->head[0] & 0x0F;
  ws->fin = (ws->head[0] & 0x80) != 0;
  return true;
}

static bool is_control(uint8_t op) { return (op & 0x8) != 0; }

/* Makes room for take more bytes of the current data frame; false when out of memory
** (the connection is then closed). Grows geometrically so a message in many fragments
** is not copied once per fragment, but never past what the final frame will need. */
static bool msg_reserve(ws_conn *ws, size_t take) {
  size_t need = (size_t)ws->msg_len + take;
  if (need <= ws->msg_cap) return true;
  size_t cap = (size_t)ws->msg_cap * 2;
  if (cap < need) cap = need;
  if (cap > ws->srv->o.max_message_bytes) cap = ws->srv->o.max_message_bytes;
  if (ws->fin && cap > ws->msg_len + ws->left) cap = (size_t)(ws->msg_len + ws->left);
  char *m = realloc(ws->msg, cap);
  if (!m) {
    conn_close(ws->c); /* out of memory: this connection goes, the server stays */
    return false;
  }
  ws->msg = m;
  ws->msg_cap = (uint32_t)cap;
  return true;
}

/* The header is complete: reads the length and mask key and readies the payload. */
static bool begin_frame(ws_conn *ws) {
  const uint8_t *h = ws->head;
  uint8_t l7 = h[1] & 0x7F;
  uint64_t len = l7;
  size_t at = 2;
  if (l7 == 126) {
    len = (uint64_t)h[2] << 8 | h[3];
    at = 4;
  } else if (l7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
    at = 10;
    if (len >> 63) {
      fail(ws, CLOSE_PROTOCOL, "frame length has its top bit set");
      return false;
    }
  }
  memcpy(ws->mask, h + at, 4);
  ws->mask_at = 0;
  ws->left = len;
  ws->head_len = 0;
  if (is_control(ws->opcode)) {
    ws->ctl_len = 0;
    if (len && !(ws->ctl = malloc((size_t)len))) {
      conn_close(ws->c);
      return false;
    }
    return true;
  }
  /* refused from the header, before any of its payload is buffered */
  if (len > ws->srv->o.max_message_bytes - ws->msg_len) {
    char why[64];
    snprintf(why, sizeof why, "message over %zu bytes", ws->srv->o.max_message_bytes);
    fail(ws, CLOSE_TOO_BIG, why);
    return false;
  }
  return true;
}

/* A text message is complete: hands it over, then forgets it. */
static void deliver_message(ws_conn *ws) {
  char *m = ws->msg;
  size_t n = ws->msg_len;
  ws->msg = NULL; /* detached first: on_text may call anything on ws */
  ws->msg_len = ws->msg_cap = 0;
  ws->in_message = false;
  if (!utf8_valid((const uint8_t *)m, n)) fail(ws, CLOSE_BAD_DATA, "text is not valid UTF-8");
  else if (ws->h->on_text) ws->h->on_text(ws, m ? m : "", n);
  free(m);
}

static void end_control(ws_conn *ws) {
  uint8_t *p = ws->ctl;
  size_t n = ws->ctl_len;
  ws->ctl = NULL;
  if (ws->opcode == OP_PING) {
    if (conn_pending_output(ws->c) <= WS_MAX_PONG_BACKLOG) write_control(ws, OP_PONG, p, n);
  } else if (ws->opcode == OP_CLOSE) {
    on_peer_close(ws, p, n);
  }
  /* a pong needs nothing: its arrival already counted as activity */
  free(p);
}

/* The current frame's payload is all in. */
static void end_frame(ws_conn *ws) {
  ws->in_payload = false;
  if (is_control(ws->opcode)) end_control(ws);
  else if (ws->fin) deliver_message(ws);
  else ws->in_message = true;
}

/* Gathers header bytes; returns how many of p[0..n) it used. */
static size_t read_head(ws_conn *ws, const uint8_t *p, size_t n) {
  size_t used = 0;
  while (used < n) {
    size_t need = head_need(ws);
    size_t take = need - ws->head_len;
    if (take > n - used) take = n - used;
    memcpy(ws->head + ws->head_len, p + used, take);
    ws->head_len = (uint8_t)(ws->head_len + take);
    used += take;
    if (ws->head_len < need) break;
    if (need == 2) {
      if (!check_start(ws)) break;
      continue; /* the full header length is known now */
    }
    if (begin_frame(ws)) {
      if (ws->left == 0) end_frame(ws);
      else ws->in_payload = true;
    }
    break;
  }
  return used;
}

/* Unmasks payload bytes into the message or control buffer; returns how many it used. */
static size_t read_payload(ws_conn *ws, const uint8_t *p, size_t n) {
  size_t take = ws->left < n ? (size_t)ws->left : n;
  bool ctl = is_control(ws->opcode);
  if (!ctl && !msg_reserve(ws, take)) return n;
  uint8_t *dst = ctl ? ws->ctl + ws->ctl_len : (uint8_t *)ws->msg + ws->msg_len;
  for (size_t i = 0; i < take; i++) dst[i] = p[i] ^ ws->mask[(ws->mask_at + i) & 3];
  ws->mask_at = (uint8_t)((ws->mask_at + take) & 3);
  if (ctl) ws->ctl_len = (uint8_t)(ws->ctl_len + take);
  else ws->msg_len += (uint32_t)take;
  ws->left -= take;
  if (ws->left == 0) end_frame(ws);
  return take;
}

/* Always consumes everything: partial frames are kept in ws, not in conn. */
static size_t ws_on_data(conn *c, const char *data, size_t len) {
  ws_conn *ws = conn_data(c);
  const uint8_t *p = (const uint8_t *)data;
  size_t done = 0;
  bool heard = false; /* a whole frame arrived: the peer is alive */
  while (done < len && !ws->close_sent && !conn_is_closing(c)) {
    done += ws->in_payload ? read_payload(ws, p + done, len - done)
                           : read_head(ws, p + done, len - done);
    if (!ws->in_payload && ws->head_len == 0) heard = true; /* between frames */
  }
  if (heard) conn_set_timeout(c, &ws->srv->idle_tq); /* an O(1) move; no-op once closing */
  return len;
}

static void ws_on_timeout(conn *c) {
  send_close(conn_data(c), CLOSE_GOING_AWAY, "idle timeout");
}

static void ws_on_close(conn *c) {
  ws_conn *ws = conn_data(c);
  ws->srv->count--;
  if (ws->h->on_close) ws->h->on_close(ws, ws->code ? ws->code : CLOSE_ABNORMAL);
  free(ws->msg);
  free(ws->ctl);
  free(ws);
}

static const conn_handler ws_conn_handler = {
    .on_data = ws_on_data,
    .on_timeout = ws_on_timeout,
    .on_close = ws_on_close,
};

/* ---------- the server ---------- */

ws_server *ws_server_new(http_server *srv, const ws_options *opts) {
  ws_server *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->http = srv;
  if (opts) s->o = *opts;
  if (!s->o.max_message_bytes) s->o.max_message_bytes = WS_DEFAULT_MAX_MESSAGE;
  if (s->o.max_message_bytes > UINT32_MAX) s->o.max_message_bytes = UINT32_MAX;
  if (!s->o.idle_timeout_ms) s->o.idle_timeout_ms = WS_DEFAULT_IDLE_MS;
  return s;
}

void ws_server_free(ws_server *s) {
  if (!s) return;
  if (s->count) abort(); /* their on_close would run on freed memory */
  if (s->hub) {
    /* conn.h has no call to unregister a conn_tq; the queue is empty (no connection is
    ** left), so unlinking it from the hub's intrusive list is all there is to do. */
    s->idle_tq.link.prev->next = s->idle_tq.link.next;
    s->idle_tq.link.next->prev = s->idle_tq.link.prev;
  }
  free(s);
}

size_t ws_server_count(const ws_server *s) { return s->count; }

void ws_server_close_all(ws_server *s, uint16_t code, const char *reason) {
  if (!s->hub) return;
  /* close-after-flush leaves every connection in the hub's list: the walk is safe */
  for (conn *c = conn_hub_first(s->hub); c; c = conn_next(c)) {
    if (conn_get_handler(c) != &ws_conn_handler) continue;
    ws_conn *ws = conn_data(c);
    if (ws->srv == s) send_close(ws, code, reason);
  }
}

/* ---------- the handshake ---------- */

/* True when the comma-separated header value holds token (case-insensitive). */
static bool has_token(const char *list, const char *token) {
  size_t tlen = strlen(token);
  const char *p = list;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0) return true;
  }
  return false;
}

static bool b64_char(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '+' || ch == '/';
}

/* Canonical base64 of exactly 16 bytes: 21 free digits, one whose low 4 bits are zero
** (A, Q, g or w: they would encode bits past the 16th byte), then "==". */
static bool key_valid(const char *key) {
  if (!key || strlen(key) != WS_KEY_LEN) return false;
  for (int i = 0; i < 21; i++)
    if (!b64_char(key[i])) return false;
  return strchr("AQgw", key[21]) && key[22] == '=' && key[23] == '=';
}

/* Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)). */
static bool accept_value(const char *key, char out[WS_ACCEPT_LEN + 1]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char in[WS_KEY_LEN + sizeof guid - 1], md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  memcpy(in, key, WS_KEY_LEN);
  memcpy(in + WS_KEY_LEN, guid, sizeof guid - 1);
  if (EVP_Digest(in, sizeof in, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) return false;
  return EVP_EncodeBlock((unsigned char *)out, md, 20) == WS_ACCEPT_LEN;
}

static ws_conn *refuse(http_request *req, int status, const char *why) {
  http_respond(req, status, "text/plain", why, strlen(why));
  return NULL;
}

/* RFC 6455 4.4 wants a Sec-WebSocket-Version header on the 426, which http_respond()
** cannot add; the request is an Upgrade, so it is taken over and answered by hand. */
static ws_conn *refuse_version(http_request *req) {
  static const char why[] = "only WebSocket version 13 is supported\n";
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                   "Content-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n"
                   "\r\n%s",
                   sizeof why - 1, why);
  conn *c = http_takeover(req, head, (size_t)n);
  if (!c) return refuse(req, 426, why);
  conn_close_after_flush(c);
  return NULL;
}

/* The first reason req is not a WebSocket upgrade we accept, or NULL. */
static const char *upgrade_problem(http_request *req, bool *bad_version) {
  const char *v;
  *bad_version = false;
  if (strcmp(http_request_method(req), "GET") != 0) return "a WebSocket upgrade must be a GET\n";
  v = http_request_header(req, "Upgrade");
  if (!v || !has_token(v, "websocket")) return "missing \"Upgrade: websocket\"\n";
  v = http_request_header(req, "Connection");
  if (!v || !has_token(v, "upgrade")) return "missing \"Connection: Upgrade\"\n";
  v = http_request_header(req, "Sec-WebSocket-Version");
  if (!v || strcmp(v, "13") != 0) {
    *bad_version = true;
    return "only WebSocket version 13 is supported\n";
  }
  if (!key_valid(http_request_header(req, "Sec-WebSocket-Key")))
    return "Sec-WebSocket-Key must be base64 of 16 bytes\n";
  return NULL;
}

/* The first accepted connection tells which hub the server's connections live in. */
static void learn_hub(ws_server *s, conn *c) {
  if (s->hub) return;
  s->hub = conn_get_hub(c);
  conn_tq_init(s->hub, &s->idle_tq, s->o.idle_timeout_ms);
}

ws_conn *ws_accept(ws_server *s, http_request *req, const ws_handler *h, void *data) {
  bool bad_version;
  const char *why = upgrade_problem(req, &bad_version);
  if (why) return bad_version ? refuse_version(req) : refuse(req, 400, why);
  char accept[WS_ACCEPT_LEN + 1], head[160];
  ws_conn *ws = calloc(1, sizeof *ws);
  if (!ws || !accept_value(http_request_header(req, "Sec-WebSocket-Key"), accept)) {
    free(ws);
    return refuse(req, 500, "out of memory\n");
  }
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  conn *c = http_takeover(req, head, (size_t)n);
  if (!c) { /* e.g. more requests were pipelined behind it */
    free(ws);
    return refuse(req, 400, "the upgrade must be the last request on its connection\n");
  }
  learn_hub(s, c);
  ws->srv = s;
  ws->c = c;
  ws->h = h;
  ws->data = data;
  s->count++;
  conn_set_handler(c, &ws_conn_handler, ws);
  conn_set_timeout(c, &s->idle_tq);
  conn_read_start(c); /* bytes sent after the request come at the next flush */
  return ws;
}

/* ---------- one connection ---------- */

void ws_set_data(ws_conn *ws, void *data) { ws->data = data; }
void *ws_data(const ws_conn *ws) { return ws->data; }
const char *ws_peer(const ws_conn *ws) { return conn_peer(ws->c); }
size_t ws_pending_output(const ws_conn *ws) { return conn_pending_output(ws->c); }

static bool can_send(const ws_conn *ws) { return !ws->close_sent && !conn_is_closing(ws->c); }

void ws_send_text(ws_conn *ws, const char *text, size_t len) {
  if (!can_send(ws)) return;
  uint8_t h[10];
  conn_write(ws->c, h, frame_head(h, OP_TEXT, len));
  conn_write(ws->c, text, len);
}

net_buf *ws_frame_text(const char *text, size_t len) {
  uint8_t h[10];
  size_t hl = frame_head(h, OP_TEXT, len);
  if (len > SIZE_MAX - hl) return NULL;
  net_buf *b = net_buf_new(hl + len);
  if (!b) return NULL;
  memcpy(b->data, h, hl);
  if (len) memcpy(b->data + hl, text, len);
  b->len = (uint32_t)(hl + len);
  return b;
}

void ws_send_frame(ws_conn *ws, net_buf *frame) {
  if (!frame) return;
  if (!can_send(ws)) {
    net_buf_unref(frame);
    return;
  }
  conn_write_buf(ws->c, frame);
}

void ws_close(ws_conn *ws, uint16_t code, const char *reason) { send_close(ws, code, reason); }

void ws_abort(ws_conn *ws) { conn_close(ws->c); }
