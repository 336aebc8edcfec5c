/*
** fuzz_http.c — the HTTP/1.1 server (src/net/http.c) and the api's router behind it, on any
** bytes a client could send.
**
** How: the real http_server and api (router, auth, handlers, store, receivers) run over
** fake_conn.c, which stands in for src/net/conn.c: the input reaches http_on_data exactly as
** socket reads would, cut into reads of a size the input chooses, with no network, so runs
** are fast and deterministic and a crash replays byte for byte. (A socketpair or a loopback
** listener would fuzz conn.c too, but the kernel decides how reads are cut, so a finding
** may not replay; conn.c's input path is small and is covered by tests/unit/test_http.c.)
**
** Input: byte 0 = options: bits 0-5 the size of each read (0: everything in one read),
** bit 6 fire every timeout once the input is read (408s, idle closes), bit 7 the peer
** closes its side after the input. Byte 1: bits 0-3 a slow peer that reads at most
** 2^(5+k) bytes of our output per loop turn (0: all of it; output then backs up against
** the HTTP output limit). The rest is what the client sends; @SIG@ (the admin's
** UserSig), @USIG@ (fuzzuser's), @TASK0@..@TASK2@ (stored pushes' TaskIds) are expanded.
**
** Checked: the output is a sequence of well-formed HTTP responses; every JSON body that is
** an envelope (not /healthz's or /metrics') is a well-formed Tencent envelope; no answer is 91000; nothing leaks (LeakSanitizer) and no
** request is left waiting once the connection is gone.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2) return 0;
  fz_api *e = fz_api_get();
  uint8_t opt = data[0], opt2 = data[1];
  size_t read_max = opt & 0x3f;
  size_t len;
  char *in = fz_expand(e, data + 2, size - 2, &len);

  conn *c = fake_conn_accept(e->hub);
  if (opt2 & 0x0f) fake_conn_set_drain(c, (size_t)1 << (5 + (opt2 & 0x0f)));
  fake_conn_send(c, in, len);
  if (opt & 0x80) fake_conn_eof(c);
  fz_run(e, read_max);
  if (opt & 0x40) {
    fake_hub_expire(e->hub);
    fz_run(e, read_max);
  }

  size_t n;
  const char *out = fake_conn_received(c, &n);
  /* A HEAD answer announces a length it does not send: the stream cannot be split then. */
  if (!memmem(in, len, "HEAD", 4)) {
    fz_response r[64];
    size_t k = fz_parse_responses_cut(out, n, r, 64, fake_conn_dropped_output(c));
    for (size_t i = 0; i < k && i < 64; i++) {
      if (r[i].status == 101 || !r[i].json) continue;
      /* /healthz and /metrics answer other JSON; every envelope has ErrorCode. */
      if (!memmem(r[i].body, r[i].body_len, "\"ErrorCode\"", 11) &&
          !memmem(r[i].body, r[i].body_len, "\"ActionStatus\"", 14))
        continue;
      int code = fz_check_envelope(r[i].body, r[i].body_len);
      if (code == 91000) fz_fail("91000 for a request that is only bad input");
      if (r[i].status != 200 && code != 60002 && r[i].status < 400)
        fz_fail("HTTP %d with ErrorCode %d", r[i].status, code);
    }
  }
  fake_conn_free(c);
  fz_run(e, 0);
  free(in);
  fz_api_reset(e, fz_acks_pending(e));
  return 0;
}
