/*
** wsc.h — the client side of RFC 6455, as little as a bench receiver needs: the upgrade
** request, parsing the server's (unmasked) frames, and masked client frames.
**
** No allocation, no state: the caller keeps unparsed bytes and calls again.
*/
#ifndef IMCAST_BENCH_WSC_H
#define IMCAST_BENCH_WSC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

/* GET /v4/ws?sdkappid=..&identifier=..&usersig=.. with the upgrade headers. */
size_t wsc_upgrade_request(char *out, size_t cap, const char *host_hdr, uint64_t sdkappid,
                           const char *user_id, const char *usersig);
/* Length of the answer's head (through the blank line), 0 while incomplete. */
size_t wsc_head_length(const char *buf, size_t len);
/* True when the head is "HTTP/1.1 101". */
int wsc_head_ok(const char *buf, size_t len);

/* Parses one server frame at the start of buf: returns its total length, 0 when
** incomplete, -1 when it is not a frame a server may send (masked, reserved bits). */
ssize_t wsc_parse(const char *buf, size_t len, int *opcode, int *fin, const char **payload,
                  size_t *payload_len);

/* Encodes a masked client frame (FIN set). Returns its length; cap >= len + 14. */
size_t wsc_frame(char *out, size_t cap, int opcode, const void *payload, size_t len,
                 uint32_t mask);

#endif
