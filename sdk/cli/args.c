/*
** args.c — parsing the arguments of a command: options, integers, lists, K=V pairs.
**
** Guarantees: nothing is interpreted beyond what the usage text promises; every problem
** is reported as a usage error naming the argument.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static cli_opt *find_opt(cli_opt *opts, size_t nopts, const char *arg, const char **inline_value)
{
  *inline_value = NULL;
  for (size_t k = 0; k < nopts; k++) {
    size_t n = strlen(opts[k].name);
    if (strncmp(arg + 2, opts[k].name, n) != 0)
      continue;
    if (arg[2 + n] == '\0')
      return &opts[k];
    if (arg[2 + n] == '=' && opts[k].takes_value) {
      *inline_value = arg + 3 + n;
      return &opts[k];
    }
  }
  return NULL;
}

int cli_parse_args(int argc, char **argv, cli_opt *opts, size_t nopts, char ***positionals,
                   int *npositionals)
{
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  if (pos == NULL)
    return cli_usage_error("out of memory");
  int n = 0, options_done = 0;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (options_done || strncmp(arg, "--", 2) != 0) {
      pos[n++] = argv[i];
      continue;
    }
    if (arg[2] == '\0') {
      options_done = 1;
      continue;
    }
    const char *value;
    cli_opt *o = find_opt(opts, nopts, arg, &value);
    if (o == NULL) {
      free(pos);
      return cli_usage_error("unknown option %s", arg);
    }
    if (o->takes_value && value == NULL) {
      if (i + 1 >= argc) {
        free(pos);
        return cli_usage_error("%s needs a value", arg);
      }
      value = argv[++i];
    }
    o->value = o->takes_value ? value : "1";
  }
  *positionals = pos;
  *npositionals = n;
  return 0;
}

int cli_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
  if (text == NULL || text[0] == '\0' || (text[0] != '-' && (text[0] < '0' || text[0] > '9')))
    return -1;
  errno = 0;
  char *end;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

char **cli_split(const char *text, char sep, size_t *count)
{
  size_t n = 1;
  for (const char *p = text; *p; p++)
    n += *p == sep;
  char **parts = calloc(n, sizeof *parts);
  if (parts == NULL)
    return NULL;
  const char *start = text;
  for (size_t i = 0; i < n; i++) {
    const char *end = strchr(start, sep);
    size_t len = end ? (size_t)(end - start) : strlen(start);
    parts[i] = strndup(start, len);
    if (parts[i] == NULL) {
      cli_free_split(parts, i);
      return NULL;
    }
    start = end ? end + 1 : start + len;
  }
  *count = n;
  return parts;
}

void cli_free_split(char **parts, size_t count)
{
  for (size_t i = 0; parts != NULL && i < count; i++)
    free(parts[i]);
  free(parts);
}

int cli_parse_pairs(char **items, size_t count, imcast_attr *out)
{
  for (size_t i = 0; i < count; i++) {
    const char *eq = strchr(items[i], '=');
    if (eq == NULL || eq == items[i]) {
      cli_free_pairs(out, i);
      return -1;
    }
    out[i].name = strndup(items[i], (size_t)(eq - items[i]));
    out[i].value = strdup(eq + 1);
  }
  return 0;
}

void cli_free_pairs(imcast_attr *pairs, size_t count)
{
  for (size_t i = 0; pairs != NULL && i < count; i++) {
    free((char *)pairs[i].name);
    free((char *)pairs[i].value);
  }
}
