/* local_api.c — see local_api.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/local_api.h"
#include "support/net_client.h"

#include "common/log.h"
#include "common/usersig.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long local_api_read_until waits: this many turns of at most a millisecond's poll. */
#define READ_TURNS 5000

static void on_end_of_turn(uv_check_t *h) {
  local_api *la = h->data;
  api_end_of_turn(la->a);
  http_server_flush(la->http);
}

static void open_store(local_api *la) {
  snprintf(la->dir, sizeof la->dir, "/tmp/imcast-regress-XXXXXX");
  assert_non_null(mkdtemp(la->dir));
  char err[256];
  assert_int_equal(store_open(&la->st, la->dir, NULL, err, sizeof err), 0);
}

/* The http_server and the api over it, wired to each other as imcastd wires them. */
static void open_api(local_api *la) {
  api_state state;
  assert_int_equal(api_load_state(la->st, &state), 0);
  http_server_options ho = {.loop = &la->loop, .on_request = api_on_request,
                            .on_abandon = api_on_abandon};
  assert_int_equal(http_server_new(&la->http, &ho), 0);
  api_options ao = {.sdkappid = LOCAL_API_APPID, .key = LOCAL_API_KEY,
                    .admins = {"administrator"}, .n_admins = 1};
  la->a = api_new(&ao, &la->loop, la->http, &state, la->st);
  assert_non_null(la->a);
  http_server_set_context(la->http, la->a);
}

int local_api_setup(void **state) {
  local_api *la = calloc(1, sizeof *la);
  assert_non_null(la);
  log_set_level(LOG_ERROR);
  open_store(la);
  assert_int_equal(uv_loop_init(&la->loop), 0);
  open_api(la);
  assert_int_equal(http_server_listen(la->http, "127.0.0.1", 0, NULL, &la->port), 0);
  uv_check_init(&la->loop, &la->end_of_turn);
  la->end_of_turn.data = la;
  uv_check_start(&la->end_of_turn, on_end_of_turn);
  local_api_usersig("administrator", la->admin_sig, sizeof la->admin_sig);
  *state = la;
  return 0;
}

static void on_drained(void *ctx) {
  local_api *la = ctx;
  la->drained = true;
  uv_check_stop(&la->end_of_turn);
  uv_close((uv_handle_t *)&la->end_of_turn, NULL);
}

int local_api_teardown(void **state) {
  local_api *la = *state;
  api_close_receivers(la->a);
  http_server_shutdown(la->http, on_drained, la);
  uv_run(&la->loop, UV_RUN_DEFAULT);
  assert_true(la->drained);
  api_free(la->a);
  http_server_free(la->http);
  store_close(la->st);
  uv_loop_close(&la->loop);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", la->dir);
  assert_int_equal(system(cmd), 0);
  free(la);
  return 0;
}

void local_api_usersig(const char *identifier, char *sig, size_t cap) {
  assert_true(usersig_gen(LOCAL_API_KEY, LOCAL_API_APPID, identifier, (int64_t)time(NULL),
                          86400, sig, cap) > 0);
}

int local_api_connect(local_api *la) {
  int fd = tcp_connect(la->port);
  assert_true(fd >= 0);
  return fd;
}

void local_api_turn(local_api *la) { uv_run(&la->loop, UV_RUN_NOWAIT); }

size_t local_api_read_until(local_api *la, int fd, char *buf, size_t cap,
                            local_api_enough_fn enough) {
  size_t n = 0;
  buf[0] = '\0';
  for (int turns = 0; turns < READ_TURNS; turns++) {
    local_api_turn(la);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1) != 1) continue;
    ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = '\0';
    if (enough(buf, n)) break;
  }
  return n;
}

bool local_api_answer_complete(const char *buf, size_t len) {
  const char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
  return end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10);
}

char *local_api_exchange(local_api *la, const char *raw, size_t len) {
  int fd = local_api_connect(la);
  assert_int_equal(send(fd, raw, len, 0), (ssize_t)len);
  enum { ANSWER_CAP = 65536 };
  char *buf = malloc(ANSWER_CAP);
  assert_non_null(buf);
  local_api_read_until(la, fd, buf, ANSWER_CAP, local_api_answer_complete);
  close(fd);
  local_api_turn(la);
  return buf;
}
