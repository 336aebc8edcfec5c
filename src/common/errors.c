/*
** errors.c — default ErrorInfo texts for the Tencent code table in errors.h.
*/
#include "common/errors.h"

const char *imc_error_info(int code)
{
  switch (code) {
#define IMC_ERROR_CASE(name, num, info) case num: return info;
    IMC_ERROR_TABLE(IMC_ERROR_CASE)
#undef IMC_ERROR_CASE
  }
  return "unknown error";
}
