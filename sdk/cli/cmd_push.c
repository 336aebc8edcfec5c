/*
** cmd_push.c — push (with --wait), report, revoke.
**
** push sends one TIMTextElem (plus one TIMCustomElem whose Data is --custom's JSON text)
** and prints the TaskId. --wait then polls im_get_push_report until the push has left the
** FanningOut state (or WAIT_LIMIT_S passed) and prints the report; it needs --life > 0,
** since imcastd keeps no record (hence no report) of a push with MsgLifeTime 0.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"

#define MAX_LIFE 604800
#define WAIT_POLL_MS 200
#define WAIT_LIMIT_S 600

/* The parsed options of push, with the memory they own. */
typedef struct push_args {
  char **tags_and, **tags_or;
  size_t tags_and_n, tags_or_n;
  char **attrs_and_items, **attrs_or_items;
  size_t attrs_and_n, attrs_or_n;
  imcast_attr *attrs_and, *attrs_or;
} push_args;

static void push_args_free(push_args *a)
{
  cli_free_split(a->tags_and, a->tags_and_n);
  cli_free_split(a->tags_or, a->tags_or_n);
  cli_free_pairs(a->attrs_and, a->attrs_and ? a->attrs_and_n : 0);
  cli_free_pairs(a->attrs_or, a->attrs_or ? a->attrs_or_n : 0);
  cli_free_split(a->attrs_and_items, a->attrs_and_n);
  cli_free_split(a->attrs_or_items, a->attrs_or_n);
  free(a->attrs_and);
  free(a->attrs_or);
}

/* "K=V,K2=V2" into pairs. 0 or EXIT_USAGE. */
static int parse_attr_list(const char *text, const char *option, char ***items, size_t *n,
                           imcast_attr **pairs)
{
  *items = cli_split(text, ',', n);
  *pairs = *items ? calloc(*n, sizeof **pairs) : NULL;
  if (*pairs == NULL || cli_parse_pairs(*items, *n, *pairs) != 0) {
    free(*pairs);
    *pairs = NULL;
    return cli_usage_error("%s wants NAME=VALUE,NAME=VALUE..., not \"%s\"", option, text);
  }
  return 0;
}

static int parse_condition(const cli_opt *opts, push_args *a, imcast_condition *cond)
{
  if (opts[0].value && (a->tags_and = cli_split(opts[0].value, ',', &a->tags_and_n)) == NULL)
    return cli_usage_error("out of memory");
  if (opts[1].value && (a->tags_or = cli_split(opts[1].value, ',', &a->tags_or_n)) == NULL)
    return cli_usage_error("out of memory");
  if (opts[2].value && parse_attr_list(opts[2].value, "--attrs-and", &a->attrs_and_items,
                                       &a->attrs_and_n, &a->attrs_and) != 0)
    return EXIT_USAGE;
  if (opts[3].value && parse_attr_list(opts[3].value, "--attrs-or", &a->attrs_or_items,
                                       &a->attrs_or_n, &a->attrs_or) != 0)
    return EXIT_USAGE;
  *cond = (imcast_condition){
    .tags_and = (const char *const *)a->tags_and, .tags_and_count = a->tags_and_n,
    .tags_or = (const char *const *)a->tags_or, .tags_or_count = a->tags_or_n,
    .attrs_and = a->attrs_and, .attrs_and_count = a->attrs_and ? a->attrs_and_n : 0,
    .attrs_or = a->attrs_or, .attrs_or_count = a->attrs_or ? a->attrs_or_n : 0,
  };
  return 0;
}

static int valid_json(const char *text)
{
  json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
  json_decref(doc);
  return doc != NULL;
}

static void say_report(cli *c, const imcast_push_report *r)
{
  cli_say(c, "TaskId       %s\nState        %s\nAudience     %lld\nOnlineAtPush %lld\n"
             "Delivered    %lld\nPending      %lld\nCreatedAt    %lld\nExpiresAt    %lld\n"
             "FanoutDoneAt %lld\n",
          r->task_id, r->state, (long long)r->audience, (long long)r->online_at_push,
          (long long)r->delivered, (long long)r->pending, (long long)r->created_at,
          (long long)r->expires_at, (long long)r->fanout_done_at);
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls the report until the push is no longer fanning out; prints the last one. */
static int wait_for_report(cli *c, const char *task_id)
{
  time_t deadline = time(NULL) + WAIT_LIMIT_S;
  int quiet_json = c->json;
  for (;;) {
    imcast_push_report r;
    imcast_error err;
    c->json = 0; /* only the final report is printed with --json */
    imcast_status st = imcast_member_im_get_push_report(c->client, task_id, &r, &err);
    c->json = quiet_json;
    int fanning = st == IMCAST_OK && r.state_code == IMCAST_PUSH_FANNING_OUT;
    if (fanning && time(NULL) < deadline) {
      imcast_push_report_free(&r);
      sleep_ms(WAIT_POLL_MS);
      continue;
    }
    int code = cli_after_call(c, st, &err);
    if (code == EXIT_OK)
      say_report(c, &r);
    imcast_push_report_free(&r);
    return code;
  }
}

static int send_push(cli *c, const char *text, const cli_opt *opts, const imcast_condition *cond)
{
  int64_t life = 0, random = 0;
  if (opts[5].value && cli_parse_int(opts[5].value, 0, MAX_LIFE, &life) != 0)
    return cli_usage_error("--life wants 0..%d seconds, not \"%s\"", MAX_LIFE, opts[5].value);
  if (opts[6].value && cli_parse_int(opts[6].value, 1, UINT32_MAX, &random) != 0)
    return cli_usage_error("--random wants 1..4294967295, not \"%s\"", opts[6].value);
  if (opts[8].value && life == 0)
    return cli_usage_error("--wait needs --life > 0: a push with MsgLifeTime 0 is not kept, "
                           "so it has no report");
  if (opts[7].value && !valid_json(opts[7].value))
    return cli_usage_error("--custom is not valid JSON: %s", opts[7].value);
  /* cppcheck-suppress unknownEvaluationOrder ; nested designated initializer, no side effects */
  imcast_msg_elem body[2] = {{.type = IMCAST_TEXT_ELEM, .text = {.text = text}}};
  size_t nbody = 1;
  if (opts[7].value)
    body[nbody++] = (imcast_msg_elem){.type = IMCAST_CUSTOM_ELEM,
                                      .custom = {.data = opts[7].value}};
  imcast_push_request req = {
    .msg_random = (uint32_t)random, .msg_body = body, .msg_body_count = nbody,
    .msg_life_time = (uint32_t)life, .from_account = opts[4].value, .condition = cond,
  };
  if (cli_client(c) == NULL)
    return cli_last_exit();
  imcast_push_result res;
  imcast_error err;
  int code = cli_after_call(c, imcast_member_im_push(c->client, &req, &res, &err), &err);
  if (code == EXIT_OK) {
    cli_say(c, "%s\n", res.task_id);
    fflush(stdout);
    if (opts[8].value)
      code = wait_for_report(c, res.task_id);
  }
  imcast_push_result_free(&res);
  return code;
}

int cmd_push(cli *c, int argc, char **argv)
{
  cli_opt opts[] = {
    {"tags-and", 1, NULL}, {"tags-or", 1, NULL}, {"attrs-and", 1, NULL},
    {"attrs-or", 1, NULL}, {"from", 1, NULL},    {"life", 1, NULL},
    {"random", 1, NULL},   {"custom", 1, NULL},  {"wait", 0, NULL},
  };
  char **pos;
  int npos;
  if (cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], &pos, &npos) != 0)
    return EXIT_USAGE;
  push_args a = {0};
  imcast_condition cond;
  int code = npos == 1 ? parse_condition(opts, &a, &cond)
                       : cli_usage_error("usage: imcast push TEXT [options] (see --help)");
  if (code == EXIT_OK)
    code = send_push(c, pos[0], opts, &cond);
  push_args_free(&a);
  free(pos);
  return code;
}

int cmd_report(cli *c, int argc, char **argv)
{
  if (argc != 1)
    return cli_usage_error("usage: imcast report TASKID");
  if (cli_client(c) == NULL)
    return cli_last_exit();
  imcast_push_report r;
  imcast_error err;
  int code =
      cli_after_call(c, imcast_member_im_get_push_report(c->client, argv[0], &r, &err), &err);
  if (code == EXIT_OK)
    say_report(c, &r);
  imcast_push_report_free(&r);
  return code;
}

int cmd_revoke(cli *c, int argc, char **argv)
{
  if (argc != 1)
    return cli_usage_error("usage: imcast revoke TASKID");
  if (cli_client(c) == NULL)
    return cli_last_exit();
  imcast_error err;
  int code = cli_after_call(c, imcast_member_im_revoke(c->client, argv[0], &err), &err);
  if (code == EXIT_OK)
    cli_say(c, "revoked %s\n", argv[0]);
  return code;
}
