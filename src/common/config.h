/*
** config.h — imcastd's settings: defaults, then the INI file (--config), then flags.
**
** Every flag has an INI key of the same name without the dashes ("--tls-listen X" is
** "tls-listen = X" or "tls_listen = X", in the [imcastd] section or before any section).
** config_parse() only reads: it writes no file and opens no socket, so a bad command line
** changes nothing.
*/
#ifndef IMCAST_CONFIG_H
#define IMCAST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_ADMINS 16

typedef struct config {
  char listen_host[256];
  int listen_port;
  char tls_host[256];
  int tls_port;               /* -1 when there is no TLS listener */
  char tls_cert[1024];
  char tls_key[1024];
  char data_dir[1024];
  uint64_t sdkappid;
  char key[256];              /* empty: IMCAST_KEY, else DIR/secret.key */
  char admins[CONFIG_MAX_ADMINS][33];
  size_t n_admins;
  char log_level[16];
  char log_file[1024];        /* empty: stderr; SIGHUP reopens it (log rotation) */
  bool check_config;          /* --check-config: validate everything, then exit */
  bool fsync;
  /* HTTP limits (0 = the server's default) */
  uint64_t max_body_bytes;
  uint64_t max_header_bytes;
  uint64_t max_connections;
  uint64_t request_timeout_ms;
  uint64_t idle_timeout_ms;
  /* pushes and receivers (0 = default / off) */
  uint64_t push_min_interval_ms;
  uint64_t push_daily_quota;
  uint64_t max_live_pushes;
  uint64_t ws_queue_cap_bytes;
  uint64_t ping_sec;
  uint64_t io_threads;               /* 0: one per CPU (at most 8) */
  uint64_t max_connections_per_ip;   /* 0: no cap */
  uint64_t max_requests_per_ip;      /* HTTP requests a second from one address; 0: no cap */

  /* the command: "serve" (default) or "usersig" */
  char command[16];
  char usersig_user[64];
  int64_t usersig_expire;     /* seconds; default 86400 * 180 */
} config;

/*
** Fills cfg from defaults, the --config file and argv (argv[0] is the program name).
** Returns 0, or -1 with a one-line reason in err ("--listen: expected HOST:PORT, got 'x'").
** Returns 1 when --help was asked for (usage is written to err).
*/
int config_parse(config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Splits "HOST:PORT" or "[V6]:PORT"; port 0..65535. Returns 0 or -1. */
int config_parse_hostport(const char *text, char *host, size_t hostlen, int *port);

#endif
