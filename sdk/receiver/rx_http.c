/*
** rx_http.c — reads the server's answer to the upgrade request.
**
** Two jobs: parse the response head (status and the headers the WebSocket handshake
** depends on) and, when the server refuses the upgrade, frame the body that carries the
** JSON error envelope (Content-Length, chunked, or up to EOF). Guarantees: never reads
** past the bytes given; bounded (head <= 16 KiB, body capped at 64 KiB); header names
** are matched case-insensitively and Connection is split into tokens, as RFC 7230 says.
*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rx_internal.h"

/* The blank line that ends the head, or NULL. */
static const char *find_head_end(const char *buf, size_t len)
{
  for (size_t i = 3; i < len; i++)
    if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
      return buf + i + 1;
  return NULL;
}

static int is_ows(char ch)
{
  return ch == ' ' || ch == '\t';
}

/* Does the comma-separated list v[0..n) contain `token` (case-insensitive)? */
static int list_has_token(const char *v, size_t n, const char *token)
{
  size_t tlen = strlen(token), i = 0;
  while (i < n) {
    while (i < n && (is_ows(v[i]) || v[i] == ','))
      i++;
    size_t start = i;
    while (i < n && v[i] != ',')
      i++;
    size_t end = i;
    while (end > start && is_ows(v[end - 1]))
      end--;
    if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0)
      return 1;
  }
  return 0;
}

/* Parses a non-negative decimal that fits in int64. */
static int parse_u63(const char *v, size_t n, int64_t *out)
{
  if (n == 0 || n > 18)
    return -1;
  int64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (v[i] - '0');
  }
  *out = x;
  return 0;
}

static int name_is(const char *name, size_t n, const char *want)
{
  return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Records one header line "Name: value" (value already trimmed). */
static int take_header(imcast_rx_http_head *h, const char *name, size_t nlen,
                       const char *v, size_t vlen)
{
  if (name_is(name, nlen, "Upgrade"))
    h->upgrade_websocket = list_has_token(v, vlen, "websocket");
  else if (name_is(name, nlen, "Connection"))
    h->connection_upgrade |= list_has_token(v, vlen, "upgrade");
  else if (name_is(name, nlen, "Sec-WebSocket-Accept")) {
    h->accept = v;
    h->accept_len = vlen;
  } else if (name_is(name, nlen, "Sec-WebSocket-Extensions"))
    h->has_extensions = 1;
  else if (name_is(name, nlen, "Sec-WebSocket-Protocol"))
    h->has_protocol = 1;
  else if (name_is(name, nlen, "Content-Length"))
    return parse_u63(v, vlen, &h->content_length);
  else if (name_is(name, nlen, "Transfer-Encoding"))
    h->chunked = list_has_token(v, vlen, "chunked");
  return 0;
}

/* "HTTP/1.x NNN reason" */
static int parse_status_line(const char *line, size_t n, int *status)
{
  if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
    return -1;
  const char *d = line + 9;
  for (int i = 0; i < 3; i++)
    if (d[i] < '0' || d[i] > '9')
      return -1;
  if (n > 12 && d[3] != ' ')
    return -1;
  *status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  return 0;
}

int imcast_rx_http_parse_head(const char *buf, size_t len, imcast_rx_http_head *h)
{
  memset(h, 0, sizeof *h);
  h->content_length = -1;
  const char *end = find_head_end(buf, len);
  if (end == NULL)
    return len > IMCAST_RX_HTTP_HEAD_MAX ? -1 : 0;
  h->head_len = (size_t)(end - buf);
  if (h->head_len > IMCAST_RX_HTTP_HEAD_MAX)
    return -1;

  const char *line = buf, *stop = end - 2; /* stop at the blank line's CRLF */
  const char *eol = memchr(line, '\r', (size_t)(stop - line));
  if (eol == NULL || parse_status_line(line, (size_t)(eol - line), &h->status) != 0)
    return -1;
  for (line = eol + 2; line < stop; line = eol + 2) {
    eol = memchr(line, '\r', (size_t)(stop - line));
    if (eol == NULL || eol[1] != '\n')
      return -1;
    const char *colon = memchr(line, ':', (size_t)(eol - line));
    if (colon == NULL || colon == line || is_ows(line[0]) || is_ows(colon[-1]))
      return -1; /* also obsolete line folding and "Name :", which RFC 7230 forbids */
    const char *v = colon + 1, *ve = eol;
    while (v < ve && is_ows(*v))
      v++;
    while (ve > v && is_ows(ve[-1]))
      ve--;
    if (take_header(h, line, (size_t)(colon - line), v, (size_t)(ve - v)) != 0)
      return -1;
  }
  return 1;
}

/* Hex chunk size; -1 when malformed. Extensions after ';' are ignored. */
static int64_t parse_chunk_size(const char *s, size_t n)
{
  int64_t v = 0;
  size_t i = 0;
  for (; i < n && s[i] != ';' && !is_ows(s[i]); i++) {
    char ch = s[i];
    int d = ch >= '0' && ch <= '9' ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
    if (d < 0 || v > (INT64_MAX >> 4))
      return -1;
    v = v * 16 + d;
  }
  return i == 0 ? -1 : v;
}

/* Walks a chunked body; when `write`, also decodes it in place. 1 complete (trailers
 * skipped), 0 need more, -1 bad. Callers walk first without writing, so an incomplete
 * body is left untouched for the next attempt with more bytes. */
static int dechunk(char *body, size_t len, int write, size_t *out_len)
{
  size_t in = 0, out = 0;
  for (;;) {
    const char *eol = memchr(body + in, '\n', len - in);
    if (eol == NULL)
      return 0;
    size_t line_len = (size_t)(eol - (body + in));
    if (line_len == 0 || body[in + line_len - 1] != '\r')
      return -1;
    int64_t size = parse_chunk_size(body + in, line_len - 1);
    if (size < 0)
      return -1;
    in += line_len + 1;
    if (size == 0) {
      *out_len = out;
      return 1; /* trailers, if any, carry nothing we need */
    }
    if ((uint64_t)size + 2 > len - in)
      return 0;
    if (body[in + (size_t)size] != '\r' || body[in + (size_t)size + 1] != '\n')
      return -1;
    if (write)
      memmove(body + out, body + in, (size_t)size);
    out += (size_t)size;
    in += (size_t)size + 2;
  }
}

int imcast_rx_http_body(const imcast_rx_http_head *h, char *body, size_t len, int eof,
                        size_t *out_len)
{
  int rc;
  if (h->chunked) {
    rc = dechunk(body, len, 0, out_len);
    if (rc == 1)
      dechunk(body, len, 1, out_len);
    else if (rc == 0 && eof)
      return -1;
  } else if (h->content_length >= 0) {
    rc = (uint64_t)len >= (uint64_t)h->content_length || eof;
    *out_len = len < (uint64_t)h->content_length ? len : (size_t)h->content_length;
  } else {
    rc = eof; /* no framing: the body ends when the server closes */
    *out_len = len;
  }
  if (rc == 0 && len >= IMCAST_RX_HTTP_BODY_MAX) {
    rc = 1; /* enough to show; stop waiting for a huge body */
    *out_len = len;
  }
  if (rc == 1 && *out_len > IMCAST_RX_HTTP_BODY_MAX)
    *out_len = IMCAST_RX_HTTP_BODY_MAX;
  return rc;
}
