/*
** import_parse.c — CSV and JSON-lines records of `imcast import` (format in the header).
**
** Guarantees: a line is either a whole record or an error that says what is wrong; on
** error nothing is left allocated. No limits are checked here (the server judges tag
** lengths, attribute names and UserIDs, and says which item is wrong).
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "import_parse.h"

#define CSV_FIELDS 3

void import_record_free(import_record *rec)
{
  free(rec->account);
  for (size_t i = 0; i < rec->tag_count; i++)
    free(rec->tags[i]);
  free(rec->tags);
  for (size_t i = 0; i < rec->attr_count; i++) {
    free((char *)rec->attrs[i].name);
    free((char *)rec->attrs[i].value);
  }
  free(rec->attrs);
  memset(rec, 0, sizeof *rec);
}

static int fail(char *why, size_t cap, const char *text)
{
  snprintf(why, cap, "%s", text);
  return -1;
}

static int add_tag(import_record *rec, const char *tag, size_t len)
{
  char **grown = realloc(rec->tags, (rec->tag_count + 1) * sizeof *grown);
  if (grown == NULL)
    return -1;
  rec->tags = grown;
  if ((rec->tags[rec->tag_count] = strndup(tag, len)) == NULL)
    return -1;
  rec->tag_count++;
  return 0;
}

static int add_attr(import_record *rec, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
  imcast_attr *grown = realloc(rec->attrs, (rec->attr_count + 1) * sizeof *grown);
  if (grown == NULL)
    return -1;
  rec->attrs = grown;
  char *n = strndup(name, name_len), *v = strndup(value, value_len);
  if (n == NULL || v == NULL) {
    free(n);
    free(v);
    return -1;
  }
  rec->attrs[rec->attr_count++] = (imcast_attr){n, v};
  return 0;
}

/* ------------------------------------------------------------------------ CSV --- */

/* Splits a CSV line into up to CSV_FIELDS malloc'd fields. 0 or -1 (why set). */
static int csv_fields(const char *line, char *fields[CSV_FIELDS], char *why, size_t cap)
{
  size_t len = strlen(line), n = 0;
  char *buf = malloc(len + 1);
  if (buf == NULL)
    return fail(why, cap, "out of memory");
  const char *p = line;
  for (int f = 0; f < CSV_FIELDS; f++)
    fields[f] = NULL;
  for (int f = 0;; f++) {
    if (f == CSV_FIELDS) {
      free(buf);
      for (int k = 0; k < CSV_FIELDS; k++)
        free(fields[k]);
      return fail(why, cap, "more than 3 fields (account,tags,attrs)");
    }
    n = 0;
    if (*p == '"') {
      for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
        if (*p == '"')
          p++;
        buf[n++] = *p;
      }
      if (*p != '"' || (p[1] != ',' && p[1] != '\0')) {
        free(buf);
        for (int k = 0; k < f; k++)
          free(fields[k]);
        return fail(why, cap, "a quoted field is not closed before the next comma");
      }
      p++;
    } else {
      while (*p && *p != ',')
        buf[n++] = *p++;
    }
    fields[f] = strndup(buf, n);
    if (*p != ',')
      break;
    p++;
  }
  free(buf);
  return 0;
}

static void trim(const char **s, size_t *len)
{
  while (*len > 0 && isspace((unsigned char)**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
    (*len)--;
}

/* Calls each(part) for the non-empty ';'-separated, trimmed parts of text. */
static int for_each_part(const char *text, import_record *rec, char *why, size_t cap,
                         int (*each)(import_record *, const char *, size_t, char *, size_t))
{
  while (text != NULL && *text) {
    const char *end = strchr(text, ';');
    size_t len = end ? (size_t)(end - text) : strlen(text);
    const char *part = text;
    trim(&part, &len);
    if (len > 0 && each(rec, part, len, why, cap) != 0)
      return -1;
    text = end ? end + 1 : NULL;
  }
  return 0;
}

static int tag_part(import_record *rec, const char *part, size_t len, char *why, size_t cap)
{
  return add_tag(rec, part, len) == 0 ? 0 : fail(why, cap, "out of memory");
}

static int attr_part(import_record *rec, const char *part, size_t len, char *why, size_t cap)
{
  const char *eq = memchr(part, '=', len);
  if (eq == NULL || eq == part) {
    snprintf(why, cap, "attribute \"%.*s\" is not NAME=VALUE", (int)len, part);
    return -1;
  }
  const char *name = part, *value = eq + 1;
  size_t name_len = (size_t)(eq - part), value_len = len - name_len - 1;
  trim(&name, &name_len);
  trim(&value, &value_len);
  return add_attr(rec, name, name_len, value, value_len) == 0 ? 0 : fail(why, cap, "out of memory");
}

static int parse_csv(const char *line, int first_record, import_record *rec, char *why,
                     size_t cap)
{
  char *fields[CSV_FIELDS];
  if (csv_fields(line, fields, why, cap) != 0)
    return -1;
  int rc = 1;
  const char *account = fields[0];
  size_t account_len = account ? strlen(account) : 0;
  trim(&account, &account_len);
  if (first_record && account_len == 7 && strncasecmp(account, "account", 7) == 0)
    rc = 0;
  else if (account_len == 0)
    rc = fail(why, cap, "the account field is empty");
  else if ((rec->account = strndup(account, account_len)) == NULL ||
           for_each_part(fields[1], rec, why, cap, tag_part) != 0 ||
           for_each_part(fields[2], rec, why, cap, attr_part) != 0)
    rc = -1;
  for (int k = 0; k < CSV_FIELDS; k++)
    free(fields[k]);
  if (rc != 1)
    import_record_free(rec);
  return rc;
}

/* ----------------------------------------------------------------- JSON lines --- */

static const json_t *member(const json_t *obj, const char *const *names)
{
  for (; *names; names++) {
    const json_t *v = json_object_get(obj, *names);
    if (v != NULL && !json_is_null(v))
      return v;
  }
  return NULL;
}

static int json_tags(import_record *rec, const json_t *tags, char *why, size_t cap)
{
  if (tags == NULL)
    return 0;
  if (!json_is_array(tags))
    return fail(why, cap, "\"tags\" must be an array of strings");
  size_t i;
  const json_t *t;
  json_array_foreach(tags, i, t) {
    if (!json_is_string(t))
      return fail(why, cap, "\"tags\" must be an array of strings");
    if (add_tag(rec, json_string_value(t), json_string_length(t)) != 0)
      return fail(why, cap, "out of memory");
  }
  return 0;
}

static int json_attrs(import_record *rec, const json_t *attrs, char *why, size_t cap)
{
  if (attrs == NULL)
    return 0;
  if (!json_is_object(attrs))
    return fail(why, cap, "\"attrs\" must be an object of NAME: VALUE");
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)attrs, name, v) {
    if (json_is_object(v) || json_is_array(v))
      return fail(why, cap, "an attribute value must be a string, number or boolean");
    char *text = json_is_string(v) ? strdup(json_string_value(v))
                                   : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    int rc = text ? add_attr(rec, name, strlen(name), text, strlen(text)) : -1;
    free(text);
    if (rc != 0)
      return fail(why, cap, "out of memory");
  }
  return 0;
}

static int parse_json(const char *line, import_record *rec, char *why, size_t cap)
{
  static const char *const account_keys[] = {"account", "UserID", "To_Account", "Identifier",
                                             NULL};
  static const char *const tag_keys[] = {"tags", "Tags", NULL};
  static const char *const attr_keys[] = {"attrs", "Attrs", NULL};
  json_error_t jerr;
  json_t *doc = json_loads(line, 0, &jerr);
  if (!json_is_object(doc)) {
    json_decref(doc);
    snprintf(why, cap, "not a JSON object: %s", doc ? "another JSON value" : jerr.text);
    return -1;
  }
  const json_t *account = member(doc, account_keys);
  int rc = 1;
  if (!json_is_string(account) || json_string_length(account) == 0)
    rc = fail(why, cap, "no \"account\" string");
  else if ((rec->account = strdup(json_string_value(account))) == NULL ||
           json_tags(rec, member(doc, tag_keys), why, cap) != 0 ||
           json_attrs(rec, member(doc, attr_keys), why, cap) != 0)
    rc = -1;
  json_decref(doc);
  if (rc != 1)
    import_record_free(rec);
  return rc;
}

/* ----------------------------------------------------------------------- line --- */

int import_parse_line(const char *line, int first_record, import_record *rec, char *why,
                      size_t cap)
{
  memset(rec, 0, sizeof *rec);
  size_t len = strlen(line);
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  char *copy = strndup(line, len);
  if (copy == NULL)
    return fail(why, cap, "out of memory");
  const char *s = copy;
  while (isspace((unsigned char)*s))
    s++;
  int rc;
  if (*s == '\0' || *s == '#')
    rc = 0;
  else if (*s == '{')
    rc = parse_json(s, rec, why, cap);
  else
    rc = parse_csv(copy, first_record, rec, why, cap);
  free(copy);
  return rc;
}
