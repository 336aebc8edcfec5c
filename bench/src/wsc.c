/*
** wsc.c — minimal RFC 6455 client framing (see wsc.h).
*/
#include <stdio.h>
#include <string.h>

#include "wsc.h"

size_t wsc_upgrade_request(char *out, size_t cap, const char *host_hdr, uint64_t sdkappid,
                           const char *user_id, const char *usersig)
{
  int n = snprintf(out, cap,
                   "GET /v4/ws?sdkappid=%llu&identifier=%s&usersig=%s HTTP/1.1\r\n"
                   "Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   (unsigned long long)sdkappid, user_id, usersig, host_hdr);
  return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t wsc_head_length(const char *buf, size_t len)
{
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  return end ? (size_t)(end - buf) + 4 : 0;
}

int wsc_head_ok(const char *buf, size_t len)
{
  return len >= 12 && memcmp(buf, "HTTP/1.1 101", 12) == 0;
}

ssize_t wsc_parse(const char *buf, size_t len, int *opcode, int *fin, const char **payload,
                  size_t *payload_len)
{
  const unsigned char *b = (const unsigned char *)buf;
  if (len < 2) return 0;
  if ((b[0] & 0x70) || (b[1] & 0x80)) return -1;
  uint64_t plen = b[1] & 0x7f;
  size_t head = 2;
  if (plen == 126) {
    if (len < 4) return 0;
    plen = (uint64_t)b[2] << 8 | b[3];
    head = 4;
  } else if (plen == 127) {
    if (len < 10) return 0;
    plen = 0;
    for (int i = 0; i < 8; i++) plen = plen << 8 | b[2 + i];
    head = 10;
    if (plen > (1ull << 40)) return -1;
  }
  if (len - head < plen) return 0;
  *opcode = b[0] & 0x0f;
  *fin = (b[0] & 0x80) != 0;
  *payload = buf + head;
  *payload_len = (size_t)plen;
  return (ssize_t)(head + plen);
}

size_t wsc_frame(char *out, size_t cap, int opcode, const void *payload, size_t len,
                 uint32_t mask)
{
  unsigned char *o = (unsigned char *)out;
  size_t head;
  if (cap < len + 14) return 0;
  o[0] = (unsigned char)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    o[1] = (unsigned char)(0x80 | len);
    head = 2;
  } else if (len <= 0xffff) {
    o[1] = 0x80 | 126;
    o[2] = (unsigned char)(len >> 8);
    o[3] = (unsigned char)len;
    head = 4;
  } else {
    o[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) o[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    head = 10;
  }
  unsigned char key[4] = {(unsigned char)(mask >> 24), (unsigned char)(mask >> 16),
                          (unsigned char)(mask >> 8), (unsigned char)mask};
  memcpy(o + head, key, 4);
  head += 4;
  const unsigned char *p = payload;
  for (size_t i = 0; i < len; i++) o[head + i] = p[i] ^ key[i & 3];
  return head + len;
}
