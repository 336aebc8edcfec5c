/*
** test_receiver.c — the receiver client library (sdk/receiver) against a scripted server.
**
** There is no imcastd WebSocket endpoint to test against yet, so this file carries a
** minimal one on libuv + wslay (server side): it parses the upgrade request, answers 101
** with the accept key (computed here with OpenSSL, not with the library's helper), and
** then plays a script per scenario — pushes (one fragmented in two frames), a revoke, a
** kick with close 4001, a refused upgrade (401 with a JSON envelope, body split across
** writes), an abrupt drop followed by a reconnect, a free from inside a callback, and
** the same over TLS (memory BIOs) with a throwaway self-signed certificate minted here.
** The client and the server share one uv loop on 127.0.0.1, port 0. The pure helpers
** (URL, request head, accept key, HTTP response parsing, JSON member spans) are tested
** directly through rx_internal.h. Everything must pass under ASan/UBSan without leaks:
** each scenario ends with uv_loop_close() == 0.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "imcast_receiver.h"
#include "rx_internal.h"

#define SDKAPPID 1400000000ULL
#define IDENT "u 1/\xc3\xa9"               /* needs percent-encoding */
#define IDENT_ENC "u%201%2F%C3%A9"
#define USERSIG "eJw1jE*sig-_x"            /* UserSig's alphabet: stays as is */

/* ------------------------------------------------------------------------------------ */
/* Pure helpers                                                                         */
/* ------------------------------------------------------------------------------------ */

static void test_url_parse(void **state)
{
  imcast_rx_url u;
  assert_int_equal(imcast_rx_url_parse("ws://127.0.0.1:8080", &u), 0);
  assert_false(u.tls);
  assert_true(u.host_is_ip);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 8080);
  assert_string_equal(u.path, "");

  assert_int_equal(imcast_rx_url_parse("wss://push.example.com", &u), 0);
  assert_true(u.tls);
  assert_false(u.host_is_ip);
  assert_int_equal(u.port, 443);
  assert_true(u.default_port);

  assert_int_equal(imcast_rx_url_parse("WS://[::1]:9000/imcast/", &u), 0);
  assert_true(u.host_is_ip6);
  assert_true(u.host_is_ip);
  assert_string_equal(u.host, "::1");
  assert_string_equal(u.path, "/imcast");

  static const char *bad[] = {
      "http://h", "ws://", "ws://h:0", "ws://h:65536", "ws://h:8x", "ws://user@h",
      "ws://h/?q=1", "ws://h#f", "ws://h/a b", "ws://h\r\nX-Evil: 1", "ws://[::1",
      "ws://[zz]:1", "ws://[::1]x", "ws://h_1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(imcast_rx_url_parse(bad[i], &u), UV_EINVAL);
  assert_int_equal(imcast_rx_url_parse(NULL, &u), UV_EINVAL);
}

static void test_pct_encode(void **state)
{
  char buf[64];
  assert_int_equal(imcast_rx_pct_encode(buf, sizeof buf, IDENT), strlen(IDENT_ENC));
  assert_string_equal(buf, IDENT_ENC);
  imcast_rx_pct_encode(buf, sizeof buf, "AZaz09-._~*&=+%");
  assert_string_equal(buf, "AZaz09-._~*%26%3D%2B%25");
  /* Truncation still reports the full length and terminates. */
  assert_int_equal(imcast_rx_pct_encode(buf, 4, "a b"), 5);
  assert_string_equal(buf, "a%2");
}

static void test_request_head(void **state)
{
  imcast_rx_url u;
  assert_int_equal(imcast_rx_url_parse("ws://[::1]:8080/p", &u), 0);
  char *h = imcast_rx_request_head(&u, SDKAPPID, IDENT, USERSIG);
  assert_non_null(h);
  assert_string_equal(h, "GET /p/v4/ws?sdkappid=1400000000&identifier=" IDENT_ENC
                         "&usersig=" USERSIG " HTTP/1.1\r\n"
                         "Host: [::1]:8080\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "User-Agent: imcast-receiver/0.1\r\n");
  free(h);
  assert_int_equal(imcast_rx_url_parse("wss://h.example:443", &u), 0);
  h = imcast_rx_request_head(&u, 1, "a", "b");
  assert_non_null(strstr(h, "\r\nHost: h.example\r\n")); /* default port omitted */
  free(h);
}

static void test_ws_key_accept(void **state)
{
  char accept[29], key[25];
  /* RFC 6455 §1.3's example. */
  assert_int_equal(imcast_rx_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", accept), 0);
  assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(imcast_rx_ws_key(key), 0);
  assert_int_equal(strlen(key), 24);
  unsigned char raw[20];
  assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)key, 24), 18); /* 16 + pad */
  assert_string_equal(key + 22, "==");
}

static void test_http_head(void **state)
{
  imcast_rx_http_head h;
  static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
                           "upgrade: WebSocket\r\n"
                           "CONNECTION: keep-alive, Upgrade \r\n"
                           "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\t\r\n"
                           "\r\n\x81\x05hello";
  assert_int_equal(imcast_rx_http_parse_head(ok, sizeof ok - 1, &h), 1);
  assert_int_equal(h.status, 101);
  assert_true(h.upgrade_websocket);
  assert_true(h.connection_upgrade);
  assert_false(h.has_extensions);
  assert_int_equal(h.accept_len, 28);
  assert_memory_equal(h.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
  assert_int_equal(h.head_len, sizeof ok - 1 - 7); /* the frame after it is not head */

  /* Incomplete, then malformed variants. */
  assert_int_equal(imcast_rx_http_parse_head(ok, 40, &h), 0);
  static const char *bad[] = {
      "HTTP/1.1 1x1 Nope\r\n\r\n", "HTTX/1.1 101 X\r\n\r\n", "HTTP/1.1 101 X\r\nNoColon\r\n\r\n",
      "HTTP/1.1 101 X\r\n folded: y\r\n\r\n", "HTTP/1.1 401 X\r\nContent-Length: -1\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(imcast_rx_http_parse_head(bad[i], strlen(bad[i]), &h), -1);

  /* A head that never ends is refused once it passes the limit. */
  size_t big = IMCAST_RX_HTTP_HEAD_MAX + 10;
  char *junk = malloc(big);
  memset(junk, 'a', big);
  assert_int_equal(imcast_rx_http_parse_head(junk, big, &h), -1);
  free(junk);

  static const char refused[] = "HTTP/1.0 401 Unauthorized\r\nContent-Length: 12\r\n"
                                "Transfer-Encoding: gzip, chunked\r\n\r\n";
  assert_int_equal(imcast_rx_http_parse_head(refused, sizeof refused - 1, &h), 1);
  assert_int_equal(h.status, 401);
  assert_int_equal(h.content_length, 12);
  assert_true(h.chunked);
}

static void test_http_body(void **state)
{
  imcast_rx_http_head h = {.content_length = 5};
  char b1[] = "hel";
  size_t n = 0;
  assert_int_equal(imcast_rx_http_body(&h, b1, 3, 0, &n), 0);
  assert_int_equal(imcast_rx_http_body(&h, b1, 3, 1, &n), 1); /* EOF: what came */
  assert_int_equal(n, 3);
  char b2[] = "hello, extra";
  assert_int_equal(imcast_rx_http_body(&h, b2, strlen(b2), 0, &n), 1);
  assert_int_equal(n, 5);

  imcast_rx_http_head ch = {.content_length = -1, .chunked = 1};
  char part[] = "5\r\nhello\r\n6\r\n wo";
  char whole[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  assert_int_equal(imcast_rx_http_body(&ch, part, strlen(part), 0, &n), 0);
  assert_string_equal(part, "5\r\nhello\r\n6\r\n wo"); /* untouched until complete */
  assert_int_equal(imcast_rx_http_body(&ch, part, strlen(part), 1, &n), -1);
  assert_int_equal(imcast_rx_http_body(&ch, whole, strlen(whole), 0, &n), 1);
  assert_int_equal(n, 11);
  assert_memory_equal(whole, "hello world", 11);
  char badchunk[] = "zz\r\nhello\r\n";
  assert_int_equal(imcast_rx_http_body(&ch, badchunk, strlen(badchunk), 0, &n), -1);

  imcast_rx_http_head none = {.content_length = -1};
  char b3[] = "{\"a\":1}";
  assert_int_equal(imcast_rx_http_body(&none, b3, 7, 0, &n), 0);
  assert_int_equal(imcast_rx_http_body(&none, b3, 7, 1, &n), 1);
  assert_int_equal(n, 7);
}

static void test_json_member(void **state)
{
  static const char j[] =
      " { \"Event\" : \"Msg\", \"Tricky\":\"}]\\\"[{\", \"N\":-1.10e3 ,"
      "\"MsgBody\" :[ {\"MsgType\":\"TIMLocationElem\",\"MsgContent\":{\"Latitude\":1.10,"
      "\"Desc\":\"a]}\\\\\"}} ] , \"Last\":{\"MsgBody\":1},\"MsgBody\":2}";
  const char *v;
  size_t n;
  assert_int_equal(imcast_rx_json_member(j, sizeof j - 1, "MsgBody", &v, &n), 1);
  static const char body[] = "[ {\"MsgType\":\"TIMLocationElem\",\"MsgContent\":{\"Latitude\":"
                             "1.10,\"Desc\":\"a]}\\\\\"}} ]";
  assert_int_equal(n, sizeof body - 1);
  assert_memory_equal(v, body, n);
  assert_int_equal(imcast_rx_json_member(j, sizeof j - 1, "N", &v, &n), 1);
  assert_int_equal(n, 7);
  assert_memory_equal(v, "-1.10e3", 7);
  assert_int_equal(imcast_rx_json_member(j, sizeof j - 1, "Tricky", &v, &n), 1);
  assert_memory_equal(v, "\"}]\\\"[{\"", n);
  assert_int_equal(imcast_rx_json_member(j, sizeof j - 1, "Absent", &v, &n), 0);
  assert_int_equal(imcast_rx_json_member("[1]", 3, "a", &v, &n), -1);
  assert_int_equal(imcast_rx_json_member("{\"a\":", 5, "a", &v, &n), -1);
  assert_int_equal(imcast_rx_json_member("{}", 2, "a", &v, &n), 0);
}

/* ------------------------------------------------------------------------------------ */
/* The scripted server                                                                  */
/* ------------------------------------------------------------------------------------ */

typedef enum {
  SCEN_FULL, SCEN_REFUSE, SCEN_RECONNECT, SCEN_FREE_IN_CB, SCEN_TLS, SCEN_ACK_DELAY
} scenario;

typedef struct client_log client_log;

typedef struct srv {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_timer_t later;            /* SCEN_REFUSE: the rest of the body; SCEN_ACK_DELAY: Msg 3 */
  struct sconn *late_conn;
  int port;
  scenario scen;
  SSL_CTX *tls;                /* serve wss:// when set */
  client_log *client;
  int accepted, upgraded, open;
  char target[512];            /* request target of the last upgrade request */
  bool hdr_upgrade, hdr_connection, hdr_version, hdr_host;
  int64_t acks[8];
  int n_acks;
  char texts[4][64];           /* text frames other than Ack */
  int n_texts;
  int pings;
  int close_code;              /* from the client's close frame */
  int tls_handshakes;          /* completed server-side TLS handshakes */
  uint64_t opened_ms;          /* loop time of the 101 (SCEN_ACK_DELAY) */
  uint64_t first_ack_ms;       /* loop time of the first Ack, relative to opened_ms */
} srv;

typedef struct sconn {
  uv_tcp_t tcp;
  srv *s;
  int index;                   /* 1 = first connection */
  wslay_event_context_ptr ws;
  SSL *ssl;                    /* wss:// only */
  char req[8192];
  size_t req_len;
  const uint8_t *in;
  size_t in_len;
  char *out;                   /* pending output, written as one uv_write */
  size_t out_len, out_cap;
  unsigned writes;
  bool close_after_write, closing;
  const char *frag;            /* the message being sent in two frames */
  size_t frag_len, frag_off;
} sconn;

typedef struct swrite {
  uv_write_t req;
  sconn *k;
  char *buf;
} swrite;

struct client_log {
  imcast_receiver *r;
  srv *s;
  bool close_on_msg;           /* the app closes (1000) in its first on_msg */
  int hellos;
  char user_id[64];
  int ping_sec;
  imcast_receiver_state state_at_hello;
  int msgs;
  int64_t seq[8];
  char task[8][32];
  char from[8][32];
  char to[8][32];
  bool to_null[8];
  uint32_t rnd[8];
  int64_t time[8];
  char body[8][256];
  char offline[8][64];
  bool dup[8];
  bool json_whole[8];          /* m->json is the whole event text */
  int revokes;
  int64_t revoke_seq;
  char revoke_task[32];
  int kicks;
  char kick_reason[64];
  int closes;
  int close_code[4];
  char close_reason[4][128];
  int will_reconnect[4];
  imcast_receiver_state state_at_close[4];
  int errors;
  int err[4];
  int http_status[4];
  char detail[4][512];
};

static void s_closed(uv_handle_t *h)
{
  sconn *k = h->data;
  if (k->ws)
    wslay_event_context_free(k->ws);
  SSL_free(k->ssl);
  free(k->out);
  if (k->s->late_conn == k)
    k->s->late_conn = NULL; /* s_later finds it gone */
  k->s->open--;
  free(k);
}

static void s_close(sconn *k)
{
  if (!k->closing) {
    k->closing = true;
    uv_close((uv_handle_t *)&k->tcp, s_closed);
  }
}

static void s_out(sconn *k, const void *d, size_t n)
{
  if (k->out_len + n > k->out_cap) {
    k->out_cap = (k->out_len + n) * 2;
    k->out = realloc(k->out, k->out_cap);
    assert_non_null(k->out);
  }
  memcpy(k->out + k->out_len, d, n);
  k->out_len += n;
}

static void s_on_write(uv_write_t *req, int status)
{
  swrite *w = (swrite *)req;
  sconn *k = w->k;
  free(w->buf);
  free(w);
  k->writes--;
  if (k->close_after_write && k->writes == 0)
    s_close(k);
}

static void s_write_copy(sconn *k, const char *data, size_t len)
{
  swrite *w = malloc(sizeof *w);
  assert_non_null(w);
  w->k = k;
  w->buf = malloc(len);
  assert_non_null(w->buf);
  memcpy(w->buf, data, len);
  uv_buf_t b = uv_buf_init(w->buf, (unsigned)len);
  assert_int_equal(uv_write(&w->req, (uv_stream_t *)&k->tcp, &b, 1, s_on_write), 0);
  k->writes++;
}

/* Sends what TLS produced (handshake records, ciphertext). */
static void s_tls_drain(sconn *k)
{
  char tmp[16384];
  int n;
  while ((n = BIO_read(SSL_get_wbio(k->ssl), tmp, sizeof tmp)) > 0)
    s_write_copy(k, tmp, (size_t)n);
}

/* Writes everything queued so far in one uv_write: the buffer moves to the request. */
static void s_flush(sconn *k)
{
  if (k->ws)
    assert_int_equal(wslay_event_send(k->ws), 0);
  if (k->out_len == 0 || k->closing)
    return;
  if (k->ssl) {
    assert_true(SSL_write(k->ssl, k->out, (int)k->out_len) > 0);
    k->out_len = 0;
    s_tls_drain(k);
    return;
  }
  swrite *w = malloc(sizeof *w);
  assert_non_null(w);
  w->k = k;
  w->buf = k->out;
  uv_buf_t b = uv_buf_init(k->out, (unsigned)k->out_len);
  k->out = NULL;
  k->out_len = k->out_cap = 0;
  assert_int_equal(uv_write(&w->req, (uv_stream_t *)&k->tcp, &b, 1, s_on_write), 0);
  k->writes++;
}

static void s_text(sconn *k, const char *text)
{
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, strlen(text)};
  assert_int_equal(wslay_event_queue_msg(k->ws, &m), 0);
}

/* Feeds the fragmented message to wslay in two halves: two frames, FIN on the second. */
static ssize_t s_frag_read(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                           const union wslay_event_msg_source *src, int *eof, void *ud)
{
  sconn *k = src->data;
  size_t half = k->frag_len / 2;
  size_t n = k->frag_off == 0 ? half : k->frag_len - k->frag_off;
  assert_true(n <= len);
  memcpy(buf, k->frag + k->frag_off, n);
  k->frag_off += n;
  *eof = k->frag_off == k->frag_len;
  return (ssize_t)n;
}

static void s_text_fragmented(sconn *k, const char *text)
{
  k->frag = text;
  k->frag_len = strlen(text);
  k->frag_off = 0;
  struct wslay_event_fragmented_msg m = {.opcode = WSLAY_TEXT_FRAME, .read_callback = s_frag_read};
  m.source.data = k;
  assert_int_equal(wslay_event_queue_fragmented_msg(k->ws, &m), 0);
}

static const char MSG1[] =
    "{\"Event\":\"Msg\",\"Seq\":1,\"TaskId\":\"t1\",\"From_Account\":\"admin\","
    "\"To_Account\":\"" IDENT "\",\"MsgRandom\":4294967295,\"MsgTime\":1764120000,"
    "\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi, beauty\"}}],"
    "\"OfflinePushInfo\":{\"PushFlag\":0}}";
/* Spacing and 1.10 must reach the callback byte for byte. */
#define MSG2_BODY                                                                          \
  "[ {\"MsgType\":\"TIMLocationElem\",\"MsgContent\":{\"Desc\":\"x ] }\",\"Latitude\":1.10," \
  "\"Longitude\":2.50}} ]"
static const char MSG2[] = "{\"Event\":\"Msg\",\"Seq\":2,\"TaskId\":\"t2\",\"From_Account\":"
                           "\"admin\",\"To_Account\":\"" IDENT "\",\"MsgRandom\":7,"
                           "\"MsgTime\":1764120001,\"MsgBody\":" MSG2_BODY "}";
/* A shared fan-out frame: no To_Account. */
static const char MSG3[] = "{\"Event\":\"Msg\",\"Seq\":3,\"TaskId\":\"t3\",\"From_Account\":"
                           "\"ops\",\"MsgRandom\":0,\"MsgTime\":1764120002,\"MsgBody\":[]}";
static const char MSG7[] = "{\"Event\":\"Msg\",\"Seq\":7,\"TaskId\":\"t7\",\"From_Account\":"
                           "\"admin\",\"MsgRandom\":1,\"MsgTime\":1,\"MsgBody\":[]}";
static const char BODY401[] =
    "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"UserSig expired\",\"ErrorCode\":70001}";

static void s_hello(sconn *k, int ping_sec)
{
  char hello[128];
  snprintf(hello, sizeof hello,
           "{\"Event\":\"Hello\",\"UserID\":\"%s\",\"ServerTime\":1764120000,\"PingSec\":%d}",
           IDENT, ping_sec);
  s_text(k, hello);
}

static void s_later(uv_timer_t *t);

/* Right after the 101, in the same write. */
static void script_open(sconn *k)
{
  switch (k->s->scen) {
  case SCEN_FULL:
  case SCEN_FREE_IN_CB:
    s_hello(k, 0);
    s_text(k, MSG1);
    s_text_fragmented(k, MSG2);
    s_text(k, "{\"Event\":\"Revoke\",\"Seq\":1,\"TaskId\":\"t1\"}");
    break;
  case SCEN_RECONNECT:
    s_hello(k, 1);
    s_text(k, MSG7); /* unacknowledged on the first connection: sent again on the second */
    if (k->index == 1)
      k->close_after_write = true; /* drop without a close frame */
    break;
  case SCEN_TLS:
    s_hello(k, 0);
    s_text(k, MSG1);
    break;
  case SCEN_ACK_DELAY:
    /* Msg 1 now and Msg 3 100 ms later: a delayed Ack covers both. */
    s_hello(k, 0);
    s_text(k, MSG1);
    k->s->opened_ms = uv_now(k->s->loop);
    k->s->late_conn = k;
    uv_timer_start(&k->s->later, s_later, 100, 0);
    break;
  case SCEN_REFUSE:
    break;
  }
}

static void script_ack(sconn *k)
{
  if (k->s->scen == SCEN_FULL && k->s->n_acks == 1) {
    s_text(k, MSG3);
    s_text(k, "{\"Event\":\"Kicked\",\"Reason\":\"kicked by admin\"}");
    /* wslay sends control frames ahead of queued data: push the data out first, or the
     * close would overtake (and cancel) Msg 3 and Kicked. All still leaves in one write. */
    assert_int_equal(wslay_event_send(k->ws), 0);
    assert_int_equal(wslay_event_queue_close(k->ws, 4001, (const uint8_t *)"kicked", 6), 0);
  } else if (k->s->scen == SCEN_ACK_DELAY) {
    if (k->s->n_acks == 1)
      k->s->first_ack_ms = uv_now(k->s->loop) - k->s->opened_ms;
    if (k->s->acks[k->s->n_acks - 1] == 3)
      assert_int_equal(wslay_event_queue_close(k->ws, 4001, (const uint8_t *)"bye", 3), 0);
  } else if (k->s->scen == SCEN_TLS) {
    /* 4001 alone (no Kicked event) must also stop the reconnects. */
    assert_int_equal(wslay_event_queue_close(k->ws, 4001, (const uint8_t *)"bye", 3), 0);
  }
}

static void s_on_msg(wslay_event_context_ptr ws, const struct wslay_event_on_msg_recv_arg *a,
                     void *ud)
{
  sconn *k = ud;
  srv *s = k->s;
  if (a->opcode == WSLAY_PING) {
    s->pings++;
    if (s->scen == SCEN_RECONNECT && s->pings == 1)
      assert_int_equal(imcast_receiver_close(s->client->r, 0), 0); /* the app hangs up */
  } else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
    s->close_code = a->status_code;
  } else if (a->opcode == WSLAY_TEXT_FRAME) {
    json_t *ev = json_loadb((const char *)a->msg, a->msg_length, 0, NULL);
    assert_non_null(ev);
    const char *name = json_string_value(json_object_get(ev, "Event"));
    if (name && strcmp(name, "Ack") == 0) {
      assert_true(s->n_acks < 8);
      s->acks[s->n_acks++] = json_integer_value(json_object_get(ev, "Seq"));
      script_ack(k);
    } else if (s->n_texts < 4) {
      snprintf(s->texts[s->n_texts++], sizeof s->texts[0], "%.*s", (int)a->msg_length,
               (const char *)a->msg);
    }
    json_decref(ev);
  }
}

static ssize_t s_recv_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len, int flags,
                         void *ud)
{
  sconn *k = ud;
  if (k->in_len == 0) {
    wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < k->in_len ? len : k->in_len;
  memcpy(buf, k->in, n);
  k->in += n;
  k->in_len -= n;
  return (ssize_t)n;
}

static ssize_t s_send_cb(wslay_event_context_ptr ws, const uint8_t *data, size_t len,
                         int flags, void *ud)
{
  s_out(ud, data, len);
  return (ssize_t)len;
}

/* Value of header `name` in the request, or NULL; copied into out. */
static const char *req_header(const char *req, const char *name, char *out, size_t cap)
{
  size_t nlen = strlen(name);
  for (const char *p = strstr(req, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
      const char *v = line + nlen + 1, *e = strstr(v, "\r\n");
      while (*v == ' ')
        v++;
      snprintf(out, cap, "%.*s", (int)(e - v), v);
      return out;
    }
  }
  return NULL;
}

static void accept_key(const char *key, char out[29])
{
  char buf[128];
  unsigned char md[20];
  snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  assert_int_equal(EVP_Digest(buf, strlen(buf), md, NULL, EVP_sha1(), NULL), 1);
  EVP_EncodeBlock((unsigned char *)out, md, 20);
}

static void s_later(uv_timer_t *t)
{
  srv *s = t->data;
  sconn *k = s->late_conn;
  if (k == NULL || k->closing)
    return;
  if (s->scen == SCEN_ACK_DELAY) {
    s_text(k, MSG3);
    s_flush(k);
    return;
  }
  s_out(k, BODY401 + 20, strlen(BODY401) - 20);
  k->close_after_write = true;
  s_flush(k);
}

/* The whole request head is in k->req. */
static void s_upgrade(sconn *k)
{
  srv *s = k->s;
  char v[256], key[64];
  sscanf(k->req, "GET %511s HTTP/1.1", s->target);
  s->hdr_upgrade = req_header(k->req, "upgrade", v, sizeof v) && !strcmp(v, "websocket");
  s->hdr_connection = req_header(k->req, "Connection", v, sizeof v) && !strcmp(v, "Upgrade");
  s->hdr_version = req_header(k->req, "Sec-WebSocket-Version", v, sizeof v) && !strcmp(v, "13");
  char want_host[64];
  snprintf(want_host, sizeof want_host, "127.0.0.1:%d", s->port);
  s->hdr_host = req_header(k->req, "Host", v, sizeof v) &&
                (!strcmp(v, want_host) || !strncmp(v, "localhost:", 10));
  assert_non_null(req_header(k->req, "Sec-WebSocket-Key", key, sizeof key));

  if (s->scen == SCEN_REFUSE) {
    /* Head and the start of the body now, the rest 20 ms later: the client must wait. */
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(BODY401));
    s_out(k, head, (size_t)n);
    s_out(k, BODY401, 20);
    s_flush(k);
    s->late_conn = k;
    uv_timer_start(&s->later, s_later, 20, 0);
    return;
  }
  char acc[29], resp[256];
  accept_key(key, acc);
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
  s_out(k, resp, (size_t)n);
  struct wslay_event_callbacks cbs = {.recv_callback = s_recv_cb,
                                      .send_callback = s_send_cb,
                                      .on_msg_recv_callback = s_on_msg};
  assert_int_equal(wslay_event_context_server_init(&k->ws, &cbs, k), 0);
  s->upgraded++;
  script_open(k);
  s_flush(k); /* 101 and the first frames in one write: the client must split them */
}

static void s_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char big[64 * 1024];
  buf->base = big;
  buf->len = sizeof big;
}

/* Plaintext from the client: the upgrade request, then WebSocket frames. */
static void s_plain(sconn *k, const char *data, size_t nread)
{
  if (k->ws == NULL) {
    assert_true(k->req_len + nread < sizeof k->req);
    memcpy(k->req + k->req_len, data, nread);
    k->req_len += nread;
    k->req[k->req_len] = '\0';
    if (strstr(k->req, "\r\n\r\n") != NULL && k->s->late_conn != k)
      s_upgrade(k);
    return;
  }
  k->in = (const uint8_t *)data;
  k->in_len = nread;
  assert_int_equal(wslay_event_recv(k->ws), 0);
  s_flush(k);
  if (wslay_event_get_close_sent(k->ws) && wslay_event_get_close_received(k->ws)) {
    /* Handshake done: the server ends the TCP connection, as RFC 6455 prefers. */
    k->close_after_write = true;
    if (k->writes == 0)
      s_close(k);
  }
}

static void s_tls_input(sconn *k, const char *data, size_t len)
{
  assert_int_equal(BIO_write(SSL_get_rbio(k->ssl), data, (int)len), (int)len);
  if (!SSL_is_init_finished(k->ssl)) {
    int rc = SSL_do_handshake(k->ssl);
    s_tls_drain(k);
    if (rc != 1) {
      if (SSL_get_error(k->ssl, rc) != SSL_ERROR_WANT_READ) {
        ERR_clear_error(); /* e.g. the client rejected our certificate */
        s_close(k);
      }
      return;
    }
    k->s->tls_handshakes++;
  }
  char plain[16384];
  int n;
  while (!k->closing && (n = SSL_read(k->ssl, plain, sizeof plain)) > 0)
    s_plain(k, plain, (size_t)n);
  ERR_clear_error();
  if (!k->closing)
    s_tls_drain(k);
}

static void s_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
  sconn *k = st->data;
  if (nread < 0) {
    s_close(k);
    return;
  }
  if (k->closing || nread == 0)
    return;
  if (k->ssl)
    s_tls_input(k, buf->base, (size_t)nread);
  else
    s_plain(k, buf->base, (size_t)nread);
}

static void s_accept(uv_stream_t *l, int status)
{
  srv *s = l->data;
  assert_int_equal(status, 0);
  sconn *k = calloc(1, sizeof *k);
  assert_non_null(k);
  k->s = s;
  k->index = ++s->accepted;
  uv_tcp_init(s->loop, &k->tcp);
  k->tcp.data = k;
  assert_int_equal(uv_accept(l, (uv_stream_t *)&k->tcp), 0);
  s->open++;
  if (s->tls) {
    k->ssl = SSL_new(s->tls);
    assert_non_null(k->ssl);
    SSL_set_bio(k->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_accept_state(k->ssl);
  }
  uv_read_start((uv_stream_t *)&k->tcp, s_alloc, s_read);
}

static void srv_start(srv *s, uv_loop_t *loop, scenario scen)
{
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->scen = scen;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, s_accept), 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
  s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_timer_init(loop, &s->later);
  s->later.data = s;
}

static void srv_stop(srv *s)
{
  if (!uv_is_closing((uv_handle_t *)&s->listener)) {
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->later, NULL);
  }
}

/* ------------------------------------------------------------------------------------ */
/* The client side: callbacks record, the last on_close ends the scenario               */
/* ------------------------------------------------------------------------------------ */

static void c_hello(void *u, const char *uid, int64_t t, int ping)
{
  client_log *l = u;
  l->hellos++;
  snprintf(l->user_id, sizeof l->user_id, "%s", uid);
  l->ping_sec = ping;
  l->state_at_hello = imcast_receiver_get_state(l->r);
  assert_int_equal(t, 1764120000);
  if (l->s->scen == SCEN_FULL) {
    static const char odd[] = "{\"Event\":\"Bogus\"}";
    assert_int_equal(imcast_receiver_send_text(l->r, odd, sizeof odd - 1), 0);
  }
}

static void c_msg(void *u, const imcast_msg *m)
{
  client_log *l = u;
  int i = l->msgs++;
  assert_true(i < 8);
  l->seq[i] = m->seq;
  snprintf(l->task[i], sizeof l->task[i], "%s", m->task_id);
  snprintf(l->from[i], sizeof l->from[i], "%s", m->from_account);
  l->to_null[i] = m->to_account == NULL;
  snprintf(l->to[i], sizeof l->to[i], "%s", m->to_account ? m->to_account : "");
  l->rnd[i] = m->msg_random;
  l->time[i] = m->msg_time;
  snprintf(l->body[i], sizeof l->body[i], "%.*s", (int)m->body_json_len, m->body_json);
  snprintf(l->offline[i], sizeof l->offline[i], "%.*s", (int)m->offline_push_json_len,
           m->offline_push_json ? m->offline_push_json : "");
  l->dup[i] = m->maybe_duplicate;
  l->json_whole[i] = m->json_len > 0 && m->json[0] == '{' && m->json[m->json_len - 1] == '}';
  if (l->close_on_msg && i == 0)
    assert_int_equal(imcast_receiver_close(l->r, 1000), 0);
  if (l->s->scen == SCEN_FREE_IN_CB) {
    imcast_receiver_free(l->r); /* from inside the callback: nothing may run after */
    l->r = NULL;
    srv_stop(l->s);
  } else if (l->s->scen == SCEN_RECONNECT && m->maybe_duplicate) {
    assert_int_equal(imcast_receiver_ack(l->r, m->seq), 0); /* manual ack, 2nd time only */
  }
}

static void c_revoke(void *u, int64_t seq, const char *task)
{
  client_log *l = u;
  l->revokes++;
  l->revoke_seq = seq;
  snprintf(l->revoke_task, sizeof l->revoke_task, "%s", task);
}

static void c_kicked(void *u, const char *reason)
{
  client_log *l = u;
  l->kicks++;
  snprintf(l->kick_reason, sizeof l->kick_reason, "%s", reason);
}

static void c_close(void *u, int code, const char *reason, int again)
{
  client_log *l = u;
  int i = l->closes++;
  assert_true(i < 4);
  l->close_code[i] = code;
  snprintf(l->close_reason[i], sizeof l->close_reason[i], "%s", reason);
  l->will_reconnect[i] = again;
  l->state_at_close[i] = imcast_receiver_get_state(l->r);
  if (!again) {
    imcast_receiver_free(l->r); /* from inside on_close */
    l->r = NULL;
    srv_stop(l->s);
  }
}

static void c_error(void *u, int err, int status, const char *detail, size_t len)
{
  client_log *l = u;
  int i = l->errors++;
  assert_true(i < 4);
  l->err[i] = err;
  l->http_status[i] = status;
  assert_int_equal(strlen(detail), len);
  snprintf(l->detail[i], sizeof l->detail[i], "%s", detail);
}

static void guard_fired(uv_timer_t *t)
{
  fail_msg("scenario did not finish within 10 s");
}

typedef struct run_opts {
  const char *url_fmt;         /* with one %d for the port */
  int manual_ack;
  uint32_t ack_delay_ms;
  bool close_on_msg;
  uint32_t reconnect_ms;       /* 0 = no reconnect */
  SSL_CTX *server_tls;         /* the server speaks TLS with this context */
  const char *ca_file;         /* the client trusts this bundle */
} run_opts;

/* Runs one scenario on a fresh loop until every handle has closed. */
static void run(scenario scen, srv *s, client_log *l, const run_opts *ro)
{
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  memset(l, 0, sizeof *l);
  srv_start(s, &loop, scen);
  s->client = l;
  s->tls = ro->server_tls;
  l->s = s;
  l->close_on_msg = ro->close_on_msg;

  char url[64];
  snprintf(url, sizeof url, ro->url_fmt, s->port);
  imcast_receiver_options o = {
      .url = url,
      .sdkappid = SDKAPPID,
      .identifier = IDENT,
      .usersig = USERSIG,
      .ca_file = ro->ca_file,
      .manual_ack = ro->manual_ack,
      .ack_delay_ms = ro->ack_delay_ms,
      .reconnect_initial_ms = ro->reconnect_ms,
      .reconnect_max_ms = 40,
      .cb = {c_hello, c_msg, c_revoke, c_kicked, c_close, c_error},
      .user = l,
  };
  l->r = imcast_receiver_new(&loop, &o);
  assert_non_null(l->r);
  assert_int_equal(imcast_receiver_get_state(l->r), IMCAST_RX_IDLE);
  assert_int_equal(imcast_receiver_start(l->r), 0);
  assert_int_equal(imcast_receiver_start(l->r), UV_EALREADY);

  uv_timer_t guard;
  uv_timer_init(&loop, &guard);
  uv_timer_start(&guard, guard_fired, 10000, 0);
  uv_unref((uv_handle_t *)&guard); /* does not keep the loop alive, only bounds it */

  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(s->open, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------------------------------------------ */
/* Scenarios                                                                            */
/* ------------------------------------------------------------------------------------ */

static void test_full_session(void **state)
{
  srv s;
  client_log l;
  run(SCEN_FULL, &s, &l, &(run_opts){.url_fmt = "ws://127.0.0.1:%d", .reconnect_ms = 10});

  /* The request. */
  assert_string_equal(s.target, "/v4/ws?sdkappid=1400000000&identifier=" IDENT_ENC
                                "&usersig=" USERSIG);
  assert_true(s.hdr_upgrade && s.hdr_connection && s.hdr_version && s.hdr_host);
  assert_int_equal(s.accepted, 1);

  /* What the client saw. */
  assert_int_equal(l.errors, 0);
  assert_int_equal(l.hellos, 1);
  assert_string_equal(l.user_id, IDENT);
  assert_int_equal(l.state_at_hello, IMCAST_RX_OPEN);
  assert_int_equal(l.msgs, 3);
  assert_int_equal(l.seq[0], 1);
  assert_string_equal(l.task[0], "t1");
  assert_string_equal(l.from[0], "admin");
  assert_string_equal(l.to[0], IDENT);
  assert_int_equal(l.rnd[0], 4294967295u);
  assert_int_equal(l.time[0], 1764120000);
  assert_string_equal(l.body[0],
                      "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi, beauty\"}}]");
  assert_string_equal(l.offline[0], "{\"PushFlag\":0}");
  assert_int_equal(l.seq[1], 2); /* the fragmented one, reassembled */
  assert_string_equal(l.body[1], MSG2_BODY);
  assert_string_equal(l.offline[1], "");
  assert_int_equal(l.seq[2], 3);
  assert_true(l.to_null[2]);
  assert_string_equal(l.from[2], "ops");
  for (int i = 0; i < 3; i++) {
    assert_false(l.dup[i]);
    assert_true(l.json_whole[i]);
  }
  assert_int_equal(l.revokes, 1);
  assert_int_equal(l.revoke_seq, 1);
  assert_string_equal(l.revoke_task, "t1");
  assert_int_equal(l.kicks, 1);
  assert_string_equal(l.kick_reason, "kicked by admin");
  assert_int_equal(l.closes, 1);
  assert_int_equal(l.close_code[0], 4001);
  assert_string_equal(l.close_reason[0], "kicked");
  assert_int_equal(l.will_reconnect[0], 0); /* kicked: reconnect is on, yet no retry */
  assert_int_equal(l.state_at_close[0], IMCAST_RX_STOPPED);

  /* What the server saw: one coalesced Ack per batch, each with the batch's highest Seq;
   * the second one sent before the client answered the close. */
  assert_int_equal(s.n_acks, 2);
  assert_int_equal(s.acks[0], 2);
  assert_int_equal(s.acks[1], 3);
  assert_int_equal(s.n_texts, 1);
  assert_string_equal(s.texts[0], "{\"Event\":\"Bogus\"}");
  assert_int_equal(s.close_code, 4001); /* our echo */
}

static void test_refused_upgrade(void **state)
{
  srv s;
  client_log l;
  run(SCEN_REFUSE, &s, &l, &(run_opts){.url_fmt = "ws://127.0.0.1:%d", .reconnect_ms = 10});
  assert_int_equal(s.accepted, 1); /* a 401 is final: no retry despite reconnect on */
  assert_int_equal(l.hellos, 0);
  assert_int_equal(l.errors, 1);
  assert_int_equal(l.err[0], IMCAST_RX_EHTTP);
  assert_int_equal(l.http_status[0], 401);
  assert_string_equal(l.detail[0], BODY401);
  assert_int_equal(l.closes, 1);
  assert_int_equal(l.close_code[0], 1006);
  assert_string_equal(l.close_reason[0], "HTTP 401");
  assert_int_equal(l.will_reconnect[0], 0);
}

static void test_reconnect_after_drop(void **state)
{
  srv s;
  client_log l;
  /* "localhost" also exercises name resolution. */
  run(SCEN_RECONNECT, &s, &l,
      &(run_opts){.url_fmt = "ws://localhost:%d", .manual_ack = 1, .reconnect_ms = 10});
  assert_int_equal(s.accepted, 2);
  assert_int_equal(s.upgraded, 2);
  assert_int_equal(l.hellos, 2);
  assert_int_equal(l.ping_sec, 1);
  assert_int_equal(l.errors, 0);
  assert_int_equal(l.closes, 2);
  assert_int_equal(l.close_code[0], 1006); /* dropped without a close frame */
  assert_string_equal(l.close_reason[0], "connection closed without a close frame");
  assert_int_equal(l.will_reconnect[0], 1);
  assert_int_equal(l.state_at_close[0], IMCAST_RX_WAITING);
  assert_int_equal(l.close_code[1], 1000); /* the server echoed our close */
  assert_int_equal(l.will_reconnect[1], 0);
  /* Seq 7 came twice; only the redelivery was flagged, and acked by hand. */
  assert_int_equal(l.msgs, 2);
  assert_int_equal(l.seq[0], 7);
  assert_false(l.dup[0]);
  assert_int_equal(l.seq[1], 7);
  assert_true(l.dup[1]);
  assert_int_equal(s.n_acks, 1);
  assert_int_equal(s.acks[0], 7);
  assert_true(s.pings >= 1); /* PingSec 1 */
  assert_int_equal(s.close_code, 1000);
}

static void test_free_inside_callback(void **state)
{
  srv s;
  client_log l;
  run(SCEN_FREE_IN_CB, &s, &l, &(run_opts){.url_fmt = "ws://127.0.0.1:%d"});
  /* Freed in the first on_msg: the rest of that read (Msg 2, Revoke) is not delivered,
   * no on_close follows, no Ack is sent, and the loop ends with nothing leaked. */
  assert_int_equal(l.hellos, 1);
  assert_int_equal(l.msgs, 1);
  assert_int_equal(l.revokes, 0);
  assert_int_equal(l.closes, 0);
  assert_int_equal(l.errors, 0);
  assert_int_equal(s.n_acks, 0);
}

/* A throwaway self-signed certificate for 127.0.0.1 (CA:TRUE so it can anchor itself):
 * returns the server context and writes the certificate to ca_path for the client. */
static SSL_CTX *make_tls(char ca_path[64])
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  assert_non_null(key);
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"imcast test",
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  static const struct { int nid; const char *value; } exts[] = {
      {NID_subject_alt_name, "IP:127.0.0.1"},
      {NID_basic_constraints, "critical,CA:TRUE"},
  };
  for (size_t i = 0; i < 2; i++) {
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  assert_true(X509_sign(x, key, EVP_sha256()) > 0);

  strcpy(ca_path, "/tmp/imcast_rx_caXXXXXX");
  int fd = mkstemp(ca_path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_int_equal(PEM_write_X509(f, x), 1);
  fclose(f);

  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  assert_non_null(ctx);
  assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
  X509_free(x);
  EVP_PKEY_free(key);
  return ctx;
}

/* wss:// trusting our certificate through ca_file: the whole exchange works, the IP SAN
 * is checked, and close 4001 without a Kicked event still ends the reconnects. */
static void test_wss_session(void **state)
{
  char ca[64];
  SSL_CTX *tls = make_tls(ca);
  srv s;
  client_log l;
  run(SCEN_TLS, &s, &l,
      &(run_opts){.url_fmt = "wss://127.0.0.1:%d", .reconnect_ms = 10, .server_tls = tls,
                  .ca_file = ca});
  unlink(ca);
  SSL_CTX_free(tls);
  assert_int_equal(s.tls_handshakes, 1);
  assert_string_equal(s.target, "/v4/ws?sdkappid=1400000000&identifier=" IDENT_ENC
                                "&usersig=" USERSIG);
  assert_int_equal(l.errors, 0);
  assert_int_equal(l.hellos, 1);
  assert_int_equal(l.msgs, 1);
  assert_string_equal(l.body[0],
                      "[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi, beauty\"}}]");
  assert_int_equal(s.n_acks, 1);
  assert_int_equal(s.acks[0], 1);
  assert_int_equal(l.closes, 1);
  assert_int_equal(l.close_code[0], 4001);
  assert_string_equal(l.close_reason[0], "bye");
  assert_int_equal(l.will_reconnect[0], 0);
}

/* Automatic Acks wait for more pushes (500 ms by default): Msg 1 and Msg 3, 100 ms apart,
 * cost one Ack, for Seq 3, sent no sooner than the delay. */
static void test_ack_delay_coalesces(void **state)
{
  srv s;
  client_log l;
  run(SCEN_ACK_DELAY, &s, &l, &(run_opts){.url_fmt = "ws://127.0.0.1:%d"});
  assert_int_equal(l.errors, 0);
  assert_int_equal(l.msgs, 2);
  assert_int_equal(s.n_acks, 1);
  assert_int_equal(s.acks[0], 3);
  assert_true(s.first_ack_ms >= IMCAST_RX_DEFAULT_ACK_DELAY_MS - 5); /* loop time is ms */
  assert_int_equal(l.close_code[0], 4001);
}

/* An app that closes while an automatic Ack waits: the Ack goes out first, at once, not
 * after the delay (the server must not deliver Msg 1 again at the next login). */
static void test_close_sends_the_pending_ack(void **state)
{
  srv s;
  client_log l;
  run(SCEN_ACK_DELAY, &s, &l, &(run_opts){.url_fmt = "ws://127.0.0.1:%d", .close_on_msg = true});
  assert_int_equal(l.msgs, 1);
  assert_int_equal(s.n_acks, 1);
  assert_int_equal(s.acks[0], 1);
  assert_true(s.first_ack_ms < IMCAST_RX_DEFAULT_ACK_DELAY_MS);
  assert_int_equal(s.close_code, 1000); /* after the Ack */
  assert_int_equal(l.closes, 1);
}

/* IMCAST_RX_ACK_NOW: every loop turn that got a push acknowledges it. */
static void test_ack_now(void **state)
{
  srv s;
  client_log l;
  run(SCEN_ACK_DELAY, &s, &l,
      &(run_opts){.url_fmt = "ws://127.0.0.1:%d", .ack_delay_ms = IMCAST_RX_ACK_NOW});
  assert_int_equal(l.msgs, 2);
  assert_int_equal(s.n_acks, 2);
  assert_int_equal(s.acks[0], 1);
  assert_int_equal(s.acks[1], 3);
  assert_true(s.first_ack_ms < 100); /* before Msg 3 was even sent */
}

/* wss:// with the system trust store: our self-signed certificate is refused. */
static void test_wss_untrusted(void **state)
{
  char ca[64];
  SSL_CTX *tls = make_tls(ca);
  unlink(ca);
  srv s;
  client_log l;
  run(SCEN_TLS, &s, &l, &(run_opts){.url_fmt = "wss://127.0.0.1:%d", .server_tls = tls});
  SSL_CTX_free(tls);
  assert_int_equal(s.tls_handshakes, 0);
  assert_int_equal(l.hellos, 0);
  assert_int_equal(l.errors, 1);
  assert_int_equal(l.err[0], IMCAST_RX_ETLS);
  assert_non_null(strstr(l.detail[0], "certificate"));
  assert_int_equal(l.closes, 1);
  assert_int_equal(l.close_code[0], 1006);
  assert_int_equal(l.will_reconnect[0], 0);
}

/* No listener: on_error with libuv's ECONNREFUSED, then a final on_close. */
static void test_connect_refused(void **state)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  srv s; /* only to learn a free port */
  srv_start(&s, &loop, SCEN_FULL);
  int port = s.port;
  srv_stop(&s);
  uv_run(&loop, UV_RUN_DEFAULT);

  client_log l;
  memset(&l, 0, sizeof l);
  l.s = &s;
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
  imcast_receiver_options o = {.url = url, .sdkappid = 1, .identifier = "a", .usersig = "b",
                               .cb = {.on_close = c_close, .on_error = c_error}, .user = &l};
  l.r = imcast_receiver_new(&loop, &o);
  assert_non_null(l.r);
  assert_int_equal(imcast_receiver_start(l.r), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(l.errors, 1);
  assert_int_equal(l.err[0], UV_ECONNREFUSED);
  assert_int_equal(l.closes, 1);
  assert_int_equal(l.close_code[0], 1006);
  assert_int_equal(l.will_reconnect[0], 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_options_and_free_unstarted(void **state)
{
  uv_loop_t loop;
  uv_loop_init(&loop);
  imcast_receiver_options o = {.url = "ws://127.0.0.1:1", .identifier = "a", .usersig = "b"};
  imcast_receiver *r = imcast_receiver_new(&loop, &o);
  assert_non_null(r);
  assert_int_equal(imcast_receiver_ack(r, 1), UV_ENOTCONN);
  assert_int_equal(imcast_receiver_send_text(r, "x", 1), UV_ENOTCONN);
  assert_int_equal(imcast_receiver_close(r, 1005), UV_EINVAL);
  assert_int_equal(imcast_receiver_close(r, 0), 0);
  imcast_receiver_free(r);
  uv_run(&loop, UV_RUN_DEFAULT);

  imcast_receiver_options bad = o;
  bad.url = "http://x";
  assert_null(imcast_receiver_new(&loop, &bad));
  bad = o;
  bad.usersig = "";
  assert_null(imcast_receiver_new(&loop, &bad));
  bad = o;
  bad.url = "wss://127.0.0.1:1";
  bad.ca_file = "/nonexistent/ca.pem";
  assert_null(imcast_receiver_new(&loop, &bad));
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_string_equal(imcast_receiver_strerror(IMCAST_RX_EHTTP),
                      "the server refused the WebSocket upgrade");
  assert_string_equal(imcast_receiver_strerror(UV_ECONNREFUSED), uv_strerror(UV_ECONNREFUSED));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_parse),
      cmocka_unit_test(test_pct_encode),
      cmocka_unit_test(test_request_head),
      cmocka_unit_test(test_ws_key_accept),
      cmocka_unit_test(test_http_head),
      cmocka_unit_test(test_http_body),
      cmocka_unit_test(test_json_member),
      cmocka_unit_test(test_options_and_free_unstarted),
      cmocka_unit_test(test_connect_refused),
      cmocka_unit_test(test_full_session),
      cmocka_unit_test(test_refused_upgrade),
      cmocka_unit_test(test_reconnect_after_drop),
      cmocka_unit_test(test_free_inside_callback),
      cmocka_unit_test(test_wss_session),
      cmocka_unit_test(test_ack_delay_coalesces),
      cmocka_unit_test(test_ack_now),
      cmocka_unit_test(test_close_sends_the_pending_ack),
      cmocka_unit_test(test_wss_untrusted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
