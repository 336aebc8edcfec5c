/*
** cli.h — what the commands of the imcast command line share.
**
** main.c reads the global options (flags, then IMCAST_* environment, then imcastd's
** defaults) into a `cli` and dispatches to one cmd_* function per command. Each command
** uses libimcast only through its public header, prints human text (or, with --json, the
** raw JSON answer of each call, one per line) and returns an exit code:
**   0 OK · 1 Tencent error ("ErrorCode N: ErrorInfo" on stderr; also per-account errors
**   in an otherwise successful answer) · 2 usage · 3 transport error.
*/
#ifndef IMCAST_CLI_H
#define IMCAST_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <imcast/imcast.h>

enum {
  EXIT_OK = 0,
  EXIT_TENCENT = 1,
  EXIT_USAGE = 2,
  EXIT_TRANSPORT = 3
};

typedef struct cli {
  const char *url;
  uint64_t sdkappid;
  const char *admin;
  const char *key;
  const char *ca_file;
  int insecure;
  int json;               /* --json: print raw answers */
  imcast_client *client;  /* made on first use */
  int per_account_errors; /* set when an answer listed failed accounts */
} cli;

/* The command's arguments after its name (argv[0] is the first argument). */
typedef int (*cli_command)(cli *c, int argc, char **argv);

/* ------------------------------------------------------------------ main.c --- */

/* The client, made on first use from the options. NULL after printing why (then the
 * command returns cli_last_exit()). */
imcast_client *cli_client(cli *c);
int cli_last_exit(void);

/* ---------------------------------------------------------------- output.c --- */

/* Prints a usage error ("imcast: ...") and returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* After a call: prints the raw answer with --json, reports a failure on stderr and maps
 * the status to an exit code (0 for IMCAST_OK). */
int cli_after_call(cli *c, imcast_status st, const imcast_error *err);

/* Reports per-account errors of a successful answer on stderr and remembers them. */
void cli_account_errors(cli *c, const imcast_account_error *list, size_t count);

/* EXIT_TENCENT when some answer listed failed accounts, else EXIT_OK. */
int cli_final_exit(const cli *c);

/* Human output goes through this: nothing is printed with --json. */
void cli_say(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ----------------------------------------------------------------- args.c --- */

/* A command's options: --name VALUE or --name=VALUE, or a flag (--name). Positional
 * arguments are collected in order; "--" ends options. */
typedef struct cli_opt {
  const char *name;       /* without the leading "--" */
  int takes_value;
  const char *value;      /* the value (or "1" for a flag) when given, else NULL */
} cli_opt;

/* Splits argv into options and positionals (pointers into argv). 0, or EXIT_USAGE after
 * printing the problem. *positionals is malloc'd: free it. */
int cli_parse_args(int argc, char **argv, cli_opt *opts, size_t nopts, char ***positionals,
                   int *npositionals);

/* Parses a decimal integer in [min, max]. 0 or -1. */
int cli_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/* Splits "a,b,c" at commas into a malloc'd array of malloc'd strings (empty parts are
 * kept: the server judges them). */
char **cli_split(const char *text, char sep, size_t *count);
void cli_free_split(char **parts, size_t count);

/* Splits "K=V" pairs; the list's strings are malloc'd. 0, or -1 when an item has no '='. */
int cli_parse_pairs(char **items, size_t count, imcast_attr *out);
void cli_free_pairs(imcast_attr *pairs, size_t count);

/* ---------------------------------------------------------------- commands --- */

int cmd_usersig(cli *c, int argc, char **argv);
int cmd_account(cli *c, int argc, char **argv);
int cmd_state(cli *c, int argc, char **argv);
int cmd_attr(cli *c, int argc, char **argv);
int cmd_tag(cli *c, int argc, char **argv);
int cmd_push(cli *c, int argc, char **argv);
int cmd_report(cli *c, int argc, char **argv);
int cmd_revoke(cli *c, int argc, char **argv);
int cmd_listen(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);

#endif /* IMCAST_CLI_H */
