/*
** resp.h — the little of Redis's RESP2 protocol the bench speaks: commands and their
** simple replies (blocking: PUBLISH from the pushing process, the audience mode's sets) and
** a streaming parser for what subscribers receive.
*/
#ifndef IMCAST_BENCH_RESP_H
#define IMCAST_BENCH_RESP_H

#include <stddef.h>
#include <sys/types.h>

#include "bconn.h"

/* Writes PUBLISH channel payload. 0 or -1. */
int resp_publish_send(bconn *c, const char *channel, const char *payload, size_t len);
/* Writes one command of argc arguments (at most 1 KiB in all). 0 or -1. */
int resp_command_send(bconn *c, int argc, const char *const *argv);
/* Reads one reply of the simple kinds (+, -, :, $), waiting up to timeout_ms for it.
** Returns its type byte, with its first line (without the type byte) in line; a bulk
** string's body, NUL-terminated and malloc'ed, goes to *bulk when bulk is not NULL.
** 0 when no whole reply came. */
char resp_read_reply(bconn *c, int timeout_ms, char *line, size_t cap, char **bulk);
/* Reads one integer reply (PUBLISH's receiver count). The count, or -1. */
long long resp_read_int(bconn *c);
/* The SUBSCRIBE command for one channel, written into out. Returns its length. */
size_t resp_subscribe_cmd(char *out, size_t cap, const char *channel);

/* One top-level reply: an array of up to 3 bulk strings / integers (subscribe
** confirmations and messages), or a simple value (n = 0). */
typedef struct resp_reply {
  int n;
  const char *s[3];
  size_t len[3];
} resp_reply;

/* Parses one complete reply at the start of buf. Returns the bytes it takes, 0 when the
** reply is incomplete, -1 when the input is not RESP. */
ssize_t resp_parse(const char *buf, size_t len, resp_reply *out);

#endif
