/*
** cmd_import.c — import FILE: bulk accounts with their tags and attributes.
**
** Records (import_parse.h) are sent 100 at a time: multiaccount_import of the batch, then
** im_add_tag (10 tags per user per call, so several rounds for users with more), then
** im_set_attr. A regular file is read twice: the first pass checks every line, so a typo
** on line 90 000 stops the import before anything is sent (exit 2, "FILE:LINE: why"), and
** counts the records for the progress bar. Standard input ('-') is read once and checked
** as it goes. The first batch the server refuses stops the import (exit 1 or 3); since
** every call is idempotent, running the same file again after a fix is safe. Progress is
** drawn on stderr when it is a terminal; a summary line ends the run.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "import_parse.h"

#define BATCH 100
#define TAGS_PER_CALL 10
#define BAR_WIDTH 30

typedef struct import_run {
  cli *c;
  const char *path;
  FILE *in;
  size_t total;          /* records in the file; 0 when unknown (stdin) */
  size_t done;           /* records sent */
  size_t with_tags, with_attrs;
  int progress;          /* draw a progress bar */
  import_record batch[BATCH];
  size_t n;
} import_run;

static size_t min_size(size_t a, size_t b)
{
  return a < b ? a : b;
}

static void draw_progress(const import_run *r)
{
  if (!r->progress)
    return;
  if (r->total == 0) {
    fprintf(stderr, "\rimport: %zu accounts", r->done);
  } else {
    size_t filled = r->done * BAR_WIDTH / r->total;
    char bar[BAR_WIDTH + 1];
    memset(bar, '#', filled);
    memset(bar + filled, '.', BAR_WIDTH - filled);
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\rimport: [%s] %zu/%zu accounts", bar, r->done, r->total);
  }
  fflush(stderr);
}

static void end_progress(const import_run *r)
{
  if (r->progress)
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------ one batch --- */

static int import_accounts(import_run *r)
{
  const char *ids[BATCH];
  for (size_t i = 0; i < r->n; i++)
    ids[i] = r->batch[i].account;
  imcast_multi_import_result res;
  imcast_error err;
  imcast_status st = imcast_account_multi_import(r->c->client, ids, r->n, &res, &err);
  int code = cli_after_call(r->c, st, &err);
  for (size_t i = 0; code == EXIT_OK && i < res.fail_count; i++) {
    fprintf(stderr, "%s: not imported (invalid UserID)\n", res.fail_accounts[i]);
    r->c->per_account_errors = 1;
  }
  imcast_multi_import_result_free(&res);
  return code;
}

/* Round `round` of tags: every user's tags [round*10, round*10+10). *more says whether a
 * later round has tags left. */
static int add_tag_round(import_run *r, size_t round, int *more)
{
  imcast_user_tags items[BATCH];
  size_t n = 0;
  *more = 0;
  for (size_t i = 0; i < r->n; i++) {
    const import_record *rec = &r->batch[i];
    size_t from = round * TAGS_PER_CALL;
    if (rec->tag_count <= from)
      continue;
    items[n++] = (imcast_user_tags){rec->account, (const char *const *)rec->tags + from,
                                    min_size(TAGS_PER_CALL, rec->tag_count - from)};
    *more |= rec->tag_count > from + TAGS_PER_CALL;
  }
  if (n == 0)
    return EXIT_OK;
  imcast_batch_result res;
  imcast_error err;
  int code = cli_after_call(r->c, imcast_member_im_add_tag(r->c->client, items, n, &res, &err),
                            &err);
  cli_account_errors(r->c, res.error_list, res.error_count);
  imcast_batch_result_free(&res);
  return code;
}

static int add_tags(import_run *r)
{
  int more = 1, code = EXIT_OK;
  for (size_t round = 0; more && code == EXIT_OK; round++)
    code = add_tag_round(r, round, &more);
  return code;
}

static int set_attrs(import_run *r)
{
  imcast_user_attrs items[BATCH];
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->batch[i].attr_count > 0)
      items[n++] = (imcast_user_attrs){r->batch[i].account, r->batch[i].attrs,
                                       r->batch[i].attr_count};
  if (n == 0)
    return EXIT_OK;
  imcast_batch_result res;
  imcast_error err;
  int code = cli_after_call(r->c, imcast_member_im_set_attr(r->c->client, items, n, &res, &err),
                            &err);
  cli_account_errors(r->c, res.error_list, res.error_count);
  imcast_batch_result_free(&res);
  return code;
}

static int send_batch(import_run *r)
{
  if (r->n == 0)
    return EXIT_OK;
  int code = import_accounts(r);
  if (code == EXIT_OK)
    code = add_tags(r);
  if (code == EXIT_OK)
    code = set_attrs(r);
  for (size_t i = 0; i < r->n; i++) {
    r->with_tags += r->batch[i].tag_count > 0;
    r->with_attrs += r->batch[i].attr_count > 0;
    import_record_free(&r->batch[i]);
  }
  if (code == EXIT_OK)
    r->done += r->n;
  r->n = 0;
  draw_progress(r);
  return code;
}

/* ------------------------------------------------------------------ the file --- */

/* Reads the file through, calling take() for each record. 0, or the exit code of the
 * first failure (a malformed line is reported as FILE:LINE). */
static int each_record(import_run *r, int (*take)(import_run *, import_record *))
{
  char *line = NULL, why[256];
  size_t cap = 0, lineno = 0, records = 0;
  int code = EXIT_OK;
  while (code == EXIT_OK && getline(&line, &cap, r->in) >= 0) {
    lineno++;
    import_record rec;
    int rc = import_parse_line(line, records == 0, &rec, why, sizeof why);
    if (rc < 0) {
      end_progress(r);
      code = cli_usage_error("%s:%zu: %s", r->path, lineno, why);
    } else if (rc > 0) {
      records++;
      code = take(r, &rec);
    }
  }
  free(line);
  return code;
}

static int count_record(import_run *r, import_record *rec)
{
  import_record_free(rec);
  r->total++;
  return EXIT_OK;
}

static int batch_record(import_run *r, import_record *rec)
{
  r->batch[r->n++] = *rec;
  return r->n == BATCH ? send_batch(r) : EXIT_OK;
}

static int open_input(import_run *r)
{
  if (strcmp(r->path, "-") == 0) {
    r->in = stdin;
    return EXIT_OK;
  }
  r->in = fopen(r->path, "r");
  if (r->in == NULL)
    return cli_usage_error("cannot read %s", r->path);
  int code = each_record(r, count_record); /* check every line before sending any */
  if (code == EXIT_OK && fseek(r->in, 0, SEEK_SET) != 0)
    code = cli_usage_error("cannot rewind %s", r->path);
  return code;
}

int cmd_import(cli *c, int argc, char **argv)
{
  if (argc != 1)
    return cli_usage_error("usage: imcast import FILE  (CSV or JSON lines; '-' = stdin)");
  if (cli_client(c) == NULL)
    return cli_last_exit();
  import_run *r = calloc(1, sizeof *r);
  if (r == NULL)
    return cli_usage_error("out of memory");
  *r = (import_run){.c = c, .path = argv[0], .progress = isatty(STDERR_FILENO)};
  int code = open_input(r);
  if (code == EXIT_OK)
    code = each_record(r, batch_record);
  if (code == EXIT_OK)
    code = send_batch(r);
  for (size_t i = 0; i < r->n; i++)
    import_record_free(&r->batch[i]);
  end_progress(r);
  if (code == EXIT_OK || r->done > 0)
    cli_say(c, "imported %zu account(s): %zu with tags, %zu with attributes\n", r->done,
            r->with_tags, r->with_attrs);
  if (r->in != NULL && r->in != stdin)
    fclose(r->in);
  free(r);
  return code != EXIT_OK ? code : cli_final_exit(c);
}
