/*
** load.c — rebuilds the in-memory state from the store (on start, after a failed commit):
** the directory and the live pushes. Every row goes through the same calls a live request
** uses, so the loaded index is the index the API would have built.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "common/log.h"

typedef struct load_state {
  api_state state;
  size_t rows;
} load_state;

static int load_account(void *ctx, uint32_t uid, const char *user_id)
{
  load_state *s = ctx;
  s->rows++;
  if (uid >= s->state.next_uid) s->state.next_uid = uid + 1;
  return directory_add_account(s->state.dir, uid, user_id);
}

static int load_attr_name(void *ctx, int slot, const char *name)
{
  load_state *s = ctx;
  s->rows++;
  return directory_set_attr_name(s->state.dir, slot, name);
}

static int load_user_attr(void *ctx, uint32_t uid, int slot, const char *value)
{
  load_state *s = ctx;
  s->rows++;
  return directory_set_attr(s->state.dir, uid, slot, value);
}

static int load_user_tag(void *ctx, uint32_t uid, const char *tag)
{
  load_state *s = ctx;
  s->rows++;
  int rc = directory_add_tag(s->state.dir, uid, tag);
  return rc < 0 ? rc : 0;
}

/* A stored push becomes a registry push. Accounts deleted since it was stored leave its
** audience (uids are never reused, so this only keeps report figures exact). */
static int load_push(void *ctx, const store_push *sp)
{
  load_state *s = ctx;
  push *p = calloc(1, sizeof *p);
  if (!p) {
    if (sp->audience) roaring_bitmap_free(sp->audience);
    if (sp->delivered) roaring_bitmap_free(sp->delivered);
    return -ENOMEM;
  }
  p->audience = sp->audience ? sp->audience : roaring_bitmap_create();
  p->delivered = sp->delivered ? sp->delivered : roaring_bitmap_create();
  p->seq = sp->seq;
  snprintf(p->task_id, sizeof p->task_id, "%s", sp->task_id);
  p->msg_random = sp->msg_random;
  p->sender = strdup(sp->sender ? sp->sender : "");
  p->created_at = sp->created_at;
  p->expires_at = sp->expires_at;
  p->fanout_done_at = sp->fanout_done_at ? sp->fanout_done_at : sp->created_at;
  p->online_at_push = sp->online_at_push;
  p->state = sp->state == PUSH_REVOKED ? PUSH_REVOKED : PUSH_DONE;
  p->msg_json = strdup(sp->msg_json ? sp->msg_json : "");
  if (!p->sender || !p->msg_json || !p->audience || !p->delivered) {
    push_free(p, NULL);
    return -ENOMEM;
  }
  p->msg_len = strlen(p->msg_json);
  roaring_bitmap_and_inplace(p->audience, directory_all(s->state.dir));
  push_registry_bump_seq(s->state.pushes, p->seq + 1);
  int rc = push_registry_add(s->state.pushes, p);
  if (rc != 0) {
    push_free(p, NULL);
    return rc;
  }
  s->rows++;
  return 0;
}

static int load_retry(void *ctx, const char *sender, uint32_t msg_random, const char *task_id,
                      int64_t created_at)
{
  load_state *s = ctx;
  s->rows++;
  return push_registry_remember(s->state.pushes, sender, msg_random, task_id, created_at);
}

/* A uint64 kept in the store's meta table, or 0. */
static uint64_t meta_u64(store *st, const char *key)
{
  char text[32];
  return store_meta_get(st, key, text, sizeof text) == 0 ? strtoull(text, NULL, 10) : 0;
}

void api_state_free(api_state *state)
{
  if (state->pushes) push_registry_free(state->pushes, api_free_frame);
  if (state->dir) directory_free(state->dir);
  state->pushes = NULL;
  state->dir = NULL;
}

int api_load_state(store *st, api_state *out)
{
  load_state s = {.state = {.dir = directory_new(), .pushes = push_registry_new()}};
  if (!s.state.dir || !s.state.pushes) {
    api_state_free(&s.state);
    return -ENOMEM;
  }
  store_loader loader = {&s, load_account, load_attr_name, load_user_attr, load_user_tag};
  int rc = store_load(st, &loader);
  if (rc == 0) rc = store_load_pushes(st, load_push, load_retry, &s);
  if (rc != 0) {
    api_state_free(&s.state);
    return rc < 0 ? rc : -EIO;
  }
  /* Deleted accounts' uids are never reused: the store remembers the high-water mark.
  ** Seqs likewise, including those of pushes that were never stored (MsgLifeTime 0). */
  uint64_t saved_uid = meta_u64(st, "next_uid");
  if (saved_uid > s.state.next_uid) s.state.next_uid = (uint32_t)saved_uid;
  push_registry_bump_seq(s.state.pushes, meta_u64(st, "next_seq"));
  log_info("loaded %zu accounts and %zu live pushes (%zu rows)",
           directory_account_count(s.state.dir), push_registry_count(s.state.pushes), s.rows);
  *out = s.state;
  return 0;
}
