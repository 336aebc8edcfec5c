/*
** sessions.h — who is online: each account's open receiver connections.
**
** A session is one receiver connection of one account. The registry links an account's
** sessions together (an account may be connected from several devices) and keeps the
** bitmap of online accounts, so that a push's live audience is one bitmap AND.
**
** Sessions are intrusive: the owner embeds or allocates `session` and keeps it alive from
** sessions_add() to sessions_remove(). The registry allocates only its uid -> first-session
** map. Threads: one owner (the core loop).
*/
#ifndef IMCAST_SESSIONS_H
#define IMCAST_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <roaring/roaring.h>

typedef struct session {
  uint32_t uid;
  struct session *next, *prev;  /* the account's other sessions */
  void *conn;                   /* the owner's connection */
  uint64_t sent_upto;           /* highest push Seq sent on this connection */
  uint64_t acked_upto;          /* highest Seq this connection acknowledged */
} session;

typedef struct sessions sessions;

sessions *sessions_new(void);
/* Frees the registry (not the sessions: they are the owner's). */
void sessions_free(sessions *r);

/* Links s (its uid set) in. Returns 0 or -ENOMEM. */
int sessions_add(sessions *r, session *s);
void sessions_remove(sessions *r, session *s);

/* The account's first session (follow ->next), or NULL when it is offline. */
session *sessions_of(const sessions *r, uint32_t uid);
size_t sessions_count_of(const sessions *r, uint32_t uid);
/* Accounts with at least one session. */
const roaring_bitmap_t *sessions_online(const sessions *r);
/* Open sessions in all. */
size_t sessions_total(const sessions *r);

#endif
