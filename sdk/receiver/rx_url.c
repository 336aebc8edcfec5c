/*
** rx_url.c — what the receiver sends before the WebSocket starts.
**
** Parses the server URL, builds the HTTP/1.1 upgrade request for GET /v4/ws and makes
** the Sec-WebSocket-Key/Accept pair (RFC 6455 §4.1). Guarantees: the request holds no
** byte the URL or the options could use to inject a header (hosts and paths are
** checked, query values percent-encoded); keys come from OpenSSL's CSPRNG.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <uv.h>

#include "rx_internal.h"

/* RFC 6455 §1.3: the server proves it read our key by hashing it with this GUID. */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int is_unreserved(unsigned char ch)
{
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Host names: letters, digits, '-', '.'; IPv6 literals: hex digits, ':', '.'. */
static int host_chars_ok(const char *h, size_t n, int ip6)
{
  if (n == 0 || n > IMCAST_RX_HOST_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)h[i];
    int ok = ip6 ? ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                    (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.')
                 : ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.');
    if (!ok)
      return 0;
  }
  return 1;
}

/* A path prefix may hold any visible ASCII except what would end the request target or
 * start a query/fragment. */
static int path_chars_ok(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#')
      return 0;
  }
  return 1;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
  if (n == 0 || n > 5)
    return -1;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v == 0 || v > 65535)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

/* Splits "host[:port]" or "[v6][:port]" into out->host/port. */
static int parse_authority(const char *a, size_t n, imcast_rx_url *out)
{
  const char *host = a, *port = NULL;
  size_t host_len, port_len = 0;
  if (n > 0 && a[0] == '[') {
    const char *close = memchr(a, ']', n);
    if (close == NULL)
      return -1;
    host = a + 1;
    host_len = (size_t)(close - host);
    size_t rest = n - (size_t)(close + 1 - a);
    if (rest > 0) {
      if (close[1] != ':')
        return -1;
      port = close + 2;
      port_len = rest - 1;
    }
    out->host_is_ip6 = 1;
  } else {
    const char *colon = memchr(a, ':', n);
    host_len = colon ? (size_t)(colon - a) : n;
    if (colon) {
      port = colon + 1;
      port_len = n - host_len - 1;
    }
  }
  if (!host_chars_ok(host, host_len, out->host_is_ip6))
    return -1;
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';

  uint16_t def = out->tls ? 443 : 80;
  out->port = def;
  if (port != NULL && parse_port(port, port_len, &out->port) != 0)
    return -1;
  out->default_port = out->port == def;

  struct sockaddr_in6 s6;
  struct sockaddr_in s4;
  if (out->host_is_ip6)
    out->host_is_ip = uv_ip6_addr(out->host, out->port, &s6) == 0;
  else
    out->host_is_ip = uv_ip4_addr(out->host, out->port, &s4) == 0;
  return out->host_is_ip6 && !out->host_is_ip ? -1 : 0;
}

int imcast_rx_url_parse(const char *url, imcast_rx_url *out)
{
  memset(out, 0, sizeof *out);
  if (url == NULL)
    return UV_EINVAL;
  const char *p;
  if (strncasecmp(url, "ws://", 5) == 0) {
    p = url + 5;
  } else if (strncasecmp(url, "wss://", 6) == 0) {
    p = url + 6;
    out->tls = 1;
  } else {
    return UV_EINVAL;
  }
  size_t auth_len = strcspn(p, "/?#@");
  if (p[auth_len] == '?' || p[auth_len] == '#' || p[auth_len] == '@')
    return UV_EINVAL; /* no query, fragment or userinfo: the library owns the query */
  if (parse_authority(p, auth_len, out) != 0)
    return UV_EINVAL;

  const char *path = p + auth_len;
  size_t path_len = strlen(path);
  if (!path_chars_ok(path, path_len))
    return UV_EINVAL;
  while (path_len > 0 && path[path_len - 1] == '/')
    path_len--; /* "ws://h/" and "ws://h/prefix/" must not yield "//v4/ws" */
  if (path_len > IMCAST_RX_PATH_MAX)
    return UV_EINVAL;
  memcpy(out->path, path, path_len);
  out->path[path_len] = '\0';
  return 0;
}

size_t imcast_rx_pct_encode(char *dst, size_t cap, const char *src)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (const unsigned char *s = (const unsigned char *)src; *s; s++) {
    char enc[3];
    size_t k;
    if (is_unreserved(*s) || *s == '*') {
      enc[0] = (char)*s;
      k = 1;
    } else {
      enc[0] = '%';
      enc[1] = hex[*s >> 4];
      enc[2] = hex[*s & 15];
      k = 3;
    }
    for (size_t i = 0; i < k; i++, n++)
      if (n + 1 < cap)
        dst[n] = enc[i];
  }
  if (cap > 0)
    dst[n < cap ? n : cap - 1] = '\0';
  return n;
}

/* Percent-encodes into a fresh malloc'd string. */
static char *pct_dup(const char *src)
{
  size_t n = imcast_rx_pct_encode(NULL, 0, src);
  char *s = malloc(n + 1);
  if (s != NULL)
    imcast_rx_pct_encode(s, n + 1, src);
  return s;
}

char *imcast_rx_request_head(const imcast_rx_url *u, uint64_t sdkappid,
                             const char *identifier, const char *usersig)
{
  char *id = pct_dup(identifier), *sig = pct_dup(usersig), *head = NULL;
  if (id == NULL || sig == NULL)
    goto out;
  char port[8] = "";
  if (!u->default_port)
    snprintf(port, sizeof port, ":%u", (unsigned)u->port);
  const char *lb = u->host_is_ip6 ? "[" : "", *rb = u->host_is_ip6 ? "]" : "";
  static const char fmt[] =
      "GET %s/v4/ws?sdkappid=%llu&identifier=%s&usersig=%s HTTP/1.1\r\n"
      "Host: %s%s%s%s\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "User-Agent: imcast-receiver/0.1\r\n";
  int n = snprintf(NULL, 0, fmt, u->path, (unsigned long long)sdkappid, id, sig, lb, u->host,
                   rb, port);
  if (n < 0 || (head = malloc((size_t)n + 1)) == NULL)
    goto out;
  snprintf(head, (size_t)n + 1, fmt, u->path, (unsigned long long)sdkappid, id, sig, lb,
           u->host, rb, port);
out:
  free(id);
  free(sig);
  return head;
}

int imcast_rx_ws_key(char key[25])
{
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return -1;
  return EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw) == 24 ? 0 : -1;
}

int imcast_rx_ws_accept(const char *key, char accept[29])
{
  char buf[128];
  size_t klen = strlen(key);
  if (klen + sizeof WS_GUID > sizeof buf)
    return -1;
  // buf is hashed with its length (klen + GUID), it is not a C string.
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result): see above
  memcpy(buf, key, klen);
  memcpy(buf + klen, WS_GUID, sizeof WS_GUID - 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(buf, klen + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
      mdlen != 20)
    return -1;
  return EVP_EncodeBlock((unsigned char *)accept, md, 20) == 28 ? 0 : -1;
}
