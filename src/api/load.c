/*
** load.c — rebuilds the in-memory directory from the store (on start, after a failed
** commit). Every row goes through the same directory calls a live request uses, so the
** loaded index is the index the API would have built.
*/
#include <errno.h>
#include <stdlib.h>

#include "api/api.h"
#include "common/log.h"

typedef struct load_state {
  directory *dir;
  uint32_t next_uid;
  size_t rows;
} load_state;

static int load_account(void *ctx, uint32_t uid, const char *user_id)
{
  load_state *s = ctx;
  s->rows++;
  if (uid >= s->next_uid) s->next_uid = uid + 1;
  return directory_add_account(s->dir, uid, user_id);
}

static int load_attr_name(void *ctx, int slot, const char *name)
{
  load_state *s = ctx;
  s->rows++;
  return directory_set_attr_name(s->dir, slot, name);
}

static int load_user_attr(void *ctx, uint32_t uid, int slot, const char *value)
{
  load_state *s = ctx;
  s->rows++;
  return directory_set_attr(s->dir, uid, slot, value);
}

static int load_user_tag(void *ctx, uint32_t uid, const char *tag)
{
  load_state *s = ctx;
  s->rows++;
  int rc = directory_add_tag(s->dir, uid, tag);
  return rc < 0 ? rc : 0;
}

int api_load_directory(store *st, directory **out, uint32_t *next_uid)
{
  load_state s = {.dir = directory_new()};
  if (!s.dir) return -ENOMEM;
  store_loader loader = {&s, load_account, load_attr_name, load_user_attr, load_user_tag};
  int rc = store_load(st, &loader);
  if (rc != 0) {
    directory_free(s.dir);
    return rc < 0 ? rc : -EIO;
  }
  /* Deleted accounts' uids are never reused: the store remembers the high-water mark. */
  char text[32];
  if (store_meta_get(st, "next_uid", text, sizeof text) == 0) {
    unsigned long saved = strtoul(text, NULL, 10);
    if (saved > s.next_uid) s.next_uid = (uint32_t)saved;
  }
  log_info("loaded %zu accounts (%zu rows)", directory_account_count(s.dir), s.rows);
  *out = s.dir;
  *next_uid = s.next_uid;
  return 0;
}
