/*
** log.c — logfmt lines on stderr. See log.h.
*/
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level level) { min_level = level; }

int log_level_parse(const char *name)
{
  for (int i = 0; i < 4; i++)
    if (strcmp(name, level_names[i]) == 0) return i;
  return -1;
}

/* Escapes quotes, backslashes and control bytes so one event stays one line. */
static void quote_into(char *out, size_t outlen, const char *in)
{
  size_t o = 0;
  for (; *in && o + 4 < outlen; in++) {
    unsigned char c = (unsigned char)*in;
    if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
    else if (c < 0x20) o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    else out[o++] = (char)c;
  }
  out[o] = '\0';
}

void log_msg(log_level level, const char *fmt, ...)
{
  if (level < min_level) return;
  char text[1024], quoted[2048], stamp[32];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  quote_into(quoted, sizeof quoted, text);

  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"\n", stamp, ts.tv_nsec / 1000000,
          level_names[level], quoted);
}
