/*
** local_api.h — imcastd's serving pieces on a loop that the test thread itself turns.
**
** For regressions that replay an input through the same entry point as imcastd: a store
** in a fresh /tmp folder, an api over an http_server listening on an ephemeral port of
** 127.0.0.1, and the uv_check that ends every loop iteration with api_end_of_turn and
** http_server_flush, as imcastd's main does. Unlike loop_thread.h there is no second
** thread: the test turns the loop while it waits for an answer, so a replay runs on one
** thread in one order, every time. For the same reason the blocking readers of
** net_client.h do not fit here (nothing would turn the loop while they wait);
** local_api_read_until reads instead.
**
** local_api_setup and local_api_teardown are cmocka per-test setup and teardown; the
** fixture they leave in *state is a local_api. The api's sdkappid is LOCAL_API_APPID, its
** key LOCAL_API_KEY and its one administrator "administrator", whose usersig is
** admin_sig.
*/
#ifndef IMCAST_TEST_LOCAL_API_H
#define IMCAST_TEST_LOCAL_API_H

#include "api/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define LOCAL_API_KEY "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
#define LOCAL_API_APPID 1400000000ull

typedef struct local_api {
  uv_loop_t loop;
  store *st;
  api *a;
  http_server *http;
  uv_check_t end_of_turn;
  int port;
  bool drained; /* set when http_server_shutdown has finished */
  char dir[64]; /* the store's folder, removed at teardown */
  char admin_sig[512];
} local_api;

int local_api_setup(void **state);
int local_api_teardown(void **state);

/* A usersig of LOCAL_API_APPID for identifier, valid for a day from now, into sig. */
void local_api_usersig(const char *identifier, char *sig, size_t cap);

/* A connection to the api's port (the kernel accepts it; the loop sees it at its next
** turn). */
int local_api_connect(local_api *la);

/* Whether the len bytes read so far (buf, NUL-terminated) are all that is waited for. */
typedef bool (*local_api_enough_fn)(const char *buf, size_t len);

/* Turns the loop and reads from fd into buf (cap bytes, kept NUL-terminated) until enough
** says so, the peer closes or about five seconds pass. Returns the count read. */
size_t local_api_read_until(local_api *la, int fd, char *buf, size_t cap,
                            local_api_enough_fn enough);

/* True when buf holds one complete HTTP answer: its head and Content-Length bytes. */
bool local_api_answer_complete(const char *buf, size_t len);

/* Sends raw on a new connection and returns the first complete answer (head and body;
** free it), then closes the connection and lets the loop see it closed. */
char *local_api_exchange(local_api *la, const char *raw, size_t len);

/* One turn of the loop that does not wait: what is ready (the close of a connection, a
** flush) is handled. */
void local_api_turn(local_api *la);

#endif
