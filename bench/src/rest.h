/*
** rest.h — the admin side of imcastd for the bench: one keep-alive HTTP/1.1 connection
** making REST calls (docs/rest-api.md §1), pipelined when asked, and the few calls the
** bench needs: multiaccount_import, im_add_tag, im_push, im_get_push_report.
**
** An answer is good when it is HTTP 200 with "ErrorCode":0 in its envelope.
*/
#ifndef IMCAST_BENCH_REST_H
#define IMCAST_BENCH_REST_H

#include <stdint.h>

#include "bconn.h"
#include "bench.h"

typedef struct rest {
  bconn c;
  char query[1400];      /* ?sdkappid=..&identifier=..&usersig=..&contenttype=json */
  char host_hdr[96];
  size_t answered;      /* bytes of the last answer, dropped by the next rest_recv */
  uint32_t random;      /* the `random` query parameter, one per call */
} rest;

int rest_open(rest *r, const bench_opts *o);
void rest_close(rest *r);
/* Writes one call (POST /v4/<path>) without waiting for its answer. 0 or -1. */
int rest_send(rest *r, const char *path, const char *body, size_t len);
/* Reads the next answer. *body points into the buffer until the next rest_recv. Returns
** the envelope's ErrorCode (0 = OK), or -1 when the transport or HTTP status failed. */
int rest_recv(rest *r, const char **body, size_t *len);
/* rest_send + rest_recv; a non-zero ErrorCode is printed with the path. */
int rest_call(rest *r, const char *path, const char *body, size_t len, const char **answer,
              size_t *answer_len);

/* Imports accounts prefix+[first, first+count), 100 a call, `window` calls in flight.
** With tags > 0, also gives every account the tags prefix+"t0".. (im_add_tag). 0 or -1. */
int rest_import(rest *r, const char *prefix, uint32_t first, uint32_t count, uint32_t tags,
                int window);

/* The body of an im_push whose TIMCustomElem Data is the payload (see payload_make);
** with tags > 0 the Condition is TagsAnd of the bench's tags. Returns its length. */
size_t push_body(char *out, size_t cap, const bench_opts *o, uint32_t index, uint64_t sent_ns,
                 uint32_t lifetime);

/* Copies "TaskId" of an im_push answer into out. 0, or -1 when absent. */
int answer_task_id(const char *answer, size_t len, char *out, size_t cap);
/* Reads an integer member ("Delivered") of an answer; -1 when absent. */
long long answer_int(const char *answer, size_t len, const char *name);

#endif
