/*
** config.c — defaults, INI file and command line for imcastd. See config.h.
*/
#include "common/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char usage[] =
  "usage: imcastd [--config FILE] [--listen HOST:PORT] [--tls-listen HOST:PORT --tls-cert PEM "
  "--tls-key PEM] [--data DIR] [--sdkappid N] [--key KEY] [--admin ID]... [--log-level L] "
  "[--fsync] [--max-body-bytes N] [--max-header-bytes N] [--max-connections N] "
  "[--request-timeout-ms N] [--idle-timeout-ms N] [--push-min-interval-ms N] "
  "[--push-daily-quota N] [--max-live-pushes N] [--ws-queue-cap-bytes N] [--ping-sec N] "
  "[--io-threads N] [--max-connections-per-ip N] [--max-requests-per-ip N]\n"
  "       imcastd [options] usersig USERID [--expire SECONDS]";

static void set_defaults(config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->listen_host, "127.0.0.1");
  cfg->listen_port = 8080;
  cfg->tls_port = -1;
  strcpy(cfg->data_dir, "./data");
  cfg->sdkappid = 1400000000;
  strcpy(cfg->log_level, "info");
  strcpy(cfg->command, "serve");
  cfg->usersig_expire = (int64_t)180 * 86400;
}

int config_parse_hostport(const char *text, char *host, size_t hostlen, int *port)
{
  const char *colon = strrchr(text, ':');
  if (!colon || colon == text) return -1;
  const char *h = text;
  size_t hlen = (size_t)(colon - text);
  if (h[0] == '[') {                 /* [::1]:8080 */
    if (hlen < 3 || h[hlen - 1] != ']') return -1;
    h++;
    hlen -= 2;
  }
  if (hlen + 1 > hostlen) return -1;
  char *end;
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || errno || p < 0 || p > 65535) return -1;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = (int)p;
  return 0;
}

static int parse_u64(const char *text, uint64_t *out)
{
  char *end;
  errno = 0;
  if (!*text || text[0] == '-') return -1;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end || errno) return -1;
  *out = v;
  return 0;
}

static int copy_str(char *dst, size_t dstlen, const char *value)
{
  size_t n = strlen(value);
  if (n == 0 || n >= dstlen) return -1;
  memcpy(dst, value, n + 1);
  return 0;
}

static int add_admins(config *cfg, const char *value)
{
  /* One --admin flag names one admin; an INI value may list several, comma-separated. */
  char buf[1024];
  if (copy_str(buf, sizeof buf, value)) return -1;
  for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    size_t len = strlen(tok);
    if (cfg->n_admins == CONFIG_MAX_ADMINS || len > 32) return -1;
    memcpy(cfg->admins[cfg->n_admins++], tok, len + 1);
  }
  return 0;
}

/* Applies one setting by name; returns 0, or -1 with the reason in err. */
static int apply(config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
  int rc = 0;
  const char *expect = "a value";
  if (!strcmp(name, "listen")) {
    rc = config_parse_hostport(value, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port);
    expect = "HOST:PORT";
  } else if (!strcmp(name, "tls-listen")) {
    rc = config_parse_hostport(value, cfg->tls_host, sizeof cfg->tls_host, &cfg->tls_port);
    expect = "HOST:PORT";
  } else if (!strcmp(name, "tls-cert")) {
    rc = copy_str(cfg->tls_cert, sizeof cfg->tls_cert, value);
    expect = "a PEM file path";
  } else if (!strcmp(name, "tls-key")) {
    rc = copy_str(cfg->tls_key, sizeof cfg->tls_key, value);
    expect = "a PEM file path";
  } else if (!strcmp(name, "data")) {
    rc = copy_str(cfg->data_dir, sizeof cfg->data_dir, value);
    expect = "a folder path";
  } else if (!strcmp(name, "sdkappid")) {
    rc = parse_u64(value, &cfg->sdkappid) || cfg->sdkappid == 0 || cfg->sdkappid > UINT32_MAX;
    expect = "a positive integer";
  } else if (!strcmp(name, "key")) {
    rc = copy_str(cfg->key, sizeof cfg->key, value);
    expect = "a non-empty key of at most 255 bytes";
  } else if (!strcmp(name, "admin")) {
    rc = add_admins(cfg, value);
    expect = "a UserID of 1..32 bytes (at most 16 admins)";
  } else if (!strcmp(name, "log-level")) {
    rc = log_level_parse(value) < 0 ? -1 : copy_str(cfg->log_level, sizeof cfg->log_level, value);
    expect = "debug, info, warn or error";
  } else if (!strcmp(name, "log-file")) {
    rc = copy_str(cfg->log_file, sizeof cfg->log_file, value);
    expect = "a file path";
  } else if (!strcmp(name, "fsync")) {
    rc = strcmp(value, "true") != 0 && strcmp(value, "false") != 0 && strcmp(value, "1") != 0 &&
         strcmp(value, "0") != 0;
    cfg->fsync = !strcmp(value, "true") || !strcmp(value, "1");
    expect = "true or false";
  } else if (!strcmp(name, "max-body-bytes")) {
    rc = parse_u64(value, &cfg->max_body_bytes);
    expect = "a byte count";
  } else if (!strcmp(name, "max-header-bytes")) {
    rc = parse_u64(value, &cfg->max_header_bytes);
    expect = "a byte count";
  } else if (!strcmp(name, "max-connections")) {
    rc = parse_u64(value, &cfg->max_connections);
    expect = "a count";
  } else if (!strcmp(name, "request-timeout-ms")) {
    rc = parse_u64(value, &cfg->request_timeout_ms);
    expect = "milliseconds";
  } else if (!strcmp(name, "idle-timeout-ms")) {
    rc = parse_u64(value, &cfg->idle_timeout_ms);
    expect = "milliseconds";
  } else if (!strcmp(name, "push-min-interval-ms")) {
    rc = parse_u64(value, &cfg->push_min_interval_ms);
    expect = "milliseconds (0 = off)";
  } else if (!strcmp(name, "push-daily-quota")) {
    rc = parse_u64(value, &cfg->push_daily_quota);
    expect = "a count (0 = off)";
  } else if (!strcmp(name, "max-live-pushes")) {
    rc = parse_u64(value, &cfg->max_live_pushes);
    expect = "a count";
  } else if (!strcmp(name, "ws-queue-cap-bytes")) {
    rc = parse_u64(value, &cfg->ws_queue_cap_bytes);
    expect = "a byte count";
  } else if (!strcmp(name, "max-connections-per-ip")) {
    rc = parse_u64(value, &cfg->max_connections_per_ip) || cfg->max_connections_per_ip > UINT32_MAX;
    expect = "a count (0 = no cap)";
  } else if (!strcmp(name, "max-requests-per-ip")) {
    rc = parse_u64(value, &cfg->max_requests_per_ip) || cfg->max_requests_per_ip > 1000000;
    expect = "requests per second, 0..1000000 (0 = no cap)";
  } else if (!strcmp(name, "io-threads")) {
    rc = parse_u64(value, &cfg->io_threads) || cfg->io_threads > 64;
    expect = "a thread count, 0..64 (0 = one per CPU)";
  } else if (!strcmp(name, "ping-sec")) {
    rc = parse_u64(value, &cfg->ping_sec) || cfg->ping_sec == 0 || cfg->ping_sec > 3600;
    expect = "seconds, 1..3600";
  } else {
    snprintf(err, errlen, "unknown setting '%s'", name);
    return -1;
  }
  if (rc) snprintf(err, errlen, "%s: expected %s, got '%s'", name, expect, value);
  return rc ? -1 : 0;
}

typedef struct ini_state {
  config *cfg;
  char *err;
  size_t errlen;
  int failed;
} ini_state;

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
  ini_state *s = user;
  if (s->failed) return 0;
  if (section[0] && strcmp(section, "imcastd") != 0) return 1;  /* other programs' sections */
  char key[64];
  snprintf(key, sizeof key, "%s", name);
  for (char *p = key; *p; p++)
    if (*p == '_') *p = '-';
  char reason[512];
  if (apply(s->cfg, key, value, reason, sizeof reason) != 0) {
    snprintf(s->err, s->errlen, "config file: %s", reason);
    s->failed = 1;
    return 0;
  }
  return 1;
}

static int load_file(config *cfg, const char *path, char *err, size_t errlen)
{
  ini_state s = {cfg, err, errlen, 0};
  int rc = ini_parse(path, on_ini_value, &s);
  if (s.failed) return -1;
  if (rc == -1) {
    snprintf(err, errlen, "--config: cannot open '%s': %s", path, strerror(errno));
    return -1;
  }
  if (rc != 0) {
    snprintf(err, errlen, "--config: '%s' line %d is not valid INI", path, rc);
    return -1;
  }
  return 0;
}

/* The value of a flag given as "--name value" or "--name=value"; NULL when missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *arg, char *name,
                              size_t namelen)
{
  const char *eq = strchr(arg, '=');
  if (eq) {
    snprintf(name, namelen, "%.*s", (int)(eq - arg), arg);
    return eq + 1;
  }
  snprintf(name, namelen, "%s", arg);
  return *i + 1 < argc ? argv[++*i] : NULL;
}

/* Reads --config first, so that flags override the file wherever they stand. */
static int preload_config_file(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
  for (int i = 1; i < argc; i++) {
    const char *path = NULL;
    // False positive: argv[i] for i < argc is never NULL (C11 5.1.2.2.1); the checker
    // assumes argv[i + 1] may be.
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): see above
    if (!strcmp(argv[i], "--config")) path = i + 1 < argc ? argv[i + 1] : "";
    else if (!strncmp(argv[i], "--config=", 9)) path = argv[i] + 9;
    if (path) {
      if (!*path) {
        snprintf(err, errlen, "--config: expected a file path");
        return -1;
      }
      cfg->n_admins = 0;
      return load_file(cfg, path, err, errlen);
    }
  }
  return 0;
}

static int parse_command_word(config *cfg, int argc, char **argv, int *i, char *err, size_t errlen)
{
  const char *word = argv[*i];
  if (strcmp(cfg->command, "serve") == 0 && strcmp(word, "usersig") == 0) {
    strcpy(cfg->command, "usersig");
    return 0;
  }
  if (strcmp(cfg->command, "usersig") == 0 && !cfg->usersig_user[0]) {
    if (copy_str(cfg->usersig_user, sizeof cfg->usersig_user, word) || strlen(word) > 32) {
      snprintf(err, errlen, "usersig: USERID must be 1..32 bytes");
      return -1;
    }
    return 0;
  }
  snprintf(err, errlen, "unexpected argument '%s' (see --help)", word);
  return -1;
}

int config_parse(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
  set_defaults(cfg);
  if (preload_config_file(cfg, argc, argv, err, errlen)) return -1;
  bool admins_from_flags = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      snprintf(err, errlen, "%s", usage);
      return 1;
    }
    if (strncmp(arg, "--", 2) != 0) {
      if (parse_command_word(cfg, argc, argv, &i, err, errlen)) return -1;
      continue;
    }
    if (!strcmp(arg, "--fsync")) { cfg->fsync = true; continue; }
    if (!strcmp(arg, "--check-config")) { cfg->check_config = true; continue; }
    char name[64];
    const char *value = flag_value(argc, argv, &i, arg, name, sizeof name);
    if (!value) {
      snprintf(err, errlen, "%s: expected a value", name);
      return -1;
    }
    if (!strcmp(name, "--config")) continue;
    if (!strcmp(name, "--expire")) {
      uint64_t e;
      if (parse_u64(value, &e) || e == 0 || e > INT32_MAX) {
        snprintf(err, errlen, "--expire: expected seconds, got '%s'", value);
        return -1;
      }
      cfg->usersig_expire = (int64_t)e;
      continue;
    }
    if (!strcmp(name, "--admin") && !admins_from_flags) {
      cfg->n_admins = 0;              /* flags replace the file's admin list */
      admins_from_flags = true;
    }
    if (apply(cfg, name + 2, value, err, errlen)) return -1;
  }
  if (cfg->n_admins == 0) add_admins(cfg, "administrator");
  if (!strcmp(cfg->command, "usersig") && !cfg->usersig_user[0]) {
    snprintf(err, errlen, "usersig: expected a USERID");
    return -1;
  }
  if (cfg->tls_port >= 0 && (!cfg->tls_cert[0] || !cfg->tls_key[0])) {
    snprintf(err, errlen, "--tls-listen needs --tls-cert and --tls-key");
    return -1;
  }
  return 0;
}
