/*
** bench.h — imcast-bench: shared options, the result line, and small helpers.
**
** imcast-bench is the load generator of docs/BENCHMARKS.md. It drives imcastd (REST +
** WebSocket receivers) or redis-server (PUBLISH + SUBSCRIBE) with the same client code,
** so the two can be compared in the same run on the same machine:
**
**   fanout       N receivers, K pushes in bursts of B: push->receiver latency, deliveries/s
**   login-storm  N offline accounts with P pending pushes log in at once: logins/s
**   idle         N idle receivers: the server's RSS growth per connection
**   load         bulk-import N accounts, then time im_push to all of them (offline)
**   rest         REST requests/s and p99 with wrk (im_get_tag, im_add_tag, im_push) and the
**                same wrk against an nginx answering '{}' (the machine's HTTP ceiling)
**
** Every mode prints one machine-readable line (`mode=... key=value ...`) and a short human
** summary. Times are taken with uv_hrtime() (CLOCK_MONOTONIC), comparable across the
** receiver processes forked by rxproc.c.
*/
#ifndef IMCAST_BENCH_H
#define IMCAST_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TARGET_IMCAST, TARGET_REDIS } bench_target;

typedef struct bench_opts {
  const char *mode;
  bench_target target;
  char host[64];            /* imcastd, from --url */
  int port;
  char redis_host[64];      /* from --redis */
  int redis_port;
  const char *key;          /* --key, else $IMCAST_KEY */
  uint64_t sdkappid;
  const char *admin;
  const char *prefix;       /* account names: prefix + index */
  const char *channel;      /* Redis channel */
  uint32_t receivers;       /* fanout, idle */
  uint32_t accounts;        /* login-storm, load */
  uint32_t pushes;          /* fanout: K; load: pushes timed after the load */
  uint32_t burst;           /* pushes written back to back */
  uint32_t pending;         /* login-storm: pushes waiting for each account */
  uint32_t payload;         /* bytes of the TIMCustomElem Data string */
  uint32_t tags;            /* tag every account with this many tags; pushes use TagsAnd */
  uint32_t lifetime;        /* MsgLifeTime of fanout pushes */
  int procs;                /* receiver processes (0: as few as the fd limit allows) */
  int src_addrs;            /* receivers bind 127.0.0.1 .. 127.0.0.<src_addrs> */
  int window;               /* connects in flight per receiver process */
  int pid;                  /* server pid for RSS (idle, load) */
  int timeout_ms;           /* longest wait for one push's deliveries */
  int gap_ms;               /* pause between bursts */
  int ping_ms;              /* receivers ping when silent this long */
  bool no_ack;              /* receivers do not Ack (imcast) */
  int ack_delay_ms;         /* a receiver Acks this long after its first unacked Msg (0: each loop turn) */
  uint32_t run;             /* random id of this run, carried in every payload */
  uint32_t seconds, connections, threads;   /* rest: wrk's -d, -c, -t (10, 32, 2) */
} bench_opts;

/* Modes (mode_*.c). Each returns the process exit status. */
int mode_fanout(const bench_opts *o);
int mode_login_storm(const bench_opts *o);
int mode_idle(const bench_opts *o);
int mode_load(const bench_opts *o);
int mode_rest(const bench_opts *o);
int mode_audience(const bench_opts *o, bool use_redis);   /* mode_audience.c */

/* util.c */
uint64_t now_ns(void);                        /* uv_hrtime() */
double ms_between(uint64_t from_ns, uint64_t to_ns);
void sleep_ms(int ms);
long rss_kib(int pid);                        /* VmRSS of a process, -1 if unknown */
/* CPU time a process has used, user and system, in ms; -1 if unknown. */
int cpu_ms(int pid, double *user_ms, double *sys_ms);
int parse_host_port(const char *text, char *host, size_t hostlen, int *port);
double median_d(double *v, size_t n);         /* sorts v; NAN when n == 0 */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
uint32_t rand32(void);
/* Account name of index i: prefix + zero-padded index (fits a 32-byte UserID). */
void account_name(const char *prefix, uint32_t i, char *out, size_t outlen);
/* The tag names used by --tags: prefix + "t" + j. */
void tag_name(const char *prefix, uint32_t j, char *out, size_t outlen);

/* Builds the push payload (the Data string): "@imcb:<run>:<index>:<send ns>:" padded with
** 'x' to `size` bytes (at least the marker). Receivers find the marker to time arrival;
** the run id keeps pushes of other runs (stored, caught up at login) out of the count. */
size_t payload_make(char *out, size_t cap, uint32_t run, uint32_t index, uint64_t sent_ns,
                    uint32_t size);
/* Finds the marker of run `run` in a received message; false when absent. */
bool payload_find(const char *msg, size_t len, uint32_t run, uint32_t *index, uint64_t *sent_ns);

#define PAYLOAD_MARK "@imcb:"

#endif
