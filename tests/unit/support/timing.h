/*
** timing.h — clocks and waiting for tests that watch another thread over sockets.
**
** sleep_ms and now_ms (CLOCK_MONOTONIC) are what a test thread uses to pace its writes and
** to time the server's answers. Whatever the server does asynchronously (closing a
** connection, counting a request) is waited for with WAIT_UNTIL, which polls rather than
** sleeping a fixed time, so a test is as fast as the server and still has a deadline.
*/
#ifndef IMCAST_TEST_TIMING_H
#define IMCAST_TEST_TIMING_H

#include <stdint.h>

void sleep_ms(int ms);

/* Milliseconds on the monotonic clock. */
int64_t now_ms(void);

/* Polls cond every 2 ms until it holds or ms milliseconds have passed; the caller asserts
** the outcome afterwards (so the failure says what was expected). */
#define WAIT_UNTIL(cond, ms)                                                                    \
  do {                                                                                          \
    int64_t wait_until_end_ = now_ms() + (ms);                                                  \
    while (!(cond) && now_ms() < wait_until_end_) sleep_ms(2);                                  \
  } while (0)

#endif
