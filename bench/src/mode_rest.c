/*
** mode_rest.c — `imcast-bench rest`: REST throughput of imcastd measured with wrk, next to
** an nginx ceiling on the same machine.
**
** The bench prepares the accounts through the API (rest.c), then runs wrk (the Debian
** package; Lua scripts in bench/wrk/, or $IMCAST_BENCH_WRK_DIR) with the same threads,
** connections and duration for each of:
**   nginx     POST of the im_get_tag request to an nginx started here (one worker, answers
**             200 '{}' to everything): what this machine's loopback HTTP, with this wrk,
**             allows at most — the ceiling the other figures are a fraction of
**   get_tag   im_get_tag naming 10 accounts (3 tags each)                     (call.lua)
**   add_tag   im_remove_tag / im_add_tag of 1 tag on 100 accounts, each a real write
**                                                                            (tag_write.lua)
**   push      im_push, MsgLifeTime --lifetime (0), a unique MsgRandom per request, no
**             Condition: the audience is every account of the server, none online (push.lua)
** The admin's UserSig goes in each request's query string, as any REST client sends it.
** Prints one `mode=rest` line (requests/s, p50/p99 in ms, fraction of the ceiling) and '#'
** summary lines. wrk's own output goes to stderr; its Lua done() hook prints the line parsed
** here (bench/wrk/report.lua).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rest.h"

#ifndef IMCAST_BENCH_WRK_DIR
#define IMCAST_BENCH_WRK_DIR "bench/wrk"
#endif

#define SETUP_WINDOW 8
#define GET_TAG_ACCOUNTS 10
#define WRITE_ACCOUNTS 100     /* per wrk thread (tag_write.lua) */
#define MAX_TAGS_PER_CALL 10   /* im_add_tag: tags per user per request */

extern char **environ;

typedef struct wrk_result {
  bool ok;
  double requests, rps, p50_ms, p99_ms, max_ms, bad;
} wrk_result;

static const char *wrk_dir(void)
{
  const char *d = getenv("IMCAST_BENCH_WRK_DIR");
  return d && *d ? d : IMCAST_BENCH_WRK_DIR;
}

/* The number after " key=" in a line; NAN when absent. */
static double field(const char *line, const char *key)
{
  char k[64];
  snprintf(k, sizeof k, " %s=", key);
  const char *p = strstr(line, k);
  return p ? strtod(p + strlen(k), NULL) : NAN;
}

/* Starts argv[0] (looked up in PATH) with extra "K=V" environment entries, its stdout into
** *out_fd when out_fd is given, else to stderr. The child's pid, or -1. */
static pid_t spawn(char *const argv[], char *const extra_env[], int *out_fd)
{
  size_t n_env = 0, n_extra = 0;
  while (environ[n_env]) n_env++;
  while (extra_env && extra_env[n_extra]) n_extra++;
  char **env = xcalloc(n_env + n_extra + 1, sizeof *env);
  if (n_extra) memcpy(env, extra_env, n_extra * sizeof *env);
  memcpy(env + n_extra, environ, n_env * sizeof *env);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int p[2] = {-1, -1};
  if (out_fd) {
    if (pipe2(p, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  free(env);
  if (out_fd) {
    close(p[1]);
    *out_fd = p[0];
  }
  if (rc != 0) {
    fprintf(stderr, "imcast-bench: cannot run %s: %s\n", argv[0], strerror(rc));
    if (out_fd) close(p[0]);
    return -1;
  }
  return pid;
}

/* Runs wrk with one script against base_url; env: the script's "K=V" settings. */
static wrk_result run_wrk(const bench_opts *o, const char *what, const char *base_url,
                          const char *script, char *const env[])
{
  wrk_result res = {0};
  char t[16], c[16], d[16], path[1024];
  snprintf(t, sizeof t, "-t%u", o->threads);
  snprintf(c, sizeof c, "-c%u", o->connections);
  snprintf(d, sizeof d, "-d%us", o->seconds);
  snprintf(path, sizeof path, "%s/%s", wrk_dir(), script);
  if (access(path, R_OK) != 0) die("no wrk script %s (set $IMCAST_BENCH_WRK_DIR)", path);
  char *argv[] = {"wrk", t, c, d, "--timeout", "10s", "-s", path, (char *)base_url, NULL};
  int fd;
  fprintf(stderr, "imcast-bench: wrk %s %s %s -s %s %s  (%s)\n", t, c, d, path, base_url, what);
  pid_t pid = spawn(argv, env, &fd);
  if (pid < 0) return res;
  size_t len = 0, cap = 65536;
  char *out = xmalloc(cap);
  ssize_t n;
  for (;;) {
    if (len + 1 == cap) {
      char *grown = realloc(out, cap *= 2);
      if (!grown) die("out of memory");
      out = grown;
    }
    n = read(fd, out + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  out[len] = '\0';
  close(fd);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  fputs(out, stderr);   /* wrk's own report, for the log */
  const char *line = strstr(out, "imcast-wrk ");
  if (!line || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "imcast-bench: wrk (%s) failed\n", what);
    free(out);
    return res;
  }
  res.ok = true;
  res.requests = field(line, "requests");
  res.rps = field(line, "rps");
  res.p50_ms = field(line, "p50_us") / 1000;
  res.p99_ms = field(line, "p99_us") / 1000;
  res.max_ms = field(line, "max_us") / 1000;
  res.bad = field(line, "bad_answers") + field(line, "connect_errors") +
            field(line, "read_errors") + field(line, "write_errors") + field(line, "timeouts");
  free(out);
  return res;
}

/* ------------------------------------------------------------------ the nginx ceiling */

typedef struct nginx {
  pid_t pid;
  int port;
  char dir[64];
} nginx;

/* nginx in PATH, else Debian's /usr/sbin/nginx (not in a user's PATH); $IMCAST_BENCH_NGINX
** overrides. NULL when there is none. */
static const char *nginx_binary(void)
{
  static char found[1024];
  const char *env = getenv("IMCAST_BENCH_NGINX");
  if (env && *env) return env;
  const char *path = getenv("PATH");
  char *copy = strdup(path ? path : "");
  for (char *save, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    snprintf(found, sizeof found, "%s/nginx", dir);
    if (access(found, X_OK) == 0) {
      free(copy);
      return found;
    }
  }
  free(copy);
  return access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : NULL;
}

static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
    die("cannot find a free port: %s", strerror(errno));
  close(fd);
  return ntohs(a.sin_port);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}

/* One worker like imcastd's one loop, no access log, keep-alive as long as imcastd's; every
** path it writes (pid, error log, temp folders) is in a fresh temp folder, so it runs as
** root or not without touching /etc or /var. 0, or -1 when it did not start. */
static int nginx_start(nginx *n, const char *bin)
{
  snprintf(n->dir, sizeof n->dir, "/tmp/imcast-bench-nginx-XXXXXX");
  if (!mkdtemp(n->dir)) die("mkdtemp: %s", strerror(errno));
  n->port = free_port();
  char conf[128], errlog[128];
  snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
  snprintf(errlog, sizeof errlog, "%s/error.log", n->dir);
  FILE *f = fopen(conf, "w");
  if (!f) die("cannot write %s", conf);
  const char *d = n->dir;
  fprintf(f,
          "daemon off;\nmaster_process off;\nworker_processes 1;\n"
          "pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
          "events { worker_connections 4096; }\n"
          "http {\n"
          "  access_log off;\n  default_type application/json;\n"
          "  keepalive_requests 1000000000;\n  keepalive_timeout 75s;\n"
          "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
          "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
          "  scgi_temp_path %s/scgi;\n"
          "  server {\n    listen 127.0.0.1:%d;\n"
          "    location / { return 200 '{}'; }\n  }\n}\n",
          d, d, d, d, d, d, d, n->port);
  fclose(f);
  char *argv[] = {(char *)bin, "-p", n->dir, "-c", conf, "-e", errlog, NULL};
  n->pid = spawn(argv, NULL, NULL);
  if (n->pid < 0) return -1;
  for (int i = 0; i < 100; i++) {    /* up to 5 s */
    bconn c;
    int status;
    if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
      fprintf(stderr, "imcast-bench: nginx exited (see %s)\n", errlog);
      n->pid = -1;
      return -1;
    }
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);       /* bconn_open reports each refused connect */
    int rc = bconn_open(&c, "127.0.0.1", n->port);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(null);
    if (rc == 0) {
      bconn_close(&c);
      return 0;
    }
    sleep_ms(50);
  }
  fprintf(stderr, "imcast-bench: nginx did not listen on %d\n", n->port);
  return -1;
}

static void nginx_stop(nginx *n)
{
  if (n->pid > 0) {
    kill(n->pid, SIGTERM);
    while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  nftw(n->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------ setup */

/* GET path from imcastd; the body (malloc'ed, NUL-terminated) or NULL. */
static char *http_get(const bench_opts *o, const char *path)
{
  bconn c;
  if (bconn_open(&c, o->host, o->port) != 0) return NULL;
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, o->host,
                   o->port);
  char *body = NULL;
  if (bconn_write2(&c, req, (size_t)n, NULL, 0) != 0) goto out;
  const char *end;
  while (!(end = memmem(c.buf + c.off, c.len - c.off, "\r\n\r\n", 4)))
    if (bconn_fill(&c, 10000) != 0) goto out;
  const char *cl = strcasestr(c.buf + c.off, "\r\nContent-Length:");
  if (!cl || cl > end) goto out;
  size_t head = (size_t)(end + 4 - (c.buf + c.off)), len = strtoul(cl + 17, NULL, 10);
  while (c.len - c.off < head + len)
    if (bconn_fill(&c, 10000) != 0) goto out;
  body = xmalloc(len + 1);
  memcpy(body, c.buf + c.off + head, len);
  body[len] = '\0';
out:
  bconn_close(&c);
  return body;
}

/* A counter of /metrics (e.g. imcast_pushes_total); -1 when unknown. */
static double metric(const bench_opts *o, const char *name)
{
  char *text = http_get(o, "/metrics");
  double v = -1;
  size_t nlen = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (!strncmp(p, name, nlen) && p[nlen] == ' ') {
      v = strtod(p + nlen + 1, NULL);
      break;
    }
  free(text);
  return v;
}

static int call_ok(rest *r, const char *path, const char *body, size_t len)
{
  return rest_call(r, path, body, len, NULL, NULL) == 0 ? 0 : -1;
}

/* The writers' accounts: every thread's 100 lose all their tags, then get ring slots
** 0 .. half-1 (see tag_write.lua). */
static int prepare_writers(rest *r, const char *prefix, const char *tag_prefix, uint32_t threads,
                           uint32_t half)
{
  static char body[WRITE_ACCOUNTS * (64 + MAX_TAGS_PER_CALL * 24) + 64];
  for (uint32_t t = 0; t < threads; t++) {
    size_t len = (size_t)snprintf(body, sizeof body, "{\"To_Account\":[");
    for (uint32_t i = 0; i < WRITE_ACCOUNTS; i++) {
      char id[64];
      account_name(prefix, t * WRITE_ACCOUNTS + i, id, sizeof id);
      len += (size_t)snprintf(body + len, sizeof body - len, "%s\"%s\"", i ? "," : "", id);
    }
    len += (size_t)snprintf(body + len, sizeof body - len, "]}");
    if (call_ok(r, "all_member_push/im_remove_all_tags", body, len) != 0) return -1;
    for (uint32_t first = 0; first < half; first += MAX_TAGS_PER_CALL) {
      len = (size_t)snprintf(body, sizeof body, "{\"UserTags\":[");
      for (uint32_t i = 0; i < WRITE_ACCOUNTS; i++) {
        char id[64];
        account_name(prefix, t * WRITE_ACCOUNTS + i, id, sizeof id);
        len += (size_t)snprintf(body + len, sizeof body - len, "%s{\"To_Account\":\"%s\",\"Tags\":[",
                                i ? "," : "", id);
        for (uint32_t s = first; s < half && s < first + MAX_TAGS_PER_CALL; s++)
          len += (size_t)snprintf(body + len, sizeof body - len, "%s\"%s%u\"", s > first ? "," : "",
                                  tag_prefix, s);
        len += (size_t)snprintf(body + len, sizeof body - len, "]}");
      }
      len += (size_t)snprintf(body + len, sizeof body - len, "]}");
      if (call_ok(r, "all_member_push/im_add_tag", body, len) != 0) return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ the mode */

static double of(const wrk_result *w, const wrk_result *ceiling)
{
  return w->ok && ceiling->ok && ceiling->rps > 0 ? w->rps / ceiling->rps : NAN;
}

static void summary_line(const char *name, const wrk_result *w, const wrk_result *ceiling)
{
  if (!w->ok) {
    printf("#   %-44s failed (see stderr)\n", name);
    return;
  }
  printf("#   %-44s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  max %7.1f ms", name, w->rps,
         w->p50_ms, w->p99_ms, w->max_ms);
  if (w != ceiling && ceiling->ok) printf("  %5.1f %% of nginx", 100 * of(w, ceiling));
  if (w->bad > 0) printf("  (%.0f bad answers or errors)", w->bad);
  printf("\n");
}

int mode_rest(const bench_opts *o)
{
  if (o->target != TARGET_IMCAST) die("rest needs --target imcast");
  uint32_t threads = o->threads ? o->threads : 2, conns = o->connections ? o->connections : 32;
  if (conns < threads) die("--connections must be at least --threads");
  bench_opts w = *o;
  w.threads = threads;
  w.connections = conns;
  w.seconds = o->seconds ? o->seconds : 10;
  uint32_t per_thread = (conns + threads - 1) / threads;
  uint32_t half = 2 * per_thread < 8 ? 8 : 2 * per_thread > 90 ? 90 : 2 * per_thread;
  if (2 * half <= 2 * per_thread)
    fprintf(stderr, "imcast-bench: %u connections per wrk thread: some im_add_tag/im_remove_tag "
                    "may find their tag already there / gone\n", per_thread);

  char get_prefix[64], write_prefix[64], tag_prefix[64];
  snprintf(get_prefix, sizeof get_prefix, "%srg", o->prefix);
  snprintf(write_prefix, sizeof write_prefix, "%srw", o->prefix);
  snprintf(tag_prefix, sizeof tag_prefix, "%srwt", o->prefix);
  rest r;
  if (rest_open(&r, o) != 0) return 1;
  uint64_t t0 = now_ns();
  if (rest_import(&r, get_prefix, 0, 100, 3, SETUP_WINDOW) != 0 ||
      rest_import(&r, write_prefix, 0, threads * WRITE_ACCOUNTS, 0, SETUP_WINDOW) != 0 ||
      prepare_writers(&r, write_prefix, tag_prefix, threads, half) != 0) {
    rest_close(&r);
    return 1;
  }
  char base_url[128], qs[sizeof r.query + 16], path_get[sizeof qs + 64], path_add[sizeof qs + 64],
      path_push[sizeof qs + 64];
  snprintf(base_url, sizeof base_url, "http://%s:%d", o->host, o->port);
  snprintf(qs, sizeof qs, "%s&random=%u", r.query, rand32());
  snprintf(path_get, sizeof path_get, "/v4/all_member_push/im_get_tag?%s", qs);
  snprintf(path_add, sizeof path_add, "/v4/all_member_push/im_add_tag?%s", qs);
  snprintf(path_push, sizeof path_push, "/v4/all_member_push/im_push?%s", qs);
  rest_close(&r);

  char get_body[GET_TAG_ACCOUNTS * 40 + 32];
  size_t len = (size_t)snprintf(get_body, sizeof get_body, "{\"To_Account\":[");
  for (uint32_t i = 0; i < GET_TAG_ACCOUNTS; i++) {
    char id[64];
    account_name(get_prefix, i, id, sizeof id);
    len += (size_t)snprintf(get_body + len, sizeof get_body - len, "%s\"%s\"", i ? "," : "", id);
  }
  snprintf(get_body + len, sizeof get_body - len, "]}");
  bench_opts po = *o;
  po.tags = 0;                          /* no Condition: every account */
  char push[70000];
  push_body(push, sizeof push, &po, 0, 0, o->lifetime);
  char *audience = http_get(o, "/healthz");
  double accounts = audience && strstr(audience, "\"accounts\":")
                        ? strtod(strstr(audience, "\"accounts\":") + 11, NULL) : -1;
  free(audience);
  fprintf(stderr, "imcast-bench: prepared 100 + %u accounts in %.1f s; the server holds %.0f\n",
          threads * WRITE_ACCOUNTS, ms_between(t0, now_ns()) / 1000, accounts);

  /* Environment entries of the scripts. */
  char e_get_path[sizeof path_get + 16], e_get_body[sizeof get_body + 16],
      e_add_path[sizeof path_add + 16], e_push_path[sizeof path_push + 16], e_acc[96],
      e_tag[96], e_ring[48], e_base[48], e_threads[48];
  char *e_push_body = xmalloc(sizeof push + 16);
  snprintf(e_get_path, sizeof e_get_path, "IMCAST_PATH=%s", path_get);
  snprintf(e_get_body, sizeof e_get_body, "IMCAST_BODY=%s", get_body);
  snprintf(e_add_path, sizeof e_add_path, "IMCAST_PATH=%s", path_add);
  snprintf(e_push_path, sizeof e_push_path, "IMCAST_PATH=%s", path_push);
  snprintf(e_push_body, sizeof push + 16, "IMCAST_BODY=%s", push);
  snprintf(e_acc, sizeof e_acc, "IMCAST_ACCOUNT_PREFIX=%s", write_prefix);
  snprintf(e_tag, sizeof e_tag, "IMCAST_TAG_PREFIX=%s", tag_prefix);
  snprintf(e_ring, sizeof e_ring, "IMCAST_RING=%u", 2 * half);
  snprintf(e_base, sizeof e_base, "IMCAST_RANDOM_BASE=%u", rand32());
  snprintf(e_threads, sizeof e_threads, "IMCAST_THREADS=%u", threads);

  /* The ceiling: the same im_get_tag request, answered '{}' by nginx. */
  wrk_result ceiling = {0};
  const char *bin = nginx_binary();
  if (!bin) {
    fprintf(stderr, "imcast-bench: no nginx (apt-get install nginx-light): no ceiling\n");
  } else {
    nginx n;
    if (nginx_start(&n, bin) == 0) {
      char url[64];
      snprintf(url, sizeof url, "http://127.0.0.1:%d", n.port);
      char *env[] = {e_get_path, e_get_body, "IMCAST_EXPECT={}", NULL};
      ceiling = run_wrk(&w, "nginx ceiling", url, "call.lua", env);
    }
    nginx_stop(&n);
  }
  char *env_get[] = {e_get_path, e_get_body, NULL};
  wrk_result get = run_wrk(&w, "im_get_tag", base_url, "call.lua", env_get);
  char *env_add[] = {e_add_path, e_acc, e_tag, e_ring, NULL};
  wrk_result add = run_wrk(&w, "im_add_tag/im_remove_tag", base_url, "tag_write.lua", env_add);
  double pushes0 = metric(o, "imcast_pushes_total"), retries0 = metric(o, "imcast_push_retries_total");
  char *env_push[] = {e_push_path, e_push_body, e_base, e_threads, NULL};
  wrk_result pu = run_wrk(&w, "im_push", base_url, "push.lua", env_push);
  double pushes = metric(o, "imcast_pushes_total") - pushes0;
  double retries = metric(o, "imcast_push_retries_total") - retries0;
  free(e_push_body);

  printf("mode=rest target=imcast seconds=%u threads=%u connections=%u accounts=%.0f lifetime=%u "
         "nginx_rps=%.0f nginx_p50_ms=%.3f nginx_p99_ms=%.3f "
         "get_tag_rps=%.0f get_tag_p50_ms=%.3f get_tag_p99_ms=%.3f get_tag_of_nginx=%.4f "
         "add_tag_rps=%.0f add_tag_p50_ms=%.3f add_tag_p99_ms=%.3f add_tag_of_nginx=%.4f "
         "push_rps=%.0f push_p50_ms=%.3f push_p99_ms=%.3f push_of_nginx=%.4f "
         "pushes_accepted=%.0f push_retries=%.0f bad=%.0f\n",
         w.seconds, threads, conns, accounts, o->lifetime,
         ceiling.ok ? ceiling.rps : -1, ceiling.ok ? ceiling.p50_ms : -1,
         ceiling.ok ? ceiling.p99_ms : -1,
         get.ok ? get.rps : -1, get.ok ? get.p50_ms : -1, get.ok ? get.p99_ms : -1,
         ceiling.ok && get.ok ? of(&get, &ceiling) : -1,
         add.ok ? add.rps : -1, add.ok ? add.p50_ms : -1, add.ok ? add.p99_ms : -1,
         ceiling.ok && add.ok ? of(&add, &ceiling) : -1,
         pu.ok ? pu.rps : -1, pu.ok ? pu.p50_ms : -1, pu.ok ? pu.p99_ms : -1,
         ceiling.ok && pu.ok ? of(&pu, &ceiling) : -1,
         pushes, retries, get.bad + add.bad + pu.bad);
  printf("# wrk -t%u -c%u, %u s each, one after the other, against %s:\n", threads, conns,
         w.seconds, base_url);
  summary_line("nginx return 200 '{}' (the ceiling)", &ceiling, &ceiling);
  summary_line("im_get_tag, 10 accounts", &get, &ceiling);
  summary_line("im_add_tag/im_remove_tag, 100 accounts x 1", &add, &ceiling);
  summary_line("im_push, no Condition, nobody online", &pu, &ceiling);
  printf("# im_push: MsgLifeTime %u, audience every account (%.0f, none online); the server "
         "counted %.0f pushes and %.0f retries for %.0f answers\n",
         o->lifetime, accounts, pushes, retries, pu.ok ? pu.requests : 0);
  return get.ok && add.ok && pu.ok ? 0 : 1;
}
