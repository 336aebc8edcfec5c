/*
** fuzz_ws.c — the WebSocket receive path (src/net/ws.c's frame parser) and the receiver's
** client events (src/api/receivers.c: Ack, unknown events, bad JSON), behind a real login.
**
** Each input logs fuzzuser in (GET /v4/ws with a valid UserSig, over fake_conn.c as in
** fuzz_http.c); the login sends Hello and catches up the baseline's live stored pushes,
** paced over several turns by the harness's small output cap (FZ_WS_QUEUE_CAP). Then the
** input's frames arrive.
** Input: byte 0 = options: bits 0-5 the size of each read (0: everything at once), bit 6
** at the end fire every timeout (idle close) and save the acks (the housekeeping timer's
** work), bit 7 send the frames in the same read as the upgrade request (bytes past the
** request go to the WebSocket handler). Byte 1 = events: bit 0 a live push (MsgLifeTime 0)
** and bit 1 a stored push, both arriving in the same turn as the login (so during its
** catch-up), bit 2 kick fuzzuser after the frames, bit 3 revoke the first stored push after
** them, bit 4 a second login of fuzzuser alongside, bits 5-7 the pushed text's size in KB
** (past the output cap a receiver is dropped). Byte 2 = more events: bit 0 a live push
** and bit 1 a stored push after the frames (the receiver is caught up by then), bits 2-4
** a slow receiver reading at most 2^(7+k) bytes per loop turn (0: all). The rest:
** client frames (masked; a mask key of 0 leaves the payload readable).
**
** Checked: the server's output is a 101 and then well-formed server frames (unmasked,
** FIN set, text/close/pong only, a close frame is the last one and carries a valid code);
** each text frame is a JSON object with an Event the protocol defines; on each connection
** Msg frames come in increasing Seq; an account is marked delivered only for pushes that
** were sent to one of its connections (an Ack cannot cover what was never sent); a
** connection still open at the end has been sent every live stored push of its account
** (catch-up and live delivery skip nothing); no leak; nothing is left waiting after the
** connection is gone.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* A REST call on its own connection; rest_done checks its answer once it has run. */
static conn *rest_send(fz_api *e, const char *path, const char *body)
{
  size_t blen = strlen(body);
  char *req = malloc(blen + 1024);
  int n = snprintf(req, blen + 1024,
                   "POST /v4/%s?sdkappid=%llu&identifier=%s&usersig=%s HTTP/1.1\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   path, FZ_SDKAPPID, FZ_ADMIN, e->admin_sig, blen, body);
  conn *c = fake_conn_accept(e->hub);
  fake_conn_send(c, req, (size_t)n);
  free(req);
  return c;
}

static void rest_done(fz_api *e, conn *c)
{
  if (!c) return;
  size_t len;
  const char *out = fake_conn_received(c, &len);
  fz_response r;
  if (fz_parse_responses(out, len, &r, 1) != 1 || fz_check_envelope(r.body, r.body_len) != 0)
    fz_fail("REST call failed: %.*s", (int)(len < 300 ? len : 300), out);
  fake_conn_free(c);
}

static void rest(fz_api *e, const char *path, const char *body)
{
  conn *c = rest_send(e, path, body);
  fz_run(e, 0);
  rest_done(e, c);
  fz_run(e, 0);
}

/* An im_push body with a text of size bytes. */
static char *push_body(int random, int lifetime, size_t size)
{
  char *b = malloc(size + 200);
  int n = sprintf(b, "{\"MsgRandom\":%d,\"MsgLifeTime\":%d,\"MsgBody\":[{\"MsgType\":"
                  "\"TIMTextElem\",\"MsgContent\":{\"Text\":\"", random, lifetime);
  memset(b + n, 'x', size);
  strcpy(b + n + size, "\"}}]}");
  return b;
}

static conn *login(fz_api *e, const uint8_t *extra, size_t extra_len)
{
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "GET /v4/ws?sdkappid=%llu&identifier=%s&usersig=%s HTTP/1.1\r\nHost: fuzz\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   FZ_SDKAPPID, FZ_USER, e->user_sig);
  conn *c = fake_conn_accept(e->hub);
  fake_conn_send(c, req, (size_t)n);
  if (extra) fake_conn_send(c, extra, extra_len);
  return c;
}

static bool valid_close_code(unsigned code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

#define MAX_SEQS 256
typedef struct seen {
  uint64_t seq[MAX_SEQS];
  size_t n;
} seen;

static bool has_seq(const seen *s, uint64_t seq)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->seq[i] == seq) return true;
  return false;
}

/* Checks what the server sent (or queued) on one connection: a 101, then server frames;
** records the Seqs of its Msg frames. */
static void check_output(const char *out, size_t n, seen *msgs)
{
  msgs->n = 0;
  if (n == 0) return; /* e.g. everything was cut before the request ended */
  fz_response r;
  if (fz_parse_responses(out, n, &r, 1) != 1 || r.status != 101)
    fz_fail("the login was not answered with 101: %.*s", (int)(n < 200 ? n : 200), out);
  const uint8_t *p = (const uint8_t *)r.body, *end = p + r.body_len;
  bool closed = false;
  while (p < end) {
    if (closed) fz_fail("a frame after the close frame");
    if (end - p < 2) fz_fail("truncated frame header");
    uint8_t op = p[0] & 0x0F;
    if (p[0] != (0x80 | op)) fz_fail("server frame without FIN or with RSV bits: %02x", p[0]);
    if (p[1] & 0x80) fz_fail("masked server frame");
    uint64_t len = p[1] & 0x7F;
    size_t h = 2;
    if (len == 126) {
      if (end - p < 4) fz_fail("truncated frame header");
      len = (uint64_t)p[2] << 8 | p[3];
      h = 4;
      if (len < 126) fz_fail("non-minimal frame length");
    } else if (len == 127) {
      if (end - p < 10) fz_fail("truncated frame header");
      len = 0;
      for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
      h = 10;
      if (len <= 0xFFFF) fz_fail("non-minimal frame length");
    }
    if ((uint64_t)(end - p) - h < len) fz_fail("truncated frame payload");
    const char *pl = (const char *)p + h;
    if (op == 0x1) {
      json_t *v = json_loadb(pl, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
      const char *ev = json_string_value(json_object_get(v, "Event"));
      if (!ev || (strcmp(ev, "Hello") && strcmp(ev, "Msg") && strcmp(ev, "Revoke") &&
                  strcmp(ev, "Kicked")))
        fz_fail("server text frame is not a known event: %.*s", (int)len, pl);
      if (strcmp(ev, "Msg") == 0) {
        json_t *seq = json_object_get(v, "Seq");
        if (!json_is_integer(seq) || json_integer_value(seq) <= 0) fz_fail("Msg without a Seq");
        uint64_t q = (uint64_t)json_integer_value(seq);
        if (msgs->n && q <= msgs->seq[msgs->n - 1])
          fz_fail("Msg Seq %llu after Seq %llu on one connection", (unsigned long long)q,
                  (unsigned long long)msgs->seq[msgs->n - 1]);
        if (msgs->n < MAX_SEQS) msgs->seq[msgs->n++] = q;
      }
      json_decref(v);
    } else if (op == 0x8) {
      if (len == 1 || len > 125) fz_fail("close frame with a %llu-byte payload", (unsigned long long)len);
      if (len >= 2 && !valid_close_code((unsigned)((uint8_t)pl[0] << 8 | (uint8_t)pl[1])))
        fz_fail("close frame with code %u", (unsigned)((uint8_t)pl[0] << 8 | (uint8_t)pl[1]));
      closed = true;
    } else if (op != 0xA) {
      fz_fail("server frame with opcode %u", op);
    } else if (len > 125) {
      fz_fail("pong over 125 bytes");
    }
    p += h + len;
  }
}

/* What the peer got and what waits for it, as one stream. */
static char *both(const conn *c, size_t *n)
{
  size_t a, b;
  const char *got = fake_conn_received(c, &a), *left = fake_conn_unsent(c, &b);
  char *s = malloc(a + b + 1);
  memcpy(s, got, a);
  memcpy(s + a, left, b);
  *n = a + b;
  return s;
}

/* Acks cover only what was sent; an open connection was sent every live stored push. */
static void check_delivery(fz_api *e, const conn *c, const seen *on_c, const seen *on_other,
                           bool kicked_or_revoked)
{
  uint32_t uid = directory_find(e->a->dir, FZ_USER);
  if (uid == DIR_UID_NONE) fz_fail("fuzzuser vanished");
  int64_t now = (int64_t)time(NULL);
  bool open = !fake_conn_closed(c) && !kicked_or_revoked && on_c->n < MAX_SEQS;
  uint64_t next = push_registry_next_seq(e->a->pushes);
  for (uint64_t q = 1; q < next; q++) {
    push *p = push_registry_find_seq(e->a->pushes, q);
    if (!p) continue;
    bool sent = has_seq(on_c, q) || has_seq(on_other, q);
    if (roaring_bitmap_contains(p->delivered, uid) && !sent && on_c->n < MAX_SEQS &&
        on_other->n < MAX_SEQS)
      fz_fail("push Seq %llu is marked delivered to fuzzuser but was never sent to it",
              (unsigned long long)q);
    if (open && p->state != PUSH_REVOKED && now < p->expires_at &&
        roaring_bitmap_contains(p->audience, uid) && !has_seq(on_c, q))
      fz_fail("push Seq %llu is live for fuzzuser, whose connection is open, and was not sent",
              (unsigned long long)q);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 3) return 0;
  fz_api *e = fz_api_get();
  uint8_t opt = data[0], ev = data[1], ev2 = data[2];
  const uint8_t *frames = data + 3;
  size_t nframes = size - 3, read_max = opt & 0x3f, text = (size_t)(ev >> 5) * 1000 + 10;
  char body[128];

  conn *other = ev & 0x10 ? login(e, NULL, 0) : NULL;
  conn *c = login(e, opt & 0x80 ? frames : NULL, nframes);
  if (ev2 & 0x1c) fake_conn_set_drain(c, (size_t)1 << (7 + ((ev2 >> 2) & 7)));
  conn *live = NULL, *stored = NULL;
  if (ev & 0x03) { /* the REST calls are read in the login's turn: during its catch-up */
    char *b = push_body(77, 0, text);
    if (ev & 0x01) live = rest_send(e, "all_member_push/im_push", b);
    free(b);
    b = push_body(78, 300, text);
    if (ev & 0x02) stored = rest_send(e, "all_member_push/im_push", b);
    free(b);
  }
  fz_run(e, 0);
  rest_done(e, live);
  rest_done(e, stored);
  if (!(opt & 0x80)) fake_conn_send(c, frames, nframes);
  fz_run(e, read_max);
  if (ev2 & 0x03) {
    char *b = push_body(79, ev2 & 0x02 ? 300 : 0, text);
    rest(e, "all_member_push/im_push", b);
    free(b);
  }
  if (ev & 0x04) rest(e, "im_open_login_svc/kick", "{\"UserID\":\"" FZ_USER "\"}");
  if (ev & 0x08) {
    snprintf(body, sizeof body, "{\"TaskId\":\"%s\"}", e->task_ids[0]);
    rest(e, "all_member_push/im_revoke", body);
  }
  if (opt & 0x40) {
    receivers_save_acks(e->a);
    fake_hub_expire(e->hub);
    fz_run(e, read_max);
  }
  size_t n;
  seen on_c, on_other = {.n = 0};
  char *stream = both(c, &n);
  check_output(stream, n, &on_c);
  free(stream);
  if (other) {
    stream = both(other, &n);
    check_output(stream, n, &on_other);
    free(stream);
  }
  check_delivery(e, c, &on_c, &on_other, (ev & 0x0c) != 0);
  fake_conn_free(c);
  fake_conn_free(other);
  fz_run(e, 0);
  fz_api_reset(e, fz_acks_pending(e));
  return 0;
}
