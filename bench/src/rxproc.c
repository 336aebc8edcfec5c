/*
** rxproc.c — the parent's side of the receiver processes (see rxproc.h): forking them,
** following their reports, collecting and merging their results.
*/
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "rx_internal.h"

#define MAX_PROCS 64
#define FDS_KEPT_FREE 200

struct rx_set {
  rx_conf conf;
  int n;
  pid_t pid[MAX_PROCS];
  int to[MAX_PROCS], from[MAX_PROCS];
  bool open_seen[MAX_PROCS], caught_seen[MAX_PROCS];
  uint32_t n_open_seen, n_caught_seen;
  uint64_t open, failed, t_all_open, t_caught_up;
  uint32_t *done;          /* per push index: processes that reported it complete */
};

int rx_write_all(int fd, const void *p, size_t n)
{
  const char *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int rx_read_all(int fd, void *p, size_t n)
{
  char *b = p;
  while (n > 0) {
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

/* As few processes as the file limit allows, unless the caller chose. */
static int process_count(const rx_conf *c)
{
  if (c->procs > 0) return c->procs > MAX_PROCS ? MAX_PROCS : c->procs;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  uint64_t per = rl.rlim_cur > (rlim_t)FDS_KEPT_FREE * 2 ? rl.rlim_cur - FDS_KEPT_FREE : 1000;
  uint64_t n = (c->total + per - 1) / per;
  return n < 1 ? 1 : n > MAX_PROCS ? MAX_PROCS : (int)n;
}

static void fork_one(rx_set *s, int i, uint32_t first, uint32_t count)
{
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) die("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    if (dup2(down[0], RX_CTL_IN) < 0 || dup2(up[1], RX_CTL_OUT) < 0) _exit(1);
    close_range(RX_CTL_OUT + 1, ~0u, 0);    /* the parent's sockets and other pipes */
    rx_child_main(&s->conf, first, count);
  }
  close(down[0]);
  close(up[1]);
  s->pid[i] = pid;
  s->to[i] = down[1];
  s->from[i] = up[0];
}

rx_set *rx_start(const rx_conf *conf)
{
  rx_set *s = xcalloc(1, sizeof *s);
  s->conf = *conf;
  s->n = process_count(conf);
  s->done = xcalloc(conf->max_pushes, sizeof *s->done);
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < s->n; i++) {
    uint32_t first = (uint32_t)((uint64_t)conf->total * (uint64_t)i / (uint64_t)s->n);
    uint32_t end = (uint32_t)((uint64_t)conf->total * (uint64_t)(i + 1) / (uint64_t)s->n);
    fork_one(s, i, first, end - first);
  }
  return s;
}

/* Applies one report of process i. */
static void apply(rx_set *s, int i, const rx_event *ev)
{
  if (ev->type == RX_EV_OPEN && !s->open_seen[i]) {
    s->open_seen[i] = true;
    s->n_open_seen++;
    s->open += ev->b;
    s->failed += ev->c;
    if (ev->d > s->t_all_open) s->t_all_open = ev->d;
  } else if (ev->type == RX_EV_PUSH_DONE && ev->a < s->conf.max_pushes) {
    s->done[ev->a]++;
  } else if (ev->type == RX_EV_CAUGHT_UP && !s->caught_seen[i]) {
    s->caught_seen[i] = true;
    s->n_caught_seen++;
    if (ev->c > s->t_caught_up) s->t_caught_up = ev->c;
  }
}

/* Reads the reports that arrive within timeout_ms. -1 when a process died. */
static int poll_reports(rx_set *s, int timeout_ms)
{
  struct pollfd p[MAX_PROCS];
  for (int i = 0; i < s->n; i++) p[i] = (struct pollfd){.fd = s->from[i], .events = POLLIN};
  int rc = poll(p, (nfds_t)s->n, timeout_ms);
  if (rc < 0 && errno != EINTR) die("poll: %s", strerror(errno));
  for (int i = 0; rc > 0 && i < s->n; i++) {
    if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    rx_event ev;
    if (rx_read_all(s->from[i], &ev, sizeof ev) != 0) {
      fprintf(stderr, "imcast-bench: receiver process %d ended early\n", (int)s->pid[i]);
      return -1;
    }
    apply(s, i, &ev);
  }
  return 0;
}

static int remaining_ms(uint64_t deadline)
{
  uint64_t now = uv_hrtime();
  return now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
}

int rx_wait_open(rx_set *s, int timeout_ms, uint64_t *open, uint64_t *failed, uint64_t *t_all_open)
{
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
  while (s->n_open_seen < (uint32_t)s->n && remaining_ms(deadline) > 0)
    if (poll_reports(s, remaining_ms(deadline)) != 0) return -1;
  *open = s->open;
  *failed = s->failed;
  *t_all_open = s->t_all_open;
  return s->n_open_seen == (uint32_t)s->n ? 0 : -1;
}

static bool pushes_done(const rx_set *s, uint32_t first, uint32_t n)
{
  for (uint32_t k = first; k < first + n && k < s->conf.max_pushes; k++)
    if (s->done[k] < (uint32_t)s->n) return false;
  return true;
}

int rx_wait_pushes(rx_set *s, uint32_t first, uint32_t n, int timeout_ms)
{
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
  while (!pushes_done(s, first, n) && remaining_ms(deadline) > 0)
    if (poll_reports(s, remaining_ms(deadline)) != 0) return -1;
  return pushes_done(s, first, n) ? 0 : -1;
}

int rx_wait_caught_up(rx_set *s, int timeout_ms)
{
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
  while (s->n_caught_seen < (uint32_t)s->n && remaining_ms(deadline) > 0)
    if (poll_reports(s, remaining_ms(deadline)) != 0) return -1;
  return s->n_caught_seen == (uint32_t)s->n ? 0 : -1;
}

/* Reads process i's final results into t (merged). -1 if it died first. */
static int collect_one(rx_set *s, int i, rx_totals *t, uint64_t *count, uint64_t *last)
{
  char cmd = RX_CMD_STATS;
  rx_event ev;
  rx_child_stats st;
  static hist h;
  if (rx_write_all(s->to[i], &cmd, 1) != 0) return -1;
  do {
    if (rx_read_all(s->from[i], &ev, sizeof ev) != 0) return -1;
  } while (ev.type != RX_EV_STATS);
  if (ev.a != t->max_pushes || rx_read_all(s->from[i], &st, sizeof st) != 0 ||
      rx_read_all(s->from[i], count, t->max_pushes * sizeof *count) != 0 ||
      rx_read_all(s->from[i], last, t->max_pushes * sizeof *last) != 0)
    return -1;
  for (uint32_t k = 0; k < t->max_pushes; k++) {
    t->count[k] += count[k];
    if (last[k] > t->last[k]) t->last[k] = last[k];
  }
  if (rx_read_all(s->from[i], &h, sizeof h) != 0) return -1;
  hist_merge(&t->latency, &h);
  if (rx_read_all(s->from[i], &h, sizeof h) != 0) return -1;
  hist_merge(&t->login, &h);
  t->open += st.open;
  t->failed += st.failed;
  t->lost += st.lost;
  t->caught_up += st.caught_up;
  if (st.t_first_start && (!t->t_first_start || st.t_first_start < t->t_first_start))
    t->t_first_start = st.t_first_start;
  if (st.t_all_open > t->t_all_open) t->t_all_open = st.t_all_open;
  if (st.t_caught_up > t->t_caught_up) t->t_caught_up = st.t_caught_up;
  if (st.rss_kib > 0) t->rss_kib += st.rss_kib;
  t->cpu_us_after_open += st.cpu_us_after_open;
  return 0;
}

void rx_finish(rx_set *s, rx_totals *t)
{
  memset(t, 0, sizeof *t);
  t->max_pushes = s->conf.max_pushes;
  t->procs = s->n;
  t->count = xcalloc(t->max_pushes, sizeof *t->count);
  t->last = xcalloc(t->max_pushes, sizeof *t->last);
  uint64_t *count = xcalloc(t->max_pushes, sizeof *count), *last = xcalloc(t->max_pushes, sizeof *last);
  for (int i = 0; i < s->n; i++) {
    if (collect_one(s, i, t, count, last) != 0)
      fprintf(stderr, "imcast-bench: no results from receiver process %d\n", (int)s->pid[i]);
    close(s->to[i]);
    close(s->from[i]);
    waitpid(s->pid[i], NULL, 0);
  }
  free(count);
  free(last);
  free(s->done);
  free(s);
}

void rx_totals_free(rx_totals *t)
{
  free(t->count);
  free(t->last);
  t->count = t->last = NULL;
}
