/*
** util.c — small helpers of imcast-bench: clocks, RSS, parsing, medians, the payload
** marker that carries each push's send time to the receivers.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "bench.h"

uint64_t now_ns(void) { return uv_hrtime(); }

double ms_between(uint64_t from_ns, uint64_t to_ns)
{
  return to_ns >= from_ns ? (double)(to_ns - from_ns) / 1e6 : -(double)(from_ns - to_ns) / 1e6;
}

void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

long rss_kib(int pid)
{
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f))
    // NOLINTNEXTLINE(cert-err34-c): the kernel writes this number; a mismatch is seen by == 1.
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

int cpu_ms(int pid, double *user_ms, double *sys_ms)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');       /* the command name may hold spaces */
  unsigned long long ut, st;
  // NOLINTNEXTLINE(cert-err34-c): kernel-written numbers; a mismatch is seen by != 2.
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  double tick_ms = 1000.0 / (double)sysconf(_SC_CLK_TCK);
  *user_ms = (double)ut * tick_ms;
  *sys_ms = (double)st * tick_ms;
  return 0;
}

/* "http://127.0.0.1:8080", "127.0.0.1:6379" or "localhost:1" (as 127.0.0.1). */
int parse_host_port(const char *text, char *host, size_t hostlen, int *port)
{
  const char *p = strstr(text, "://");
  p = p ? p + 3 : text;
  const char *colon = strrchr(p, ':');
  if (!colon || colon == p || (size_t)(colon - p) >= hostlen) return -1;
  memcpy(host, p, (size_t)(colon - p));
  host[colon - p] = '\0';
  if (strcmp(host, "localhost") == 0) snprintf(host, hostlen, "127.0.0.1");
  char *end;
  long v = strtol(colon + 1, &end, 10);
  if (v <= 0 || v > 65535 || (*end && *end != '/')) return -1;
  *port = (int)v;
  return 0;
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double median_d(double *v, size_t n)
{
  if (n == 0) return NAN;
  qsort(v, n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("imcast-bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  return p;
}

void *xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) die("out of memory (%zu x %zu bytes)", n, size);
  return p;
}

uint32_t rand32(void)
{
  static uint64_t s;
  if (!s) s = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() ^ uv_hrtime();
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return (uint32_t)(s >> 16);
}

void account_name(const char *prefix, uint32_t i, char *out, size_t outlen)
{
  snprintf(out, outlen, "%s%08u", prefix, i);
}

void tag_name(const char *prefix, uint32_t j, char *out, size_t outlen)
{
  snprintf(out, outlen, "%st%u", prefix, j);
}

size_t payload_make(char *out, size_t cap, uint32_t run, uint32_t index, uint64_t sent_ns,
                    uint32_t size)
{
  int n = snprintf(out, cap, PAYLOAD_MARK "%u:%u:%llu:", run, index, (unsigned long long)sent_ns);
  size_t len = (size_t)n;
  while (len < size && len + 1 < cap) out[len++] = 'x';
  out[len] = '\0';
  return len;
}

bool payload_find(const char *msg, size_t len, uint32_t run, uint32_t *index, uint64_t *sent_ns)
{
  const char *m = memmem(msg, len, PAYLOAD_MARK, sizeof PAYLOAD_MARK - 1);
  if (!m) return false;
  const char *p = m + sizeof PAYLOAD_MARK - 1, *end = msg + len;
  uint64_t id = 0, k = 0, t = 0;
  while (p < end && *p >= '0' && *p <= '9') id = id * 10 + (uint64_t)(*p++ - '0');
  if (p >= end || *p++ != ':' || id != run) return false;
  while (p < end && *p >= '0' && *p <= '9') k = k * 10 + (uint64_t)(*p++ - '0');
  if (p >= end || *p++ != ':') return false;
  while (p < end && *p >= '0' && *p <= '9') t = t * 10 + (uint64_t)(*p++ - '0');
  if (p >= end || *p != ':') return false;
  *index = (uint32_t)k;
  *sent_ns = t;
  return true;
}
