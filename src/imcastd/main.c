/*
** main.c — imcastd: reads its settings, opens the data folder, serves until SIGTERM.
**
** Start-up checks everything it can before it writes anything (flags, config file, TLS
** certificate), then makes the data folder and key if needed, opens the store, rebuilds
** the index and listens. Any problem before listening: one line on stderr, exit 2.
** For each listener stdout gets exactly one line "imcastd listening on http(s)://H:P".
** SIGTERM/SIGINT: stop accepting, answer what is in flight, commit, close, exit 0.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <openssl/rand.h>

#include "api/api.h"
#include "common/config.h"
#include "common/log.h"
#include "common/usersig.h"
#include "net/http.h"
#include "store/store.h"

#define EXIT_SETUP 2

typedef struct daemon_state {
  config cfg;
  uv_loop_t *loop;
  http_server *http;
  api *api;
  store *st;
  uv_check_t end_of_turn;
  uv_signal_t sigterm, sigint, sighup;
  int stopping;
} daemon_state;

static void die_setup(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_setup(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("imcastd: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_SETUP);
}

/* ------------------------------------------------------------------ data folder and key */

static void ensure_data_dir(const char *dir)
{
  struct stat st;
  if (stat(dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) die_setup("--data: '%s' is not a folder", dir);
  } else if (errno != ENOENT || mkdir(dir, 0700) != 0) {
    die_setup("--data: cannot create '%s': %s", dir, strerror(errno));
  }
  if (access(dir, R_OK | W_OK | X_OK) != 0)
    die_setup("--data: '%s' is not writable: %s", dir, strerror(errno));
}

/* Reads DIR/secret.key, or makes it (32 random bytes as hex, mode 0600) the first time. */
static void load_or_make_key(const char *dir, char *key, size_t keylen)
{
  char path[1200];
  snprintf(path, sizeof path, "%s/secret.key", dir);
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(key, (int)keylen, f)) key[0] = '\0';
    fclose(f);
    key[strcspn(key, "\r\n")] = '\0';
    if (!key[0]) die_setup("key file '%s' is empty", path);
    return;
  }
  if (errno != ENOENT) die_setup("cannot read key file '%s': %s", path, strerror(errno));

  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) die_setup("cannot make a random key");
  for (size_t i = 0; i < sizeof raw; i++) snprintf(key + 2 * i, 3, "%02x", raw[i]);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) die_setup("cannot create key file '%s': %s", path, strerror(errno));
  size_t len = strlen(key);
  if (write(fd, key, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
    die_setup("cannot write key file '%s': %s", path, strerror(errno));
  close(fd);
  log_info("made a new secret key in %s (mode 0600)", path);
}

static void resolve_key(config *cfg)
{
  if (cfg->key[0]) return;
  const char *env = getenv("IMCAST_KEY");
  if (env && *env) {
    size_t len = strlen(env);
    if (len >= sizeof cfg->key) die_setup("IMCAST_KEY is longer than 255 bytes");
    memcpy(cfg->key, env, len + 1);
    return;
  }
  ensure_data_dir(cfg->data_dir);
  load_or_make_key(cfg->data_dir, cfg->key, sizeof cfg->key);
}

static int print_usersig(config *cfg)
{
  resolve_key(cfg);
  char sig[1024];
  if (usersig_gen(cfg->key, cfg->sdkappid, cfg->usersig_user, (int64_t)time(NULL),
                  cfg->usersig_expire, sig, sizeof sig) < 0)
    die_setup("usersig: cannot make a UserSig for '%s'", cfg->usersig_user);
  printf("%s\n", sig);
  return 0;
}

/* ------------------------------------------------------------------ the loop */

/* Once per loop turn: commit what the turn changed, then answer everyone in one write each. */
static void on_end_of_turn(uv_check_t *h)
{
  daemon_state *d = h->data;
  api_end_of_turn(d->api);
  http_server_flush(d->http);
  api_after_flush(d->api);
}

static void close_handle(uv_handle_t *h, void *arg)
{
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_drained(void *ctx)
{
  daemon_state *d = ctx;
  api_end_of_turn(d->api);
  http_server_flush(d->http);
  uv_check_stop(&d->end_of_turn);
  uv_signal_stop(&d->sigterm);
  uv_signal_stop(&d->sigint);
  uv_close((uv_handle_t *)&d->end_of_turn, NULL);
  uv_signal_stop(&d->sighup);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
  daemon_state *d = h->data;
  if (d->stopping++) {
    log_warn("second signal: exiting now");
    api_end_of_turn(d->api);
    store_close(d->st);
    _exit(0);
  }
  log_info("signal %d: stopping", signum);
  api_close_receivers(d->api);
  http_server_shutdown(d->http, on_drained, d);
}

/* Sends stderr (the log) to --log-file, appending. Returns 0 or -errno. */
static int open_log_file(const char *path)
{
  if (!path[0]) return 0;
  if (!freopen(path, "a", stderr)) return -errno;
  setvbuf(stderr, NULL, _IOLBF, 0);   /* a reopened stream is fully buffered by default */
  return 0;
}

/* SIGHUP: reopen the log file (after rotation) and reload the TLS certificate. */
static void on_sighup(uv_signal_t *h, int signum)
{
  daemon_state *d = h->data;
  if (open_log_file(d->cfg.log_file) != 0) {
    if (!freopen("/dev/null", "a", stderr)) { /* stderr stays closed: nowhere left to log */ }
    return;
  }
  log_info("SIGHUP: log reopened");
  if (d->cfg.tls_port < 0) return;
  char err[512];
  SSL_CTX *tls = http_tls_context(d->cfg.tls_cert, d->cfg.tls_key, err, sizeof err);
  if (!tls) {
    log_error("SIGHUP: TLS certificate not reloaded, the old one stays: %s", err);
    return;
  }
  http_server_replace_tls(d->http, tls);
  SSL_CTX_free(tls);
  log_info("SIGHUP: TLS certificate reloaded from %s", d->cfg.tls_cert);
}

static void listen_or_die(daemon_state *d, const char *host, int port, SSL_CTX *tls)
{
  int bound = 0;
  int rc = http_server_listen(d->http, host, port, tls, &bound);
  if (rc != 0) die_setup("cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
  const char *fmt = strchr(host, ':') ? "imcastd listening on %s://[%s]:%d\n"
                                      : "imcastd listening on %s://%s:%d\n";
  printf(fmt, tls ? "https" : "http", host, bound);
  fflush(stdout);
}

static api_options api_options_of(const config *cfg)
{
  api_options ao = {.sdkappid = cfg->sdkappid, .key = cfg->key,
                    .push_min_interval_ms = cfg->push_min_interval_ms,
                    .push_daily_quota = cfg->push_daily_quota,
                    .max_live_pushes = cfg->max_live_pushes,
                    .ws_queue_cap_bytes = cfg->ws_queue_cap_bytes,
                    .ping_sec = (unsigned)cfg->ping_sec,
                    .max_requests_per_ip = (uint32_t)cfg->max_requests_per_ip};
  for (size_t i = 0; i < cfg->n_admins; i++) ao.admins[ao.n_admins++] = cfg->admins[i];
  return ao;
}

static http_limits limits_of(const config *cfg)
{
  http_limits l = {0};
  l.max_body_bytes = cfg->max_body_bytes;
  l.max_header_bytes = cfg->max_header_bytes;
  l.max_connections = (unsigned)cfg->max_connections;
  l.request_timeout_ms = cfg->request_timeout_ms;
  l.idle_timeout_ms = cfg->idle_timeout_ms;
  l.max_per_ip = (unsigned)cfg->max_connections_per_ip;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  l.io_threads = cfg->io_threads ? (unsigned)cfg->io_threads
                                 : (unsigned)(cpus < 1 ? 1 : cpus > 8 ? 8 : cpus);
  return l;
}

/* --check-config: everything that can be checked without writing: the TLS pair (already
** loaded by the caller), the log file, the data folder (exists and is writable, or can be
** made), the key file (readable). Prints "configuration OK" and exits 0, or exits 2. */
static int check_config_only(config *cfg, SSL_CTX *tls)
{
  if (tls) SSL_CTX_free(tls);
  if (cfg->log_file[0] && access(cfg->log_file, W_OK) != 0 && errno != ENOENT)
    die_setup("--log-file: '%s' is not writable: %s", cfg->log_file, strerror(errno));
  struct stat st;
  if (stat(cfg->data_dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) die_setup("--data: '%s' is not a folder", cfg->data_dir);
    if (access(cfg->data_dir, R_OK | W_OK | X_OK) != 0)
      die_setup("--data: '%s' is not writable: %s", cfg->data_dir, strerror(errno));
    char key_path[1200];
    snprintf(key_path, sizeof key_path, "%s/secret.key", cfg->data_dir);
    if (!cfg->key[0] && !getenv("IMCAST_KEY") && access(key_path, F_OK) == 0 &&
        access(key_path, R_OK) != 0)
      die_setup("key file '%s' is not readable: %s", key_path, strerror(errno));
  } else if (errno != ENOENT) {
    die_setup("--data: cannot use '%s': %s", cfg->data_dir, strerror(errno));
  }
  printf("configuration OK\n");
  return 0;
}

static int serve(daemon_state *d)
{
  config *cfg = &d->cfg;
  char err[512];
  SSL_CTX *tls = NULL;
  if (cfg->tls_port >= 0) {
    tls = http_tls_context(cfg->tls_cert, cfg->tls_key, err, sizeof err);
    if (!tls) die_setup("TLS: %s", err);
  }
  if (cfg->check_config) return check_config_only(cfg, tls);
  if (open_log_file(cfg->log_file) != 0)
    die_setup("--log-file: cannot open '%s': %s", cfg->log_file, strerror(errno));
  ensure_data_dir(cfg->data_dir);
  resolve_key(cfg);

  store_options so = {.fsync = cfg->fsync};
  int rc = store_open(&d->st, cfg->data_dir, &so, err, sizeof err);
  if (rc != 0) die_setup("cannot open the database in '%s': %s", cfg->data_dir, err);
  api_state state;
  rc = api_load_state(d->st, &state);
  if (rc != 0) die_setup("cannot load the database: %s", rc == -ENOMEM ? "out of memory"
                                                                      : store_errmsg(d->st));
  d->loop = uv_default_loop();
  http_server_options ho = {.loop = d->loop, .limits = limits_of(cfg),
                            .on_request = api_on_request, .on_abandon = api_on_abandon};
  rc = http_server_new(&d->http, &ho);
  if (rc != 0) die_setup("cannot start the HTTP server: %s", uv_strerror(rc));
  api_options ao = api_options_of(cfg);
  d->api = api_new(&ao, d->loop, d->http, &state, d->st);
  if (!d->api) die_setup("out of memory");
  http_server_set_context(d->http, d->api);

  uv_check_init(d->loop, &d->end_of_turn);
  d->end_of_turn.data = d;
  uv_check_start(&d->end_of_turn, on_end_of_turn);
  uv_signal_init(d->loop, &d->sigterm);
  uv_signal_init(d->loop, &d->sigint);
  d->sigterm.data = d->sigint.data = d;
  uv_signal_start(&d->sigterm, on_signal, SIGTERM);
  uv_signal_start(&d->sigint, on_signal, SIGINT);
  uv_signal_init(d->loop, &d->sighup);
  d->sighup.data = d;
  uv_signal_start(&d->sighup, on_sighup, SIGHUP);

  listen_or_die(d, cfg->listen_host, cfg->listen_port, NULL);
  if (tls) {
    listen_or_die(d, cfg->tls_host, cfg->tls_port, tls);
    SSL_CTX_free(tls);
  }
  log_info("serving sdkappid %llu from %s", (unsigned long long)cfg->sdkappid, cfg->data_dir);

  uv_run(d->loop, UV_RUN_DEFAULT);

  api_free(d->api);
  http_server_free(d->http);
  store_close(d->st);
  uv_walk(d->loop, close_handle, NULL);
  uv_run(d->loop, UV_RUN_DEFAULT);
  uv_loop_close(d->loop);
  log_info("stopped cleanly");
  return 0;
}

int main(int argc, char **argv)
{
  static daemon_state d;
  char err[1024];
  int rc = config_parse(&d.cfg, argc, argv, err, sizeof err);
  if (rc == 1) {
    puts(err);
    return 0;
  }
  if (rc != 0) die_setup("%s", err);
  log_set_level((log_level)log_level_parse(d.cfg.log_level));
  signal(SIGPIPE, SIG_IGN);
  if (!strcmp(d.cfg.command, "usersig")) return print_usersig(&d.cfg);
  return serve(&d);
}
