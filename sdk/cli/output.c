/*
** output.c — how the command line reports: raw answers, failures, exit codes.
**
** Guarantees: with --json, stdout holds exactly the server's answers, one per line (human
** text is suppressed); every failure is one line on stderr, "ErrorCode N: ErrorInfo" for a
** Tencent error; the exit code follows cli.h whatever the output mode.
*/
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

int cli_usage_error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("imcast: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_USAGE;
}

void cli_say(const cli *c, const char *fmt, ...)
{
  if (c->json)
    return;
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

static void print_raw_answer(cli *c)
{
  size_t len;
  const char *answer = imcast_client_last_answer(c->client, &len);
  if (len == 0)
    return;
  fwrite(answer, 1, len, stdout);
  if (answer[len - 1] != '\n')
    fputc('\n', stdout);
  fflush(stdout);
}

int cli_after_call(cli *c, imcast_status st, const imcast_error *err)
{
  if (c->json && (st == IMCAST_OK || st == IMCAST_E_TENCENT))
    print_raw_answer(c);
  switch (st) {
  case IMCAST_OK:
    return EXIT_OK;
  case IMCAST_E_TENCENT:
    fprintf(stderr, "ErrorCode %d: %s\n", err->error_code, err->error_info);
    return EXIT_TENCENT;
  case IMCAST_E_INVALID:
    return cli_usage_error("%s", err->error_info);
  default:
    fprintf(stderr, "imcast: %s: %s\n", imcast_status_name(st), err->error_info);
    return EXIT_TRANSPORT;
  }
}

void cli_account_errors(cli *c, const imcast_account_error *list, size_t count)
{
  for (size_t i = 0; i < count; i++)
    fprintf(stderr, "%s: ErrorCode %d: %s\n", list[i].to_account, list[i].error_code,
            list[i].error_info);
  if (count > 0)
    c->per_account_errors = 1;
}

int cli_final_exit(const cli *c)
{
  return c->per_account_errors ? EXIT_TENCENT : EXIT_OK;
}
