/*
** pusher.c — im_push or PUBLISH, one connection, pipelined (see pusher.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pusher.h"
#include "resp.h"

int pusher_open(pusher *p, const bench_opts *o)
{
  memset(p, 0, sizeof *p);
  p->o = o;
  p->cap = o->payload + 4096;
  p->body = xmalloc(p->cap);
  if (o->target == TARGET_REDIS) return bconn_open(&p->redis, o->redis_host, o->redis_port);
  return rest_open(&p->rest, o);
}

int pusher_send(pusher *p, uint32_t index, uint64_t sent_ns, uint32_t lifetime)
{
  size_t len = push_body(p->body, p->cap, p->o, index, sent_ns, lifetime);
  if (p->o->target == TARGET_REDIS)
    return resp_publish_send(&p->redis, p->o->channel, p->body, len);
  return rest_send(&p->rest, "all_member_push/im_push", p->body, len);
}

int pusher_answer(pusher *p, char *task, size_t cap, long long *receivers)
{
  if (p->o->target == TARGET_REDIS) {
    long long n = resp_read_int(&p->redis);
    if (receivers) *receivers = n;
    return n < 0 ? -1 : 0;
  }
  const char *a = "";
  size_t alen = 0;
  int rc = rest_recv(&p->rest, &a, &alen);
  if (rc != 0) {
    fprintf(stderr, "imcast-bench: im_push answered %.*s\n", (int)alen, a);
    return -1;
  }
  if (task && answer_task_id(a, alen, task, cap) != 0) return -1;
  if (receivers) *receivers = -1;
  return 0;
}

void pusher_close(pusher *p)
{
  if (p->o && p->o->target == TARGET_REDIS) bconn_close(&p->redis);
  else if (p->o) rest_close(&p->rest);
  free(p->body);
  memset(p, 0, sizeof *p);
}
