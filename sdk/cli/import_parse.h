/*
** import_parse.h — one line of an `imcast import` file, as a record.
**
** Two formats, told apart line by line:
**   CSV:         account,tags,attrs        e.g.  u1,vip;beta,sex=F;city=SZ
**                tags separated by ';', attrs as NAME=VALUE separated by ';'; fields may
**                be "quoted" ("" is a quote inside); missing trailing fields are empty.
**                A first line whose first field is "account" is a header.
**   JSON lines:  {"account":"u1","tags":["vip"],"attrs":{"sex":"F"}}
**                (also UserID / To_Account for the account, Tags, Attrs; attribute values
**                may be numbers or booleans: their JSON text is sent).
** Blank lines and lines starting with '#' are skipped.
*/
#ifndef IMCAST_IMPORT_PARSE_H
#define IMCAST_IMPORT_PARSE_H

#include <stddef.h>

#include <imcast/imcast.h>

typedef struct import_record {
  char *account;
  char **tags;
  size_t tag_count;
  imcast_attr *attrs;   /* name and value malloc'd */
  size_t attr_count;
} import_record;

/* Parses one line (without or with its "\n"). 1: *rec filled (free it with
 * import_record_free); 0: nothing on this line; -1: malformed, why in why[cap].
 * first_record says no record came before (for the CSV header). */
int import_parse_line(const char *line, int first_record, import_record *rec, char *why,
                      size_t cap);

void import_record_free(import_record *rec);

#endif
