/*
** http.c — HTTP/1.1 over conn (net/conn.h): http-parser, keep-alive, pipelining, limits.
**
** Guarantees (the contract is in http.h):
** - Responses leave each connection in request order: every connection keeps a FIFO of
**   its requests, each with a response slot; http_respond fills a slot, and answered
**   slots are released from the front only. The server's own error answers (400, 408,
**   413, 431) are FIFO entries too, so they never overtake earlier answers.
** - Limits are enforced while reading, before anything is buffered beyond them: request
**   line + headers are counted across reads (431); a Content-Length over the limit is
**   refused when the headers end, and a chunked body as soon as a chunk would cross it
**   (413). A request must be complete request_timeout_ms after its first byte (408); a
**   connection with nothing in flight closes silently after idle_timeout_ms.
** - With max_pipelined requests in flight, reading pauses; unparsed bytes stay in the
**   connection (conn keeps them) and parsing resumes at the first flush after an answer.
** - on_request and on_abandon are never called from inside an http_* call the owner made.
** Decisions: the head limit counts every byte from the request line through the blank
** line that ends the headers. A peer's EOF counts as the peer going away (no HTTP
** half-close): its unanswered requests are abandoned. Errors the server answers itself
** close the connection after a lingering drain, so the client reads the answer even if
** it was still sending (e.g. a body past the 413).
** How: the parser is paused at the end of every head and every message, so each
** http_parser_execute() run covers bytes of one phase (exact head counting) and a
** complete request is handed to the owner outside the parser's callbacks.
** Per connection the idle state is the conn, this struct and the parser; requests hold
** their own text (URL, headers, decoded query, peer) in one growing arena.
*/
#include "net/http.h"

#include "common/errors.h"
#include "net/conn.h"

#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEFAULT_HEADER_BYTES ((size_t)16 * 1024)
#define HTTP_DEFAULT_BODY_BYTES ((size_t)1024 * 1024)
#define HTTP_DEFAULT_REQUEST_MS 30000
#define HTTP_DEFAULT_IDLE_MS 120000
#define HTTP_DEFAULT_CONNECTIONS 10000
#define HTTP_DEFAULT_PIPELINED 64
/* A connection with more answers than this waiting for its peer to read them gets no more
** requests parsed until they drain: a peer that pipelines without reading cannot make the
** server buffer answers without bound. */
#define HTTP_MAX_UNSENT_OUTPUT ((size_t)256 * 1024)
/* How long a closing connection drains the peer's input after our last byte. */
#define HTTP_LINGER_MS 2000
#define NO_VALUE UINT32_MAX

typedef struct http_conn http_conn;

typedef struct http_header {
  uint32_t name, value; /* offsets of NUL-terminated strings in the request's text */
} http_header;

struct http_request {
  http_request *next;      /* FIFO order on the connection */
  http_conn *hc;           /* NULL once the connection is gone (see http.h) */
  net_buf *resp;           /* the answer, once given */
  char *text;              /* URL, header names and values, decoded query, peer */
  uint32_t text_len, text_cap;
  http_header *hdrs;
  uint32_t nhdrs, hdrs_cap;
  uint32_t query_off, query_count, peer_off;
  char *body;
  size_t body_len, body_cap;
  const char *method;
  void *data;
  uint8_t hstate;          /* parsing: 0 url, 1 header name, 2 header value, 3 done */
  bool answered, internal, close_after, keep_alive, upgrade, head_only, tls;
};

struct http_conn {
  http_server *srv;
  conn *c;
  http_parser parser;
  http_request *cur;       /* being read */
  http_request *head, *tail;
  unsigned inflight;       /* entries in the FIFO */
  size_t head_bytes;       /* request line + headers of the coming request so far */
  int fail;                /* status a parser callback asked for (why: srv->fail_why);
                              -1: out of memory */
  bool in_head;            /* between message begin and headers complete */
  bool complete;           /* cur is complete and waits to be handed to the owner */
  bool stopped;            /* no more requests are read on this connection */
  bool keep_rest;          /* stopped at an Upgrade: the bytes after it are not ours */
  bool pipeline_paused;
  bool in_data, taken;
};

struct http_server {
  http_server_options o;
  http_limits lim;
  conn_hub *hub;
  conn_tq req_tq, idle_tq;
  char fail_why[128];      /* the ErrorInfo being built (one loop: no sharing issue) */
  uint64_t rejected[HTTP_N_REJECTED];   /* answers it gave itself, as http_rejected_statuses */
  bool shutting_down;
  void (*done)(void *);
  void *done_ctx;
};

static const conn_handler http_handler;

/* ---------- requests ---------- */

static http_request *req_new(http_conn *hc) {
  http_request *req = calloc(1, sizeof *req);
  if (!req) return NULL;
  req->hc = hc;
  req->tls = conn_is_tls(hc->c);
  return req;
}

/* The parsed input is not needed once the request is answered. */
static void req_drop_input(http_request *req) {
  free(req->text);
  free(req->hdrs);
  free(req->body);
  req->text = NULL;
  req->hdrs = NULL;
  req->body = NULL;
  req->text_len = req->text_cap = req->nhdrs = req->hdrs_cap = 0;
  req->body_len = req->body_cap = 0;
}

static void req_free(http_request *req) {
  if (!req) return;
  req_drop_input(req);
  net_buf_unref(req->resp);
  free(req);
}

static int text_reserve(http_request *req, size_t n) {
  if (req->text_len + n <= req->text_cap) return 0;
  size_t cap = req->text_cap ? req->text_cap : 256;
  while (cap < req->text_len + n) cap *= 2;
  if (cap > UINT32_MAX) return -1;
  char *t = realloc(req->text, cap);
  if (!t) return -1;
  req->text = t;
  req->text_cap = (uint32_t)cap;
  return 0;
}

static int text_put(http_request *req, const char *p, size_t n) {
  if (text_reserve(req, n) != 0) return -1;
  memcpy(req->text + req->text_len, p, n);
  req->text_len += (uint32_t)n;
  return 0;
}

/* ---------- parser callbacks (they only record; decisions happen in http_on_data) ---------- */

static int cb_fail(http_conn *hc, int status, const char *fmt, ...) {
  va_list ap;
  hc->fail = status;
  va_start(ap, fmt);
  vsnprintf(hc->srv->fail_why, sizeof hc->srv->fail_why, fmt, ap);
  va_end(ap);
  return -1;
}

/* Head text is bounded by the head limit: it is never longer than the raw head bytes. */
static int head_put(http_conn *hc, const char *p, size_t n) {
  http_request *req = hc->cur;
  if (req->text_len + n > hc->srv->lim.max_header_bytes)
    return cb_fail(hc, 431, "request line and headers exceed %zu bytes",
                   hc->srv->lim.max_header_bytes);
  if (text_put(req, p, n) != 0) return cb_fail(hc, -1, "out of memory");
  return 0;
}

static int on_message_begin(http_parser *p) {
  http_conn *hc = p->data;
  hc->cur = req_new(hc);
  if (!hc->cur) return cb_fail(hc, -1, "out of memory");
  hc->in_head = true;
  conn_set_timeout(hc->c, &hc->srv->req_tq); /* the request must be complete by then */
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) { return head_put(p->data, at, n); }

/* Ends the URL or the header being read, so each is a NUL-terminated string. */
static int end_field(http_conn *hc) {
  http_request *req = hc->cur;
  if (req->hstate == 1) { /* a name without a value */
    if (head_put(hc, "", 1) != 0) return -1;
    req->hdrs[req->nhdrs - 1].value = req->text_len;
  } else if (req->hstate == 2) {
    uint32_t v = req->hdrs[req->nhdrs - 1].value;
    while (req->text_len > v && (req->text[req->text_len - 1] == ' ' ||
                                 req->text[req->text_len - 1] == '\t'))
      req->text_len--; /* optional trailing whitespace is not part of the value */
  }
  return head_put(hc, "", 1);
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
  http_conn *hc = p->data;
  http_request *req = hc->cur;
  if (req->hstate != 1) {
    if (end_field(hc) != 0) return -1;
    if (req->nhdrs == req->hdrs_cap) {
      uint32_t cap = req->hdrs_cap ? req->hdrs_cap * 2 : 8;
      http_header *h = realloc(req->hdrs, cap * sizeof *h);
      if (!h) return cb_fail(hc, -1, "out of memory");
      req->hdrs = h;
      req->hdrs_cap = cap;
    }
    req->hdrs[req->nhdrs++] = (http_header){req->text_len, NO_VALUE};
    req->hstate = 1;
  }
  return head_put(hc, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
  http_conn *hc = p->data;
  http_request *req = hc->cur;
  if (req->hstate != 2) {
    if (head_put(hc, "", 1) != 0) return -1;
    req->hdrs[req->nhdrs - 1].value = req->text_len;
    req->hstate = 2;
  }
  return head_put(hc, at, n);
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Appends text[off..off+n) percent-decoded and NUL-terminated. '+' stays '+'
** (rest-api.md §1); a '%' not followed by two hex digits is kept as it is, and so is "%00":
** a NUL inside a value would cut it short and shift every later parameter (a value could
** then smuggle in a parameter of its own). Takes an offset because reserving room may
** move the text. */
static int put_decoded(http_request *req, size_t off, size_t n) {
  if (text_reserve(req, n + 1) != 0) return -1;
  const char *s = req->text + off;
  char *out = req->text + req->text_len;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
        (lo = hexval(s[i + 2])) >= 0 && (hi | lo) != 0) {
      out[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[k++] = s[i];
    }
  }
  out[k++] = '\0';
  req->text_len += (uint32_t)k;
  return 0;
}

/* Splits the URL (text offset 0) into path and query; stores each query pair decoded as
** "name\0value\0" after the head. The text does not move relative to offsets. */
static int split_url(http_request *req) {
  char *url = req->text;
  size_t ulen = strlen(url);
  req->query_off = req->text_len;
  char *frag = memchr(url, '#', ulen);
  if (frag) {
    *frag = '\0';
    ulen = (size_t)(frag - url);
  }
  char *q = memchr(url, '?', ulen);
  if (!q) return 0;
  *q = '\0';
  size_t qoff = (size_t)(q + 1 - url), qend = ulen;
  while (qoff < qend) { /* offsets only: appending may move the text */
    const char *start = req->text + qoff;
    const char *amp = memchr(start, '&', qend - qoff);
    size_t plen = amp ? (size_t)(amp - start) : qend - qoff;
    if (plen > 0) {
      const char *eq = memchr(start, '=', plen);
      size_t nlen = eq ? (size_t)(eq - start) : plen;
      size_t voff = qoff + (eq ? nlen + 1 : plen), vlen = eq ? plen - nlen - 1 : 0;
      if (put_decoded(req, qoff, nlen) != 0 || put_decoded(req, voff, vlen) != 0) return -1;
      req->query_count++;
    }
    qoff += plen + 1;
  }
  return 0;
}

static const char *req_header(const http_request *req, const char *name) {
  for (uint32_t i = 0; i < req->nhdrs; i++)
    if (strcasecmp(req->text + req->hdrs[i].name, name) == 0)
      return req->text + req->hdrs[i].value;
  return NULL;
}

static int on_headers_complete(http_parser *p) {
  http_conn *hc = p->data;
  http_request *req = hc->cur;
  http_limits *lim = &hc->srv->lim;
  if (end_field(hc) != 0) return -1;
  req->hstate = 3;
  req->method = http_method_str((enum http_method)p->method);
  req->head_only = p->method == HTTP_HEAD;
  req->keep_alive = http_should_keep_alive(p) != 0;
  req->upgrade = p->upgrade != 0;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > lim->max_body_bytes)
    return cb_fail(hc, 413, "request body of %llu bytes exceeds the %zu-byte limit",
                   (unsigned long long)p->content_length, lim->max_body_bytes);
  if (split_url(req) != 0) return cb_fail(hc, -1, "out of memory");
  req->peer_off = req->text_len;
  const char *peer = conn_peer(hc->c);
  if (text_put(req, peer, strlen(peer) + 1) != 0) return cb_fail(hc, -1, "out of memory");
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
    req->body_cap = (size_t)p->content_length + 1;
    req->body = malloc(req->body_cap);
    if (!req->body) return cb_fail(hc, -1, "out of memory");
    /* A client waiting for "100 Continue" gets it if no earlier answer is pending. */
    const char *expect = req_header(req, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && !hc->head)
      conn_write(hc->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  }
  hc->in_head = false;
  http_parser_pause(p, 1);
  return 0;
}

static int body_grow(http_conn *hc, size_t need) {
  http_request *req = hc->cur;
  if (need <= req->body_cap) return 0;
  size_t cap = req->body_cap ? req->body_cap : 1024;
  while (cap < need) cap *= 2;
  if (cap > hc->srv->lim.max_body_bytes + 1) cap = hc->srv->lim.max_body_bytes + 1;
  char *b = realloc(req->body, cap);
  if (!b) return -1;
  req->body = b;
  req->body_cap = cap;
  return 0;
}

static int body_too_big(http_conn *hc) {
  return cb_fail(hc, 413, "request body exceeds %zu bytes", hc->srv->lim.max_body_bytes);
}

static int on_body(http_parser *p, const char *at, size_t n) {
  http_conn *hc = p->data;
  http_request *req = hc->cur;
  if (req->body_len + n > hc->srv->lim.max_body_bytes) return body_too_big(hc);
  if (body_grow(hc, req->body_len + n + 1) != 0) return cb_fail(hc, -1, "out of memory");
  memcpy(req->body + req->body_len, at, n);
  req->body_len += n;
  return 0;
}

/* A chunk announcing more than the limit allows is refused before its bytes arrive. */
static int on_chunk_header(http_parser *p) {
  http_conn *hc = p->data;
  if (p->content_length > hc->srv->lim.max_body_bytes - hc->cur->body_len)
    return body_too_big(hc);
  return 0;
}

static int on_message_complete(http_parser *p) {
  http_conn *hc = p->data;
  if (hc->cur->body) hc->cur->body[hc->cur->body_len] = '\0';
  hc->complete = true;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/* ---------- responses ---------- */

static net_buf *build_response(int status, const char *headers, const char *type,
                               const void *body, size_t len, bool close, bool head_only) {
  const char *reason = http_status_str((enum http_status)status);
  if (!type) type = "application/json";
  if (!headers) headers = "";
  size_t cap = 96 + strlen(reason) + strlen(headers) + strlen(type) + (head_only ? 0 : len);
  net_buf *b = net_buf_new(cap);
  if (!b) return NULL;
  int n = snprintf(b->data, cap,
                   "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: %s\r\n\r\n",
                   status, reason, headers, type, len, close ? "close" : "keep-alive");
  if (n < 0 || (size_t)n + (head_only ? 0 : len) > cap) {
    net_buf_unref(b);
    return NULL;
  }
  if (!head_only && len) memcpy(b->data + n, body, len);
  b->len = (uint32_t)((size_t)n + (head_only ? 0 : len));
  return b;
}

static void fifo_push(http_conn *hc, http_request *req) {
  // False positive: req is hc->cur from deliver_request, reached only when hc->complete;
  // complete is set (on_message_complete) right after cur is dereferenced and is cleared
  // with it, and every path that drops cur early (http_fail, shutdown_conn) also sets
  // stopped, which ends the parse loop first.
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): see above
  req->next = NULL;
  if (hc->tail) hc->tail->next = req;
  else hc->head = req;
  hc->tail = req;
  hc->inflight++;
}

static http_request *fifo_pop(http_conn *hc) {
  http_request *req = hc->head;
  if (!req) return NULL;
  hc->head = req->next;
  if (!hc->head) hc->tail = NULL;
  hc->inflight--;
  req->next = NULL;
  return req;
}

/* Idle deadline when nothing is in flight or being read; none while the owner works. */
static void hc_timer(http_conn *hc) {
  if (hc->cur || conn_is_closing(hc->c)) return;
  conn_set_timeout(hc->c, hc->head ? NULL : &hc->srv->idle_tq);
}

/* Queues answered requests from the FIFO's front, in order; resumes reading if room. */
static void release(http_conn *hc) {
  conn *c = hc->c;
  while (hc->head && hc->head->answered) {
    http_request *req = fifo_pop(hc);
    bool close = req->close_after;
    conn_write_buf(c, req->resp); /* hands our reference over */
    req->resp = NULL;
    req_free(req);
    if (close) {
      hc->stopped = true;
      conn_close_after_flush(c);
      return;
    }
  }
  if (conn_is_closing(c)) return;
  if (hc->srv->shutting_down && !hc->head) {
    conn_close_after_flush(c);
    return;
  }
  if (hc->pipeline_paused && !hc->stopped && hc->inflight < hc->srv->lim.max_pipelined) {
    hc->pipeline_paused = false;
    conn_read_start(c); /* kept bytes are parsed at the next flush, not in this call */
  }
  hc_timer(hc);
}

const int http_rejected_statuses[HTTP_N_REJECTED] = {400, 408, 413, 431};

/* The slot of a status in srv->rejected (http_fail gives no other); -1 for any other. */
static int rejected_index(int status) {
  for (int i = 0; i < HTTP_N_REJECTED; i++)
    if (http_rejected_statuses[i] == status) return i;
  return -1;
}

/* The server answers the request being read itself, then closes the connection. */
static void http_fail(http_conn *hc, int status, const char *why) {
  char body[256];
  int n = snprintf(body, sizeof body,
                   "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"%s\",\"ErrorCode\":%d}", why,
                   (int)IMC_E_BAD_HTTP);
  req_free(hc->cur);
  hc->cur = NULL;
  hc->stopped = true;
  http_request *err = calloc(1, sizeof *err);
  if (err) err->resp = build_response(status, NULL, "application/json", body, (size_t)n, true, false);
  if (!err || !err->resp) {
    req_free(err);
    conn_close(hc->c);
    return;
  }
  err->internal = err->answered = err->close_after = true;
  int slot = rejected_index(status);
  if (slot >= 0) hc->srv->rejected[slot]++;
  fifo_push(hc, err);
  conn_read_stop(hc->c);
  conn_set_timeout(hc->c, NULL);
  release(hc);
}

static void fail_parse(http_conn *hc, enum http_errno e) {
  char *why = hc->srv->fail_why;
  size_t cap = sizeof hc->srv->fail_why;
  if (hc->fail == -1) {
    conn_close(hc->c);
  } else if (hc->fail) {
    http_fail(hc, hc->fail, why);
  } else if (e == HPE_HEADER_OVERFLOW) {
    snprintf(why, cap, "request line and headers exceed %zu bytes",
             hc->srv->lim.max_header_bytes);
    http_fail(hc, 431, why);
  } else {
    snprintf(why, cap, "malformed HTTP request: %s", http_errno_description(e));
    http_fail(hc, 400, why);
  }
}

/* Hands the complete request to the owner. */
static void deliver_request(http_conn *hc) {
  http_request *req = hc->cur;
  hc->cur = NULL;
  hc->complete = false;
  hc->head_bytes = 0;
  fifo_push(hc, req);
  if (!req->keep_alive) hc->stopped = true;
  if (req->upgrade) hc->stopped = hc->keep_rest = true;
  conn_set_timeout(hc->c, NULL); /* the owner's time is not the client's */
  hc->srv->o.on_request(req, hc->srv->o.ctx);
}

static void http_conn_free(http_conn *hc) {
  req_free(hc->cur);
  free(hc);
}

/* Parses as much as may be parsed now; see the file comment for the pausing scheme. */
static size_t http_on_data(conn *c, const char *data, size_t len) {
  http_conn *hc = conn_data(c);
  http_limits *lim = &hc->srv->lim;
  size_t done = 0;
  hc->in_data = true;
  while (done < len && !hc->stopped && !conn_is_closing(c)) {
    if (hc->inflight >= lim->max_pipelined) break;
    if (!hc->cur && conn_output_full(c)) break; /* the rest waits for the peer to read */
    bool counting = !hc->cur || hc->in_head;
    size_t n = http_parser_execute(&hc->parser, &parser_settings, data + done, len - done);
    enum http_errno e = HTTP_PARSER_ERRNO(&hc->parser);
    done += n;
    if (e == HPE_PAUSED) {
      http_parser_pause(&hc->parser, 0);
    } else if (e != HPE_OK) {
      fail_parse(hc, e);
      break;
    }
    if (counting) {
      /* A run that ends the head stops before its last LF; count that byte here. */
      hc->head_bytes += n + (hc->cur && !hc->in_head ? 1 : 0);
      if (hc->head_bytes > lim->max_header_bytes) {
        char *why = hc->srv->fail_why;
        snprintf(why, sizeof hc->srv->fail_why, "request line and headers exceed %zu bytes",
                 lim->max_header_bytes);
        http_fail(hc, 431, why);
        break;
      }
    }
    if (hc->complete) deliver_request(hc);
    if (hc->taken) break;
  }
  hc->in_data = false;
  if (hc->taken) { /* http_takeover ran inside on_request: the rest is the new owner's */
    http_conn_free(hc);
    return done;
  }
  if (conn_is_closing(c)) return len;
  if (hc->keep_rest) {
    if (hc->stopped) conn_read_stop(c);
    return done;
  }
  if (hc->stopped) {
    conn_read_stop(c); /* nothing after a closing request is read */
    return len;
  }
  if (hc->inflight >= lim->max_pipelined) {
    hc->pipeline_paused = true;
    conn_read_stop(c);
    return done;
  }
  hc_timer(hc);
  return done;
}

static void http_on_timeout(conn *c) {
  http_conn *hc = conn_data(c);
  if (hc->cur && !hc->stopped) {
    char why[96];
    snprintf(why, sizeof why, "request not complete within %llu ms",
             (unsigned long long)hc->srv->lim.request_timeout_ms);
    http_fail(hc, 408, why);
  } else {
    conn_close(c); /* idle: close silently */
  }
}

static void http_on_close(conn *c) {
  http_conn *hc = conn_data(c);
  http_server *srv = hc->srv;
  http_request *req;
  while ((req = fifo_pop(hc))) {
    req->hc = NULL;
    if (req->answered || req->internal) {
      req_free(req);
    } else if (srv->o.on_abandon) {
      req->answered = true; /* an http_respond from inside on_abandon is a no-op */
      srv->o.on_abandon(req, srv->o.ctx);
      req_free(req);
    }
    /* else: the owner still holds it; http_respond frees it */
  }
  http_conn_free(hc);
}

static const conn_handler http_handler = {
    .on_data = http_on_data,
    .on_timeout = http_on_timeout,
    .on_close = http_on_close,
};

static void http_on_accept(conn *c, void *ctx) {
  http_server *srv = ctx;
  http_conn *hc = calloc(1, sizeof *hc);
  if (!hc) return; /* no handler: conn closes it */
  hc->srv = srv;
  hc->c = c;
  http_parser_init(&hc->parser, HTTP_REQUEST);
  hc->parser.data = hc;
  conn_set_handler(c, &http_handler, hc);
  conn_set_output_limit(c, HTTP_MAX_UNSENT_OUTPUT);
  conn_set_timeout(c, &srv->idle_tq);
}

/* ---------- the server ---------- */

static void set_limits(http_limits *l, const http_limits *in) {
  *l = *in;
  if (!l->max_header_bytes) l->max_header_bytes = HTTP_DEFAULT_HEADER_BYTES;
  if (!l->max_body_bytes) l->max_body_bytes = HTTP_DEFAULT_BODY_BYTES;
  if (!l->request_timeout_ms) l->request_timeout_ms = HTTP_DEFAULT_REQUEST_MS;
  if (!l->idle_timeout_ms) l->idle_timeout_ms = HTTP_DEFAULT_IDLE_MS;
  if (!l->max_connections) l->max_connections = HTTP_DEFAULT_CONNECTIONS;
  if (!l->max_pipelined) l->max_pipelined = HTTP_DEFAULT_PIPELINED;
}

int http_server_new(http_server **out, const http_server_options *opts) {
  if (!opts || !opts->loop || !opts->on_request) return UV_EINVAL;
  http_server *srv = calloc(1, sizeof *srv);
  if (!srv) return UV_ENOMEM;
  srv->o = *opts;
  set_limits(&srv->lim, &opts->limits);
  conn_hub_options ho = {
      .loop = opts->loop,
      .max_connections = srv->lim.max_connections,
      .linger_ms = HTTP_LINGER_MS,
      .io_threads = opts->limits.io_threads,
      .max_per_ip = opts->limits.max_per_ip,
      .on_accept = http_on_accept,
      .ctx = srv,
  };
  int r = conn_hub_new(&srv->hub, &ho);
  if (r != 0) {
    free(srv);
    return r;
  }
  conn_tq_init(srv->hub, &srv->req_tq, srv->lim.request_timeout_ms);
  conn_tq_init(srv->hub, &srv->idle_tq, srv->lim.idle_timeout_ms);
  *out = srv;
  return 0;
}

int http_server_listen(http_server *srv, const char *host, int port, SSL_CTX *tls,
                       int *bound_port) {
  if (srv->shutting_down) return UV_ECANCELED;
  return conn_hub_listen(srv->hub, host, port, tls, bound_port);
}

void http_server_flush(http_server *srv) { conn_hub_flush(srv->hub); }

size_t http_server_connections(const http_server *srv) { return conn_hub_count(srv->hub); }

void http_server_set_context(http_server *srv, void *ctx) { srv->o.ctx = ctx; }

void http_server_refused(const http_server *srv, uint64_t *over_total, uint64_t *over_per_ip) {
  conn_hub_refused(srv->hub, over_total, over_per_ip);
}

uint64_t http_server_rejected(const http_server *srv, int status) {
  int slot = rejected_index(status);
  return slot >= 0 ? srv->rejected[slot] : 0;
}

int http_server_replace_tls(http_server *srv, SSL_CTX *tls) {
  return conn_hub_replace_tls(srv->hub, tls);
}

static void hub_done(void *ctx) {
  http_server *srv = ctx;
  if (srv->done) srv->done(srv->done_ctx);
}

/* One HTTP connection at shutdown: idle ones go now, busy ones after their answers. */
static void shutdown_conn(http_conn *hc) {
  conn *c = hc->c;
  req_free(hc->cur);
  hc->cur = NULL;
  hc->stopped = true;
  if (!hc->head) {
    if (conn_pending_output(c)) conn_close_after_flush(c);
    else conn_close(c);
    return;
  }
  conn_read_stop(c);
  conn_set_timeout(c, NULL);
}

void http_server_shutdown(http_server *srv, void (*done)(void *ctx), void *ctx) {
  if (srv->shutting_down) return;
  srv->shutting_down = true;
  srv->done = done;
  srv->done_ctx = ctx;
  for (conn *c = conn_hub_first(srv->hub); c; c = conn_next(c))
    if (conn_get_handler(c) == &http_handler && !conn_is_closing(c))
      shutdown_conn(conn_data(c));
  conn_hub_shutdown(srv->hub, hub_done, srv);
}

void http_server_free(http_server *srv) {
  if (!srv) return;
  conn_hub_free(srv->hub);
  free(srv);
}

/* ---------- request accessors ---------- */

const char *http_request_method(const http_request *req) { return req->method; }
const char *http_request_path(const http_request *req) { return req->text; }

const char *http_request_query(const http_request *req, const char *name) {
  const char *p = req->text + req->query_off;
  for (uint32_t i = 0; i < req->query_count; i++) {
    const char *value = p + strlen(p) + 1;
    if (strcmp(p, name) == 0) return value;
    p = value + strlen(value) + 1;
  }
  return NULL;
}

const char *http_request_header(const http_request *req, const char *name) {
  return req_header(req, name);
}

const char *http_request_body(const http_request *req, size_t *len) {
  if (len) *len = req->body_len;
  return req->body ? req->body : "";
}

const char *http_request_peer(const http_request *req) { return req->text + req->peer_off; }
bool http_request_is_tls(const http_request *req) { return req->tls; }
void http_request_set_data(http_request *req, void *data) { req->data = data; }
void *http_request_get_data(const http_request *req) { return req->data; }

void http_respond(http_request *req, int status, const char *content_type, const void *body,
                  size_t len) {
  http_respond_with(req, status, NULL, content_type, body, len);
}

void http_respond_with(http_request *req, int status, const char *headers,
                       const char *content_type, const void *body, size_t len) {
  if (!req || req->answered) return;
  http_conn *hc = req->hc;
  if (!hc) { /* its connection is gone (on_abandon NULL): nobody to answer */
    req_free(req);
    return;
  }
  req->answered = true;
  req->close_after = !req->keep_alive || req->upgrade ||
                     (hc->srv->shutting_down && req == hc->tail);
  req->resp = build_response(status, headers, content_type, body, len, req->close_after,
                             req->head_only);
  req_drop_input(req);
  if (!req->resp) {
    conn_close(hc->c); /* out of memory: this connection cannot be answered in order */
    return;
  }
  release(hc);
}

/* Stands in between http_takeover and the new owner's conn_set_handler. */
static size_t orphan_on_data(conn *c, const char *data, size_t len) {
  (void)data;
  (void)len;
  conn_read_stop(c);
  return 0;
}

static const conn_handler orphan_handler = {.on_data = orphan_on_data};

struct conn *http_takeover(http_request *req, const void *response, size_t len) {
  http_conn *hc = req->hc;
  if (!hc || req->answered || !req->upgrade || hc->head != req || req->next || hc->cur ||
      conn_is_closing(hc->c))
    return NULL;
  conn *c = hc->c;
  fifo_pop(hc);
  req_free(req);
  conn_write(c, response, len);
  conn_set_output_limit(c, 0); /* the new protocol sets its own caps */
  conn_set_timeout(c, NULL);
  conn_set_handler(c, &orphan_handler, NULL);
  if (hc->in_data) hc->taken = true; /* http_on_data frees it on its way out */
  else http_conn_free(hc);
  return c;
}
