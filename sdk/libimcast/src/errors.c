/*
** errors.c — filling imcast_error, and the names of imcast_status.
**
** Guarantees: error_info is always NUL-terminated (long texts are cut), and a cleared
** error is all zero, so callers can compare err->status with IMCAST_OK.
*/
#include <stdio.h>
#include <string.h>

#include "sdk_internal.h"

void sdk_error_clear(imcast_error *err)
{
  memset(err, 0, sizeof *err);
}

imcast_status sdk_error_set(imcast_error *err, imcast_status status, const char *fmt, ...)
{
  sdk_error_clear(err);
  err->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->error_info, sizeof err->error_info, fmt, ap);
  va_end(ap);
  return status;
}

imcast_status sdk_error_tencent(imcast_error *err, int code, const char *info)
{
  sdk_error_clear(err);
  err->status = IMCAST_E_TENCENT;
  err->error_code = code;
  snprintf(err->error_info, sizeof err->error_info, "%s", info ? info : "");
  return IMCAST_E_TENCENT;
}

const char *imcast_status_name(imcast_status status)
{
  switch (status) {
  case IMCAST_OK: return "OK";
  case IMCAST_E_TENCENT: return "Tencent error";
  case IMCAST_E_TRANSPORT: return "transport error";
  case IMCAST_E_PROTOCOL: return "protocol error";
  case IMCAST_E_INVALID: return "invalid argument";
  case IMCAST_E_NOMEM: return "out of memory";
  }
  return "unknown status";
}
