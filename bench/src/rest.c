/*
** rest.c — admin REST calls over one keep-alive HTTP/1.1 connection (see rest.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/usersig.h"
#include "rest.h"

#define ANSWER_TIMEOUT_MS 120000
#define IMPORT_BATCH 100

int rest_open(rest *r, const bench_opts *o)
{
  memset(r, 0, sizeof *r);
  char sig[512];
  if (usersig_gen(o->key, o->sdkappid, o->admin, (int64_t)time(NULL), (int64_t)7 * 86400, sig,
                  sizeof sig) < 0)
    die("cannot make a UserSig for %s", o->admin);
  snprintf(r->query, sizeof r->query, "sdkappid=%llu&identifier=%s&usersig=%s&contenttype=json",
           (unsigned long long)o->sdkappid, o->admin, sig);
  snprintf(r->host_hdr, sizeof r->host_hdr, "%s:%d", o->host, o->port);
  r->random = rand32();
  return bconn_open(&r->c, o->host, o->port);
}

void rest_close(rest *r) { bconn_close(&r->c); }

int rest_send(rest *r, const char *path, const char *body, size_t len)
{
  char head[2048];
  int n = snprintf(head, sizeof head,
                   "POST /v4/%s?%s&random=%u HTTP/1.1\r\nHost: %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                   path, r->query, r->random++, r->host_hdr, len);
  if (n < 0 || (size_t)n >= sizeof head) die("request head too long");
  return bconn_write2(&r->c, head, (size_t)n, body, len);
}

/* Length of the head (through the blank line) in buf, or 0 when incomplete. */
static size_t head_length(const char *buf, size_t len)
{
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  return end ? (size_t)(end - buf) + 4 : 0;
}

static long content_length(const char *head, size_t len)
{
  for (const char *p = head; p && p < head + len; p = memchr(p, '\n', (size_t)(head + len - p))) {
    if (*p == '\n') p++;
    if (strncasecmp(p, "Content-Length:", 15) == 0) return strtol(p + 15, NULL, 10);
  }
  return -1;
}

int rest_recv(rest *r, const char **body, size_t *len)
{
  bconn *c = &r->c;
  bconn_consume(c, r->answered);
  r->answered = 0;
  size_t head;
  while ((head = head_length(c->buf + c->off, c->len - c->off)) == 0)
    if (bconn_fill(c, ANSWER_TIMEOUT_MS) != 0) return -1;
  long clen = content_length(c->buf + c->off, head);
  if (clen < 0) die("an answer without Content-Length");
  while (c->len - c->off < head + (size_t)clen)
    if (bconn_fill(c, ANSWER_TIMEOUT_MS) != 0) return -1;
  const char *start = c->buf + c->off;
  *body = start + head;
  *len = (size_t)clen;
  r->answered = head + (size_t)clen;
  if (strncmp(start, "HTTP/1.1 200", 12) != 0) return -1;
  long long code = answer_int(*body, *len, "ErrorCode");
  return code < 0 ? -1 : (int)code;
}

int rest_call(rest *r, const char *path, const char *body, size_t len, const char **answer,
              size_t *answer_len)
{
  const char *a = "";
  size_t alen = 0;
  if (rest_send(r, path, body, len) != 0) return -1;
  int rc = rest_recv(r, &a, &alen);
  if (rc != 0) fprintf(stderr, "imcast-bench: %s answered %.*s\n", path, (int)alen, a);
  if (answer) *answer = a;
  if (answer_len) *answer_len = alen;
  return rc;
}

/* ------------------------------------------------------------------ bulk import */

static size_t import_body(char *out, size_t cap, const char *prefix, uint32_t first, uint32_t n)
{
  size_t len = (size_t)snprintf(out, cap, "{\"Accounts\":[");
  for (uint32_t i = 0; i < n; i++) {
    char id[64];
    account_name(prefix, first + i, id, sizeof id);
    len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", i ? "," : "", id);
  }
  len += (size_t)snprintf(out + len, cap - len, "]}");
  return len;
}

static size_t tag_body(char *out, size_t cap, const char *prefix, uint32_t first, uint32_t n,
                       uint32_t tags)
{
  size_t len = (size_t)snprintf(out, cap, "{\"UserTags\":[");
  for (uint32_t i = 0; i < n; i++) {
    char id[64];
    account_name(prefix, first + i, id, sizeof id);
    len += (size_t)snprintf(out + len, cap - len, "%s{\"To_Account\":\"%s\",\"Tags\":[", i ? "," : "", id);
    for (uint32_t j = 0; j < tags; j++) {
      char tag[64];
      tag_name(prefix, j, tag, sizeof tag);
      len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", j ? "," : "", tag);
    }
    len += (size_t)snprintf(out + len, cap - len, "]}");
  }
  len += (size_t)snprintf(out + len, cap - len, "]}");
  return len;
}

/* Sends one batch call of the given kind. */
static int send_batch(rest *r, bool tagging, const char *prefix, uint32_t first, uint32_t n,
                      uint32_t tags)
{
  static char body[IMPORT_BATCH * 800];
  size_t len = tagging ? tag_body(body, sizeof body, prefix, first, n, tags)
                       : import_body(body, sizeof body, prefix, first, n);
  return rest_send(r, tagging ? "all_member_push/im_add_tag" : "im_open_login_svc/multiaccount_import",
                   body, len);
}

static int recv_ok(rest *r, const char *what)
{
  const char *a = "";
  size_t alen = 0;
  int rc = rest_recv(r, &a, &alen);
  if (rc != 0) fprintf(stderr, "imcast-bench: %s failed: %.*s\n", what, (int)alen, a);
  return rc == 0 ? 0 : -1;
}

/* One pass over the accounts: imports them, or tags them. */
static int batch_pass(rest *r, bool tagging, const char *prefix, uint32_t first, uint32_t count,
                      uint32_t tags, int window)
{
  uint32_t next = 0, in_flight = 0;
  while (next < count || in_flight > 0) {
    while (next < count && in_flight < (uint32_t)window) {
      uint32_t n = count - next < IMPORT_BATCH ? count - next : IMPORT_BATCH;
      if (send_batch(r, tagging, prefix, first + next, n, tags) != 0) return -1;
      next += n;
      in_flight++;
    }
    if (recv_ok(r, tagging ? "im_add_tag" : "multiaccount_import") != 0) return -1;
    in_flight--;
  }
  return 0;
}

int rest_import(rest *r, const char *prefix, uint32_t first, uint32_t count, uint32_t tags,
                int window)
{
  if (batch_pass(r, false, prefix, first, count, 0, window) != 0) return -1;
  return tags ? batch_pass(r, true, prefix, first, count, tags, window) : 0;
}

/* ------------------------------------------------------------------ pushes */

size_t push_body(char *out, size_t cap, const bench_opts *o, uint32_t index, uint64_t sent_ns,
                 uint32_t lifetime)
{
  char data[65536];
  uint32_t size = o->payload < sizeof data - 1 ? o->payload : (uint32_t)sizeof data - 1;
  payload_make(data, sizeof data, o->run, index, sent_ns, size);
  size_t len = (size_t)snprintf(out, cap,
                                "{\"MsgRandom\":%u,\"MsgLifeTime\":%u,\"MsgBody\":[{\"MsgType\":"
                                "\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"%s\",\"Desc\":"
                                "\"bench\",\"Ext\":\"\"}}]",
                                rand32(), lifetime, data);
  if (o->tags) {
    len += (size_t)snprintf(out + len, cap - len, ",\"Condition\":{\"TagsAnd\":[");
    for (uint32_t j = 0; j < o->tags && j < 10; j++) {
      char tag[64];
      tag_name(o->prefix, j, tag, sizeof tag);
      len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", j ? "," : "", tag);
    }
    len += (size_t)snprintf(out + len, cap - len, "]}");
  }
  len += (size_t)snprintf(out + len, cap - len, "}");
  if (len >= cap) die("push body too large");
  return len;
}

int answer_task_id(const char *answer, size_t len, char *out, size_t cap)
{
  const char *p = memmem(answer, len, "\"TaskId\":\"", 10);
  if (!p) return -1;
  p += 10;
  const char *end = memchr(p, '"', (size_t)(answer + len - p));
  if (!end || (size_t)(end - p) >= cap) return -1;
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = '\0';
  return 0;
}

long long answer_int(const char *answer, size_t len, const char *name)
{
  char key[64];
  int n = snprintf(key, sizeof key, "\"%s\":", name);
  const char *p = memmem(answer, len, key, (size_t)n);
  if (!p) return -1;
  return strtoll(p + n, NULL, 10);
}
