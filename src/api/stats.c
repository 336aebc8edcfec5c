/*
** stats.c — the api's metrics and their Prometheus exposition (GET /metrics).
**
** Every name starts with imcast_. Counters only grow; gauges are read when rendered
** (connections, accounts, live pushes, memory). REST calls are counted by command and
** ErrorCode; the series are bounded (API_MAX_REQUEST_SERIES): commands and codes are
** from fixed tables, so the bound is never reached in practice, and past it calls are
** still counted in imcast_rest_requests_total{command="other"}.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"

void api_metrics_init(api *a)
{
  memset(&a->metrics, 0, sizeof a->metrics);
  histogram_init(&a->metrics.request_seconds, metrics_latency_bounds, metrics_latency_n);
  histogram_init(&a->metrics.commit_seconds, metrics_latency_bounds, metrics_latency_n);
  histogram_init(&a->metrics.delivery_seconds, metrics_latency_bounds, metrics_latency_n);
}

void api_metrics_count_request(api *a, const char *command, int code, double seconds)
{
  api_metrics *m = &a->metrics;
  histogram_observe(&m->request_seconds, seconds);
  for (size_t i = 0; i < m->n_requests; i++)
    if (m->requests[i].code == code && strcmp(m->requests[i].command, command) == 0) {
      m->requests[i].count++;
      return;
    }
  if (m->n_requests == API_MAX_REQUEST_SERIES) command = "other";
  else m->n_requests++;
  m->requests[m->n_requests - 1] = (request_series){command, code, 1};
}

/* Resident memory of this process, from /proc/self/statm. */
static double resident_bytes(void)
{
  unsigned long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  // NOLINTNEXTLINE(cert-err34-c): kernel-written numbers; a mismatch is seen by n == 2.
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  return n == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) : 0;
}

static void counter(metrics_text *t, const char *name, const char *help, uint64_t value)
{
  metrics_header(t, name, "counter", help);
  metrics_sample(t, name, "", (double)value);
}

static void gauge(metrics_text *t, const char *name, const char *help, double value)
{
  metrics_header(t, name, "gauge", help);
  metrics_sample(t, name, "", value);
}

static void render_requests(metrics_text *t, const api_metrics *m)
{
  metrics_header(t, "imcast_rest_requests_total", "counter",
                 "REST calls answered, by command and Tencent ErrorCode");
  for (size_t i = 0; i < m->n_requests; i++)
    metrics_printf(t, "imcast_rest_requests_total{command=\"%s\",code=\"%d\"} %llu\n",
                   m->requests[i].command, m->requests[i].code,
                   (unsigned long long)m->requests[i].count);
}

/* What the HTTP server answered itself, before any REST handling (rest-api.md §1). */
static void render_rejected(metrics_text *t, const http_server *http)
{
  metrics_header(t, "imcast_http_rejected_total", "counter",
                 "Requests the HTTP server refused itself (malformed 400, too slow 408, "
                 "body too large 413, head too large 431), by status");
  for (int i = 0; i < HTTP_N_REJECTED; i++)
    metrics_printf(t, "imcast_http_rejected_total{status=\"%d\"} %llu\n",
                   http_rejected_statuses[i],
                   (unsigned long long)http_server_rejected(http, http_rejected_statuses[i]));
}

char *api_metrics_render(api *a, size_t *len)
{
  const api_metrics *m = &a->metrics;
  metrics_text t = {0};
  size_t receivers = sessions_total(a->online);
  size_t connections = http_server_connections(a->http);
  metrics_header(&t, "imcast_connections", "gauge", "Open connections by state");
  metrics_sample(&t, "imcast_connections", "{state=\"receiver\"}", (double)receivers);
  metrics_sample(&t, "imcast_connections", "{state=\"http\"}",
                 (double)(connections > receivers ? connections - receivers : 0));
  uint64_t over_total, over_per_ip;
  http_server_refused(a->http, &over_total, &over_per_ip);
  metrics_header(&t, "imcast_connections_refused_total", "counter",
                 "Connections closed at accept, by the cap they passed");
  metrics_sample(&t, "imcast_connections_refused_total", "{cap=\"max_connections\"}",
                 (double)over_total);
  metrics_sample(&t, "imcast_connections_refused_total", "{cap=\"max_connections_per_ip\"}",
                 (double)over_per_ip);
  metrics_header(&t, "imcast_requests_refused_total", "counter",
                 "HTTP requests refused by a rate cap (answered 60006, or 429 for a page or upgrade)");
  metrics_sample(&t, "imcast_requests_refused_total", "{cap=\"max_requests_per_ip\"}",
                 (double)m->requests_refused);
  render_rejected(&t, a->http);
  counter(&t, "imcast_logins_total", "Receiver logins accepted", m->logins);
  counter(&t, "imcast_logins_refused_total", "Receiver logins refused before the upgrade",
          m->logins_refused);
  counter(&t, "imcast_pushes_total", "Pushes accepted (retries not counted)", m->pushes);
  counter(&t, "imcast_push_retries_total", "im_push retries answered with the first TaskId",
          m->push_retries);
  counter(&t, "imcast_deliveries_total", "Push frames queued to receiver connections",
          m->deliveries);
  counter(&t, "imcast_acks_total", "Accounts newly marked delivered by an Ack", m->acks);
  counter(&t, "imcast_queue_drops_total", "Receivers disconnected for passing the output cap",
          m->queue_drops);
  counter(&t, "imcast_expired_total", "Stored pushes dropped at the end of their lifetime",
          m->expired);
  counter(&t, "imcast_revoked_total", "Pushes revoked", m->revoked);
  counter(&t, "imcast_kicks_total", "Receiver connections closed by kick or account_delete",
          m->kicks);
  counter(&t, "imcast_commit_failures_total", "Turn commits that failed (answered 91000)",
          m->commit_failures);
  render_requests(&t, m);
  metrics_histogram(&t, "imcast_request_duration_seconds",
                    "REST call arrival to answer, group commit included", &m->request_seconds);
  metrics_histogram(&t, "imcast_push_delivery_seconds",
                    "im_push arrival to its frame queued on every online receiver",
                    &m->delivery_seconds);
  metrics_histogram(&t, "imcast_sqlite_commit_seconds", "One loop turn's SQLite COMMIT",
                    &m->commit_seconds);
  gauge(&t, "imcast_accounts", "Imported accounts", (double)directory_account_count(a->dir));
  gauge(&t, "imcast_live_pushes", "Stored pushes alive", (double)push_registry_count(a->pushes));
  gauge(&t, "imcast_directory_bytes", "Memory held by accounts, tags and attributes",
        (double)directory_memory_bytes(a->dir));
  gauge(&t, "imcast_resident_memory_bytes", "Resident memory of the process", resident_bytes());
  if (t.failed) {
    metrics_text_free(&t);
    return NULL;
  }
  *len = t.len;
  return t.buf;
}
