/*
** cmd_member.c — attr names|get|set|remove and tag get|add|remove|clear.
**
** Account lists are sent 100 per call and tag lists 10 per call (Tencent's limits), so an
** operator may pass any number; the command stops at the first call that fails.
** Accounts the server does not know are reported on stderr (exit 1), the rest is done.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ACCOUNT_BATCH 100
#define TAG_BATCH 10

static size_t min_size(size_t a, size_t b)
{
  return a < b ? a : b;
}

/* ---------------------------------------------------------------- attributes --- */

static int show_attr_names(cli *c)
{
  imcast_attr_names_result res;
  imcast_error err;
  int code = cli_after_call(c, imcast_member_im_get_attr_name(c->client, &res, &err), &err);
  for (int slot = 0; code == EXIT_OK && slot < IMCAST_ATTR_SLOTS; slot++)
    if (res.names[slot] != NULL)
      cli_say(c, "%d %s\n", slot, res.names[slot]);
  imcast_attr_names_result_free(&res);
  return code;
}

static int set_attr_names(cli *c, int argc, char **argv)
{
  const char *names[IMCAST_ATTR_SLOTS] = {0};
  for (int i = 0; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    int64_t slot;
    char digits[8] = "";
    if (eq != NULL && (size_t)(eq - argv[i]) < sizeof digits)
      memcpy(digits, argv[i], (size_t)(eq - argv[i]));
    if (eq == NULL || cli_parse_int(digits, 0, IMCAST_ATTR_SLOTS - 1, &slot) != 0)
      return cli_usage_error("attr names wants SLOT=NAME with SLOT 0..9, not \"%s\"", argv[i]);
    names[slot] = eq + 1;
  }
  imcast_error err;
  int code = cli_after_call(c, imcast_member_im_set_attr_name(c->client, names, &err), &err);
  if (code == EXIT_OK)
    cli_say(c, "set %d attribute name(s)\n", argc);
  return code;
}

static void say_user_attrs(cli *c, const imcast_user_attrs *u)
{
  cli_say(c, "%s", u->to_account);
  for (size_t k = 0; k < u->attr_count; k++)
    cli_say(c, " %s=%s", u->attrs[k].name, u->attrs[k].value);
  cli_say(c, "\n");
}

static int get_attrs(cli *c, char **users, size_t n)
{
  for (size_t at = 0; at < n; at += ACCOUNT_BATCH) {
    imcast_user_attrs_result res;
    imcast_error err;
    imcast_status st = imcast_member_im_get_attr(c->client, (const char *const *)users + at,
                                                 min_size(ACCOUNT_BATCH, n - at), &res, &err);
    int code = cli_after_call(c, st, &err);
    if (code != EXIT_OK)
      return code;
    for (size_t i = 0; i < res.count; i++)
      say_user_attrs(c, &res.user_attrs[i]);
    cli_account_errors(c, res.error_list, res.error_count);
    imcast_user_attrs_result_free(&res);
  }
  return EXIT_OK;
}

static int set_attrs(cli *c, const char *user, char **items, size_t n)
{
  imcast_attr *attrs = calloc(n, sizeof *attrs);
  if (attrs == NULL || cli_parse_pairs(items, n, attrs) != 0) {
    free(attrs);
    return cli_usage_error("attr set wants NAME=VALUE pairs");
  }
  imcast_user_attrs item = {.to_account = user, .attrs = attrs, .attr_count = n};
  imcast_batch_result res;
  imcast_error err;
  int code = cli_after_call(c, imcast_member_im_set_attr(c->client, &item, 1, &res, &err), &err);
  if (code == EXIT_OK && res.error_count == 0)
    cli_say(c, "set %zu attribute(s) of %s\n", n, user);
  cli_account_errors(c, res.error_list, res.error_count);
  imcast_batch_result_free(&res);
  cli_free_pairs(attrs, n);
  free(attrs);
  return code;
}

static int remove_attrs(cli *c, const char *user, char **names, size_t n)
{
  imcast_user_attr_names item = {.to_account = user, .names = (const char *const *)names,
                                 .name_count = n};
  imcast_batch_result res;
  imcast_error err;
  int code =
      cli_after_call(c, imcast_member_im_remove_attr(c->client, &item, 1, &res, &err), &err);
  if (code == EXIT_OK && res.error_count == 0)
    cli_say(c, "removed %zu attribute(s) of %s\n", n, user);
  cli_account_errors(c, res.error_list, res.error_count);
  imcast_batch_result_free(&res);
  return code;
}

static const char attr_usage[] =
    "usage: imcast attr names [SLOT=NAME...] | get USER... | set USER NAME=VALUE... | "
    "remove USER NAME...";

int cmd_attr(cli *c, int argc, char **argv)
{
  if (argc < 1)
    return cli_usage_error("%s", attr_usage);
  const char *sub = argv[0];
  int need = !strcmp(sub, "names") ? 1 : !strcmp(sub, "get") ? 2 : 3;
  int known = !strcmp(sub, "names") || !strcmp(sub, "get") || !strcmp(sub, "set") ||
              !strcmp(sub, "remove");
  if (!known || argc < need)
    return cli_usage_error("%s", attr_usage);
  if (cli_client(c) == NULL)
    return cli_last_exit();
  int code;
  if (!strcmp(sub, "names"))
    code = argc == 1 ? show_attr_names(c) : set_attr_names(c, argc - 1, argv + 1);
  else if (!strcmp(sub, "get"))
    code = get_attrs(c, argv + 1, (size_t)argc - 1);
  else if (!strcmp(sub, "set"))
    code = set_attrs(c, argv[1], argv + 2, (size_t)argc - 2);
  else
    code = remove_attrs(c, argv[1], argv + 2, (size_t)argc - 2);
  return code != EXIT_OK ? code : cli_final_exit(c);
}

/* ---------------------------------------------------------------------- tags --- */

static void say_user_tags(cli *c, const imcast_user_tags *u)
{
  cli_say(c, "%s", u->to_account);
  for (size_t k = 0; k < u->tag_count; k++)
    cli_say(c, " %s", u->tags[k]);
  cli_say(c, "\n");
}

static int get_tags(cli *c, char **users, size_t n)
{
  for (size_t at = 0; at < n; at += ACCOUNT_BATCH) {
    imcast_user_tags_result res;
    imcast_error err;
    imcast_status st = imcast_member_im_get_tag(c->client, (const char *const *)users + at,
                                                min_size(ACCOUNT_BATCH, n - at), &res, &err);
    int code = cli_after_call(c, st, &err);
    if (code != EXIT_OK)
      return code;
    for (size_t i = 0; i < res.count; i++)
      say_user_tags(c, &res.user_tags[i]);
    cli_account_errors(c, res.error_list, res.error_count);
    imcast_user_tags_result_free(&res);
  }
  return EXIT_OK;
}

/* im_add_tag or im_remove_tag for one user, TAG_BATCH tags per call. */
static int change_tags(cli *c, int add, const char *user, char **tags, size_t n)
{
  for (size_t at = 0; at < n; at += TAG_BATCH) {
    imcast_user_tags item = {.to_account = user, .tags = (const char *const *)tags + at,
                             .tag_count = min_size(TAG_BATCH, n - at)};
    imcast_batch_result res;
    imcast_error err;
    imcast_status st = add ? imcast_member_im_add_tag(c->client, &item, 1, &res, &err)
                           : imcast_member_im_remove_tag(c->client, &item, 1, &res, &err);
    int code = cli_after_call(c, st, &err);
    cli_account_errors(c, res.error_list, res.error_count);
    imcast_batch_result_free(&res);
    if (code != EXIT_OK)
      return code;
  }
  if (!c->per_account_errors)
    cli_say(c, "%s %zu tag(s) %s %s\n", add ? "added" : "removed", n, add ? "to" : "from",
            user);
  return EXIT_OK;
}

static int clear_tags(cli *c, char **users, size_t n)
{
  for (size_t at = 0; at < n; at += ACCOUNT_BATCH) {
    imcast_batch_result res;
    imcast_error err;
    imcast_status st = imcast_member_im_remove_all_tags(
        c->client, (const char *const *)users + at, min_size(ACCOUNT_BATCH, n - at), &res,
        &err);
    int code = cli_after_call(c, st, &err);
    cli_account_errors(c, res.error_list, res.error_count);
    imcast_batch_result_free(&res);
    if (code != EXIT_OK)
      return code;
  }
  cli_say(c, "cleared the tags of %zu account(s)\n", n);
  return EXIT_OK;
}

static const char tag_usage[] =
    "usage: imcast tag get USER... | add USER TAG... | remove USER TAG... | clear USER...";

int cmd_tag(cli *c, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage_error("%s", tag_usage);
  const char *sub = argv[0];
  int per_user = !strcmp(sub, "add") || !strcmp(sub, "remove");
  int known = per_user || !strcmp(sub, "get") || !strcmp(sub, "clear");
  if (!known || (per_user && argc < 3))
    return cli_usage_error("%s", tag_usage);
  if (cli_client(c) == NULL)
    return cli_last_exit();
  int code;
  if (!strcmp(sub, "get"))
    code = get_tags(c, argv + 1, (size_t)argc - 1);
  else if (!strcmp(sub, "clear"))
    code = clear_tags(c, argv + 1, (size_t)argc - 1);
  else
    code = change_tags(c, !strcmp(sub, "add"), argv[1], argv + 2, (size_t)argc - 2);
  return code != EXIT_OK ? code : cli_final_exit(c);
}
