/*
** main.c — imcast, the command line of libimcast: global options and the command table.
**
** Settings come from the flags, else from IMCAST_URL, IMCAST_SDKAPPID, IMCAST_ADMIN,
** IMCAST_KEY, IMCAST_CA_FILE, else from imcastd's defaults (http://127.0.0.1:8080,
** 1400000000, administrator); the key has no default. Global options may stand before or
** after the command (up to a "--", which is passed on to the command). Exit codes are in
** cli.h.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DEFAULT_URL "http://127.0.0.1:8080"
#define DEFAULT_SDKAPPID 1400000000u
#define DEFAULT_ADMIN "administrator"

static const char usage_text[] =
  "usage: imcast [--url URL] [--sdkappid N] [--admin ID] [--key KEY] [--ca-file PEM]\n"
  "              [--insecure] [--json] COMMAND ...\n"
  "\n"
  "  usersig USER [--expire S]              print a UserSig for USER\n"
  "  account import|check|delete USER...    account kick USER\n"
  "  state USER...                          online state\n"
  "  attr names [SLOT=NAME...]              show, or set, the attribute names\n"
  "  attr get USER...                       attr set USER NAME=VALUE...\n"
  "  attr remove USER NAME...\n"
  "  tag get USER...    tag add USER TAG...    tag remove USER TAG...    tag clear USER...\n"
  "  push TEXT [--tags-and A,B] [--tags-or A,B] [--attrs-and K=V,...] [--attrs-or K=V,...]\n"
  "            [--from ACCOUNT] [--life SECONDS] [--random N] [--custom JSON] [--wait]\n"
  "  report TASKID      revoke TASKID\n"
  "  listen USER        print each push to USER as one JSON line, and acknowledge it\n"
  "  import FILE        accounts with tags and attributes from CSV or JSON lines ('-' = stdin):\n"
  "                       account,tag1;tag2,name=value;name2=value2\n"
  "                       {\"account\":\"u1\",\"tags\":[\"a\"],\"attrs\":{\"sex\":\"F\"}}\n"
  "\n"
  "Settings default to IMCAST_URL, IMCAST_SDKAPPID, IMCAST_ADMIN, IMCAST_KEY, IMCAST_CA_FILE,\n"
  "then to http://127.0.0.1:8080, 1400000000, administrator. --json prints each raw answer.\n"
  "Exit: 0 OK, 1 Tencent error (ErrorCode N: ErrorInfo), 2 usage, 3 transport error.\n";

static int last_exit;

int cli_last_exit(void)
{
  return last_exit;
}

static int exit_for(imcast_status st)
{
  switch (st) {
  case IMCAST_OK: return EXIT_OK;
  case IMCAST_E_TENCENT: return EXIT_TENCENT;
  case IMCAST_E_INVALID: return EXIT_USAGE;
  default: return EXIT_TRANSPORT;
  }
}

imcast_client *cli_client(cli *c)
{
  if (c->client != NULL)
    return c->client;
  if (c->key == NULL) {
    last_exit = cli_usage_error("no key: pass --key KEY or set IMCAST_KEY");
    return NULL;
  }
  imcast_client_options o = {
    .url = c->url, .sdkappid = c->sdkappid, .admin = c->admin, .key = c->key,
    .ca_file = c->ca_file, .insecure = c->insecure,
  };
  imcast_error err;
  c->client = imcast_client_new_with_options(&o, &err);
  if (c->client == NULL) {
    fprintf(stderr, "imcast: %s\n", err.error_info);
    last_exit = exit_for(err.status);
  }
  return c->client;
}

static const char *env_or(const char *name, const char *fallback)
{
  const char *v = getenv(name);
  return (v != NULL && v[0] != '\0') ? v : fallback;
}

static int set_sdkappid(cli *c, const char *text, const char *source)
{
  int64_t v;
  if (cli_parse_int(text, 1, INT64_MAX, &v) != 0)
    return cli_usage_error("%s is not a number: \"%s\"", source, text);
  c->sdkappid = (uint64_t)v;
  return 0;
}

static int load_environment(cli *c)
{
  c->url = env_or("IMCAST_URL", DEFAULT_URL);
  c->admin = env_or("IMCAST_ADMIN", DEFAULT_ADMIN);
  c->key = env_or("IMCAST_KEY", NULL);
  c->ca_file = env_or("IMCAST_CA_FILE", NULL);
  c->sdkappid = DEFAULT_SDKAPPID;
  const char *appid = env_or("IMCAST_SDKAPPID", NULL);
  return appid ? set_sdkappid(c, appid, "IMCAST_SDKAPPID") : 0;
}

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (*i + 1 >= argc)
    return NULL;
  return argv[++*i];
}

static int is_option(const char *arg, const char *name)
{
  size_t n = strlen(name);
  return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Applies global option argv[*i] (advancing *i past its value). 1 when it was one, 0
 * when it is not a global option, -1 with *exit_code set on an error or after --help. */
static int global_option(cli *c, int argc, char **argv, int *i, int *exit_code)
{
  static const char *const valued[] = {"--url", "--sdkappid", "--admin", "--key", "--ca-file"};
  const char *arg = argv[*i];
  if (strcmp(arg, "--json") == 0) { c->json = 1; return 1; }
  if (strcmp(arg, "--insecure") == 0) { c->insecure = 1; return 1; }
  if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
    fputs(usage_text, stdout);
    *exit_code = EXIT_OK;
    return -1;
  }
  if (strcmp(arg, "--version") == 0) {
    printf("imcast %s\n", imcast_version());
    *exit_code = EXIT_OK;
    return -1;
  }
  size_t k = 0;
  while (k < sizeof valued / sizeof valued[0] && !is_option(arg, valued[k]))
    k++;
  if (k == sizeof valued / sizeof valued[0])
    return 0;
  const char *v = option_value(argc, argv, i, valued[k]);
  if (v == NULL) {
    *exit_code = cli_usage_error("%s needs a value", valued[k]);
    return -1;
  }
  switch (k) {
  case 0: c->url = v; break;
  case 1:
    if ((*exit_code = set_sdkappid(c, v, "--sdkappid")) != 0)
      return -1;
    break;
  case 2: c->admin = v; break;
  case 3: c->key = v; break;
  default: c->ca_file = v; break;
  }
  return 1;
}

/* Takes the global options out of argv, wherever they are (before "--"), leaving the
 * command and its own arguments in args[0..*nargs). 0, or -1 with *exit_code set. */
static int parse_globals(cli *c, int argc, char **argv, char **args, int *nargs,
                         int *exit_code)
{
  int n = 0, options_done = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      options_done = 1;
    int rc = options_done || argv[i][0] != '-' ? 0 : global_option(c, argc, argv, &i, exit_code);
    if (rc < 0)
      return -1;
    if (rc > 0)
      continue;
    if (n == 0 && argv[i][0] == '-') {
      *exit_code = cli_usage_error("unknown option %s (see imcast --help)", argv[i]);
      return -1;
    }
    args[n++] = argv[i];
  }
  if (n == 0) {
    fputs(usage_text, stderr);
    *exit_code = EXIT_USAGE;
    return -1;
  }
  *nargs = n;
  return 0;
}

static const struct {
  const char *name;
  cli_command run;
} commands[] = {
  {"usersig", cmd_usersig}, {"account", cmd_account}, {"state", cmd_state},
  {"attr", cmd_attr},       {"tag", cmd_tag},         {"push", cmd_push},
  {"report", cmd_report},   {"revoke", cmd_revoke},   {"listen", cmd_listen},
  {"import", cmd_import},
};

int main(int argc, char **argv)
{
  cli c = {0};
  int code = load_environment(&c);
  if (code != 0)
    return code;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  int nargs;
  if (args == NULL)
    return cli_usage_error("out of memory");
  if (parse_globals(&c, argc, argv, args, &nargs, &code) != 0) {
    free(args);
    return code;
  }
  code = -1;
  for (size_t k = 0; code < 0 && k < sizeof commands / sizeof commands[0]; k++)
    if (strcmp(args[0], commands[k].name) == 0)
      code = commands[k].run(&c, nargs - 1, args + 1);
  if (code < 0)
    code = cli_usage_error("unknown command \"%s\" (see imcast --help)", args[0]);
  imcast_client_free(c.client);
  free(args);
  return code;
}
