/*
** resp.c — RESP2: PUBLISH, SUBSCRIBE and a streaming reply parser (see resp.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "resp.h"

#define REPLY_TIMEOUT_MS 60000

int resp_publish_send(bconn *c, const char *channel, const char *payload, size_t len)
{
  char head[256];
  int n = snprintf(head, sizeof head, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n",
                   strlen(channel), channel, len);
  if (bconn_write2(c, head, (size_t)n, payload, len) != 0) return -1;
  return bconn_write2(c, "\r\n", 2, NULL, 0);
}

int resp_command_send(bconn *c, int argc, const char *const *argv)
{
  char buf[1024];
  size_t len = (size_t)snprintf(buf, sizeof buf, "*%d\r\n", argc);
  for (int i = 0; i < argc && len < sizeof buf; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
  if (len >= sizeof buf) return -1;
  return bconn_write2(c, buf, len, NULL, 0);
}

char resp_read_reply(bconn *c, int timeout_ms, char *line, size_t cap, char **bulk)
{
  const char *eol;
  while (!(eol = memmem(c->buf + c->off, c->len - c->off, "\r\n", 2)))
    if (bconn_fill(c, timeout_ms) != 0) return 0;
  const char *p = c->buf + c->off;
  char type = *p;
  snprintf(line, cap, "%.*s", (int)(eol - p - 1), p + 1);
  bconn_consume(c, (size_t)(eol - p) + 2);
  if (type == '$') {
    long n = strtol(line, NULL, 10);
    while (n >= 0 && c->len - c->off < (size_t)n + 2)
      if (bconn_fill(c, timeout_ms) != 0) return 0;
    if (bulk && n >= 0) {
      *bulk = xmalloc((size_t)n + 1);
      memcpy(*bulk, c->buf + c->off, (size_t)n);
      (*bulk)[n] = '\0';
    }
    if (n >= 0) bconn_consume(c, (size_t)n + 2);
  }
  return type;
}

long long resp_read_int(bconn *c)
{
  char line[128];
  char type = resp_read_reply(c, REPLY_TIMEOUT_MS, line, sizeof line, NULL);
  if (type == ':') return strtoll(line, NULL, 10);
  if (type) fprintf(stderr, "imcast-bench: redis answered %c%s\n", type, line);
  return -1;
}

size_t resp_subscribe_cmd(char *out, size_t cap, const char *channel)
{
  return (size_t)snprintf(out, cap, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(channel),
                          channel);
}

/* Reads "<digits>\r\n" at p; returns the position after it, NULL if incomplete, sets
** *bad on garbage. */
static const char *read_number(const char *p, const char *end, long long *v, int *bad)
{
  const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
  if (!eol) return NULL;
  char *stop;
  *v = strtoll(p, &stop, 10);
  if (stop != eol) *bad = 1;
  return eol + 2;
}

/* One element of an array: a bulk string or an integer. */
static const char *read_element(const char *p, const char *end, const char **s, size_t *len,
                                int *bad)
{
  if (p >= end) return NULL;
  long long v;
  char type = *p++;
  if (type == ':' || type == '+') {
    const char *start = p, *next = read_number(p, end, &v, bad);
    if (type == '+' && next) *bad = 0;
    *s = start;
    *len = next ? (size_t)(next - 2 - start) : 0;
    return next;
  }
  if (type != '$') {
    *bad = 1;
    return NULL;
  }
  const char *data = read_number(p, end, &v, bad);
  if (!data || *bad) return NULL;
  if (v < 0) {                  /* null bulk string */
    *s = NULL;
    *len = 0;
    return data;
  }
  if ((size_t)(end - data) < (size_t)v + 2) return NULL;
  *s = data;
  *len = (size_t)v;
  return data + v + 2;
}

ssize_t resp_parse(const char *buf, size_t len, resp_reply *out)
{
  const char *p = buf, *end = buf + len;
  int bad = 0;
  memset(out, 0, sizeof *out);
  if (len == 0) return 0;
  if (*p != '*') {              /* +OK, -ERR, :n: one line */
    const char *eol = memmem(p, len, "\r\n", 2);
    return eol ? eol + 2 - buf : 0;
  }
  long long n;
  p = read_number(p + 1, end, &n, &bad);
  if (bad) return -1;
  if (!p) return 0;
  for (long long i = 0; i < n; i++) {
    const char *s;
    size_t slen;
    p = read_element(p, end, &s, &slen, &bad);
    if (bad) return -1;
    if (!p) return 0;
    if (i < 3) {
      out->s[i] = s;
      out->len[i] = slen;
      out->n = (int)i + 1;
    }
  }
  return p - buf;
}
