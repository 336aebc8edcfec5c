/*
** cmd_account.c — usersig, account import|check|delete|kick, state.
**
** Lists of accounts longer than one call allows are sent in batches (100 accounts, 500
** for state); the command stops at the first batch that fails.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define ACCOUNT_BATCH 100
#define STATE_BATCH 500
#define DEFAULT_SIG_EXPIRE 86400

static size_t min_size(size_t a, size_t b)
{
  return a < b ? a : b;
}

static void print_usersig_json(const cli *c, const char *user, int64_t expire, const char *sig)
{
  json_t *doc = json_pack("{s:s, s:I, s:I, s:s}", "UserID", user, "SdkAppID",
                          (json_int_t)c->sdkappid, "Expire", (json_int_t)expire, "UserSig", sig);
  if (doc != NULL)
    json_dumpf(doc, stdout, JSON_COMPACT);
  fputc('\n', stdout);
  json_decref(doc);
}

int cmd_usersig(cli *c, int argc, char **argv)
{
  cli_opt opts[] = {{"expire", 1, NULL}};
  char **pos;
  int npos;
  if (cli_parse_args(argc, argv, opts, 1, &pos, &npos) != 0)
    return EXIT_USAGE;
  int64_t expire = DEFAULT_SIG_EXPIRE;
  int code = EXIT_OK;
  if (npos != 1)
    code = cli_usage_error("usage: imcast usersig USER [--expire SECONDS]");
  else if (opts[0].value && cli_parse_int(opts[0].value, 0, INT32_MAX, &expire) != 0)
    code = cli_usage_error("--expire wants seconds, not \"%s\"", opts[0].value);
  else if (c->key == NULL)
    code = cli_usage_error("no key: pass --key KEY or set IMCAST_KEY");
  if (code != EXIT_OK) {
    free(pos);
    return code;
  }
  char sig[IMCAST_USERSIG_MAX];
  if (imcast_usersig_gen(c->key, c->sdkappid, pos[0], expire, sig, sizeof sig) < 0)
    code = cli_usage_error("cannot make a UserSig for \"%s\" (1..32 bytes of UTF-8)", pos[0]);
  else if (c->json)
    print_usersig_json(c, pos[0], expire, sig);
  else
    printf("%s\n", sig);
  free(pos);
  return code;
}

/* ------------------------------------------------------------------ account --- */

static int import_one(cli *c, const char *user)
{
  imcast_error err;
  imcast_account account = {.user_id = user};
  imcast_status st = imcast_account_import(c->client, &account, &err);
  int code = cli_after_call(c, st, &err);
  if (code == EXIT_OK)
    cli_say(c, "imported %s\n", user);
  return code;
}

static int import_many(cli *c, char **users, size_t n)
{
  size_t imported = 0;
  for (size_t at = 0; at < n; at += ACCOUNT_BATCH) {
    size_t count = min_size(ACCOUNT_BATCH, n - at);
    imcast_multi_import_result res;
    imcast_error err;
    imcast_status st = imcast_account_multi_import(c->client, (const char *const *)users + at,
                                                   count, &res, &err);
    int code = cli_after_call(c, st, &err);
    if (code != EXIT_OK)
      return code;
    for (size_t i = 0; i < res.fail_count; i++)
      fprintf(stderr, "%s: not imported (invalid UserID)\n", res.fail_accounts[i]);
    c->per_account_errors |= res.fail_count > 0;
    imported += count - res.fail_count;
    imcast_multi_import_result_free(&res);
  }
  cli_say(c, "imported %zu account(s)\n", imported);
  return EXIT_OK;
}

static int check_accounts(cli *c, char **users, size_t n)
{
  for (size_t at = 0; at < n; at += ACCOUNT_BATCH) {
    imcast_account_items res;
    imcast_error err;
    imcast_status st = imcast_account_check(c->client, (const char *const *)users + at,
                                            min_size(ACCOUNT_BATCH, n - at), &res, &err);
    int code = cli_after_call(c, st, &err);
    if (code != EXIT_OK)
      return code;
    for (size_t i = 0; i < res.count; i++)
      cli_say(c, "%s %s\n", res.items[i].user_id,
              res.items[i].account_status ? res.items[i].account_status : "?");
    imcast_account_items_free(&res);
  }
  return EXIT_OK;
}

static int delete_accounts(cli *c, char **users, size_t n)
{
  for (size_t at = 0; at < n; at += ACCOUNT_BATCH) {
    imcast_account_items res;
    imcast_error err;
    imcast_status st = imcast_account_delete(c->client, (const char *const *)users + at,
                                             min_size(ACCOUNT_BATCH, n - at), &res, &err);
    int code = cli_after_call(c, st, &err);
    if (code != EXIT_OK)
      return code;
    for (size_t i = 0; i < res.count; i++) {
      const imcast_account_item *it = &res.items[i];
      if (it->result_code == 0) {
        cli_say(c, "deleted %s\n", it->user_id);
      } else {
        fprintf(stderr, "%s: ErrorCode %d: %s\n", it->user_id, it->result_code,
                it->result_info);
        c->per_account_errors = 1;
      }
    }
    imcast_account_items_free(&res);
  }
  return EXIT_OK;
}

static int kick_account(cli *c, const char *user)
{
  imcast_error err;
  int code = cli_after_call(c, imcast_account_kick(c->client, user, &err), &err);
  if (code == EXIT_OK)
    cli_say(c, "kicked %s\n", user);
  return code;
}

static const char account_usage[] =
    "usage: imcast account import|check|delete USER...  |  imcast account kick USER";

int cmd_account(cli *c, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage_error("%s", account_usage);
  const char *sub = argv[0];
  char **users = argv + 1;
  size_t n = (size_t)argc - 1;
  int known = !strcmp(sub, "import") || !strcmp(sub, "check") || !strcmp(sub, "delete") ||
              !strcmp(sub, "kick");
  if (!known || (!strcmp(sub, "kick") && n != 1))
    return cli_usage_error("%s", account_usage);
  if (cli_client(c) == NULL)
    return cli_last_exit();
  int code;
  if (!strcmp(sub, "import"))
    code = n == 1 ? import_one(c, users[0]) : import_many(c, users, n);
  else if (!strcmp(sub, "check"))
    code = check_accounts(c, users, n);
  else if (!strcmp(sub, "delete"))
    code = delete_accounts(c, users, n);
  else
    code = kick_account(c, users[0]);
  return code != EXIT_OK ? code : cli_final_exit(c);
}

/* -------------------------------------------------------------------- state --- */

static void say_state(cli *c, const imcast_user_state *s)
{
  cli_say(c, "%s %s", s->to_account, s->status);
  for (size_t d = 0; d < s->detail_count; d++)
    cli_say(c, "%s%s", d == 0 ? " (" : ", ", s->detail[d].platform);
  cli_say(c, "%s\n", s->detail_count ? ")" : "");
}

int cmd_state(cli *c, int argc, char **argv)
{
  if (argc < 1)
    return cli_usage_error("usage: imcast state USER...");
  if (cli_client(c) == NULL)
    return cli_last_exit();
  size_t n = (size_t)argc;
  for (size_t at = 0; at < n; at += STATE_BATCH) {
    imcast_query_state_result res;
    imcast_error err;
    imcast_status st = imcast_account_query_state(c->client, (const char *const *)argv + at,
                                                  min_size(STATE_BATCH, n - at), 1, &res,
                                                  &err);
    int code = cli_after_call(c, st, &err);
    if (code != EXIT_OK)
      return code;
    for (size_t i = 0; i < res.count; i++)
      say_state(c, &res.query_result[i]);
    cli_account_errors(c, res.error_list, res.error_count);
    imcast_query_state_result_free(&res);
  }
  return cli_final_exit(c);
}
