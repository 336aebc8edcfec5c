/*
** cmd_listen.c — listen USER: a terminal receiver.
**
** Connects as USER (a UserSig minted with the admin key), prints every push as one line
** of JSON — the event exactly as the server sent it — and acknowledges it; a Revoke
** event is printed the same way. Reconnects with backoff after a drop. Connection news
** goes to stderr. SIGINT or SIGTERM closes cleanly and exits 0; a refused login exits 1,
** being kicked or an unrecoverable connection error 3.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

/* Read by the signal handler: volatile, set before the handler is installed. */
static imcast_listener *volatile running_listener;

static void on_signal(int sig)
{
  (void)sig;
  imcast_listener_stop(running_listener); /* async-signal-safe */
}

static void on_connect(void *user, const char *user_id, int64_t server_time)
{
  fprintf(stderr, "imcast: listening as %s\n", user_id);
}

static void on_push(void *user, const imcast_push *p)
{
  fwrite(p->json, 1, p->json_len, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

static void on_revoke(void *user, int64_t seq, const char *task_id)
{
  json_t *ev = json_pack("{s:s, s:I, s:s}", "Event", "Revoke", "Seq", (json_int_t)seq,
                         "TaskId", task_id);
  if (ev != NULL)
    json_dumpf(ev, stdout, JSON_COMPACT);
  fputc('\n', stdout);
  fflush(stdout);
  json_decref(ev);
}

static void on_kicked(void *user, const char *reason)
{
  fprintf(stderr, "imcast: kicked: %s\n", reason);
}

static void on_disconnect(void *user, int code, const char *reason, int will_reconnect)
{
  if (will_reconnect)
    fprintf(stderr, "imcast: disconnected (%d %s), reconnecting\n", code, reason);
}

static void on_error(void *user, const imcast_error *err)
{
  if (err->status == IMCAST_E_TENCENT)
    fprintf(stderr, "ErrorCode %d: %s\n", err->error_code, err->error_info);
  else
    fprintf(stderr, "imcast: %s\n", err->error_info);
}

static void catch_signals(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int cmd_listen(cli *c, int argc, char **argv)
{
  if (argc != 1)
    return cli_usage_error("usage: imcast listen USER");
  if (cli_client(c) == NULL)
    return cli_last_exit();
  imcast_listener_callbacks cb = {on_connect, on_push, on_revoke, on_kicked, on_disconnect,
                                  on_error};
  imcast_error err;
  imcast_listener *l = imcast_client_listener_new(c->client, argv[0], &cb, NULL, &err);
  if (l == NULL)
    return cli_usage_error("%s", err.error_info);
  running_listener = l;
  catch_signals();
  imcast_status st = imcast_listener_run(l, &err);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  running_listener = NULL;
  imcast_listener_free(l);
  if (st == IMCAST_OK)
    return EXIT_OK;
  return st == IMCAST_E_TENCENT ? EXIT_TENCENT : EXIT_TRANSPORT;
}
