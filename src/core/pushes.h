/*
** pushes.h — the live pushes: each push is ONE record shared by its whole audience.
**
** A push holds its message (the JSON of the receiver's Msg event, built once), its Seq,
** TaskId, sender, MsgRandom, times, the audience bitmap fixed at push time and the
** delivered bitmap of accounts that acknowledged it. Never one row or one allocation per
** receiver: a push to 10M accounts costs about what a push to 10 costs.
**
** The registry answers what the receiver side needs:
**   - catch-up at login: live pushes (now < expires_at, not revoked) whose audience holds
**     uid and whose delivered does not, in Seq order;
**   - acks: an account acknowledged every Seq <= n (sets delivered bits);
**   - retries: (sender, MsgRandom) seen within 7 days -> the first TaskId;
**   - expiry: pushes past their lifetime are dropped (the owner also drops them from the
**     store);
**   - reports: audience, delivered and pending counts.
** Pushes with MsgLifeTime 0 are never stored: the registry only remembers their
** (sender, MsgRandom) for retries.
**
** Ownership: the registry owns its pushes; pointers returned are valid until the push is
** removed (expiry, revoke) or the registry is freed. Threads: one owner (the core loop).
*/
#ifndef IMCAST_PUSHES_H
#define IMCAST_PUSHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <roaring/roaring.h>

#define PUSH_RETRY_WINDOW_S ((int64_t)7 * 86400)
#define PUSH_TASK_ID_MAX 64

typedef enum push_state {
  PUSH_FANNING_OUT,   /* accepted; live delivery under way */
  PUSH_DONE,          /* live delivery finished; waits for offline accounts until expiry */
  PUSH_EXPIRED,
  PUSH_REVOKED,
} push_state;

typedef struct push {
  uint64_t seq;
  char task_id[PUSH_TASK_ID_MAX];
  uint32_t msg_random;
  char *sender;                  /* From_Account as receivers see it */
  int64_t created_at;            /* unix seconds */
  int64_t expires_at;            /* created_at + MsgLifeTime */
  int64_t fanout_done_at;        /* 0 until live delivery finished */
  char *msg_json;                /* the Msg event without To_Account; NUL-terminated */
  size_t msg_len;
  roaring_bitmap_t *audience;    /* fixed at push time */
  roaring_bitmap_t *delivered;   /* accounts that acknowledged it */
  uint64_t online_at_push;       /* audience accounts online when it was pushed */
  push_state state;
  bool delivered_dirty;          /* delivered changed since last saved */
  void *frame;                   /* owner's cache of the encoded frame (e.g. a net_buf) */
} push;

typedef struct push_registry push_registry;

push_registry *push_registry_new(void);
/* Frees every push (calling free_frame on each non-NULL frame, if given). */
void push_registry_free(push_registry *r, void (*free_frame)(void *frame));

/* The next Seq to give out (one more than every Seq ever given, stored or not). */
uint64_t push_registry_next_seq(const push_registry *r);
/* Raises the next Seq to at least `seq` (on load). */
void push_registry_bump_seq(push_registry *r, uint64_t seq);

/* Makes TaskId text: hex(time)_hex(sdkappid)_hex(seq)_hex(msg_random). */
void push_make_task_id(char out[PUSH_TASK_ID_MAX], int64_t time, uint64_t sdkappid,
                       uint64_t seq, uint32_t msg_random);

/* Adds a stored push. The registry takes ownership of p (allocated with malloc, strings
** and bitmaps too); a NULL bitmap becomes an empty one, and both are run-optimised. Seqs
** must be added in increasing order. Returns 0, -EINVAL (Seq not above every held push's,
** or empty task_id), -EEXIST (TaskId already held) or -ENOMEM; on failure the caller keeps
** p and the registry is unchanged. */
int push_registry_add(push_registry *r, push *p);

/* Finds a live (or just expired, not yet swept) push. NULL if unknown. */
push *push_registry_find_seq(const push_registry *r, uint64_t seq);
push *push_registry_find_task(const push_registry *r, const char *task_id);

/* Retries: remembers that (sender, msg_random) made task_id at `when`. */
int push_registry_remember(push_registry *r, const char *sender, uint32_t msg_random,
                           const char *task_id, int64_t when);
/* The TaskId of (sender, msg_random) if seen within PUSH_RETRY_WINDOW_S of now, else NULL. */
const char *push_registry_seen(const push_registry *r, const char *sender,
                               uint32_t msg_random, int64_t now);

/* Calls fn for each live push (now < expires_at, state not REVOKED/EXPIRED) whose audience
** holds uid and whose delivered does not, in increasing Seq. fn returning non-zero stops. */
void push_registry_pending(const push_registry *r, uint32_t uid, int64_t now,
                           int (*fn)(push *p, void *ctx), void *ctx);

/* uid acknowledged every Seq <= upto: sets its delivered bit on each push with
** seq > after and seq <= upto that is not revoked or expired (by state; there is no clock
** here) and whose audience holds uid, marking it delivered_dirty. Returns how many bits
** were new (0 for a repeated ack). */
size_t push_registry_ack(push_registry *r, uint32_t uid, uint64_t after, uint64_t upto);

/* Removes uid from every push's audience and delivered (account deleted); sets
** delivered_dirty where delivered changed. The audience change is in memory only: uids
** are never reused, so a stored audience that still holds uid is harmless, and a loader
** that wants exact report figures intersects it with the accounts that exist. */
void push_registry_forget_account(push_registry *r, uint32_t uid);

/* Removes and returns, one per call, a push that is expired at `now` (now >= expires_at,
** or state PUSH_EXPIRED; state set to PUSH_EXPIRED unless it is PUSH_REVOKED), or NULL
** when none is. The caller frees it with push_free(). */
push *push_registry_take_expired(push_registry *r, int64_t now);
/* Removes a push (revoke); the caller frees it with push_free(). */
void push_registry_remove(push_registry *r, push *p);
/* Forgets retry records older than the window. */
void push_registry_sweep_retries(push_registry *r, int64_t now);

/* Calls fn for every stored push with delivered_dirty set, in Seq order, and clears the
** flag when fn returns 0; non-zero keeps the flag and stops the walk (a failed save is
** retried by the next flush). For batched saving of delivered bitmaps. fn (like pending's)
** must not add or remove pushes. */
void push_registry_each_dirty(push_registry *r, int (*fn)(push *p, void *ctx), void *ctx);

size_t push_registry_count(const push_registry *r);
/* The earliest expires_at among the pushes held (it may be in the past: take_expired then
** has work), or INT64_MAX when none is held. For the expiry timer. */
int64_t push_registry_next_expiry(const push_registry *r);

void push_free(push *p, void (*free_frame)(void *frame));

/* Report figures. */
uint64_t push_audience_count(const push *p);
uint64_t push_delivered_count(const push *p);

#endif
