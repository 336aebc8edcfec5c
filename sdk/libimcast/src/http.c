/*
** http.c — one libcurl easy handle per client: POST a JSON body, get the answer back.
**
** Guarantees: HTTP/1.1 with keep-alive (the handle keeps its connection between calls,
** and libcurl reconnects once by itself when a kept connection turns out dead before
** anything was received); TLS verified against ca_file or the system's CAs unless
** `insecure`; no redirects followed; no signals (safe in threaded programs); bounded time
** (timeout_ms) and memory (answers over SDK_MAX_ANSWER are refused). libcurl's global
** set-up runs once, under pthread_once.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "sdk_internal.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L

struct sdk_http {
  CURL *curl;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
};

/* The answer being received. */
typedef struct answer_buf {
  char *data;
  size_t len;
  size_t cap;
  int too_large;
} answer_buf;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;

static void global_init(void)
{
  global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  answer_buf *a = userdata;
  size_t n = size * nmemb;
  if (a->len + n > SDK_MAX_ANSWER) {
    a->too_large = 1;
    return 0; /* aborts the transfer */
  }
  if (a->len + n + 1 > a->cap) {
    size_t cap = a->cap ? a->cap : 4096;
    while (cap < a->len + n + 1)
      cap *= 2;
    char *grown = realloc(a->data, cap);
    if (grown == NULL)
      return 0;
    a->data = grown;
    a->cap = cap;
  }
  memcpy(a->data + a->len, ptr, n);
  a->len += n;
  a->data[a->len] = '\0';
  return n;
}

static void set_tls_options(CURL *curl, const sdk_http_options *o)
{
  if (o->ca_file != NULL)
    curl_easy_setopt(curl, CURLOPT_CAINFO, o->ca_file);
  if (o->insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

static void set_options(sdk_http *h, const sdk_http_options *o)
{
  CURL *curl = h->curl;
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms
                                                                : DEFAULT_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                             : DEFAULT_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "libimcast/" IMCAST_VERSION);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h->headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, h->errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  set_tls_options(curl, o);
}

sdk_http *sdk_http_new(const sdk_http_options *opts, imcast_error *err)
{
  pthread_once(&global_once, global_init);
  if (global_result != CURLE_OK) {
    sdk_error_set(err, IMCAST_E_TRANSPORT, "libcurl could not be initialised: %s",
                  curl_easy_strerror(global_result));
    err->curl_code = (int)global_result;
    return NULL;
  }
  sdk_http *h = calloc(1, sizeof *h);
  if (h == NULL)
    goto nomem;
  h->curl = curl_easy_init();
  /* "Expect:" turns off 100-continue: imcastd answers at once anyway. */
  h->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  struct curl_slist *more = h->headers ? curl_slist_append(h->headers, "Expect:") : NULL;
  if (h->curl == NULL || more == NULL)
    goto nomem;
  h->headers = more;
  set_options(h, opts);
  return h;
nomem:
  sdk_http_free(h);
  sdk_error_set(err, IMCAST_E_NOMEM, "out of memory creating the HTTP handle");
  return NULL;
}

static imcast_status transport_error(sdk_http *h, CURLcode rc, imcast_error *err)
{
  const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
  sdk_error_set(err, IMCAST_E_TRANSPORT, "%s", detail);
  err->curl_code = (int)rc;
  return IMCAST_E_TRANSPORT;
}

imcast_status sdk_http_post(sdk_http *h, const char *url, const char *body, size_t body_len,
                            char **answer, size_t *answer_len, int *http_status,
                            imcast_error *err)
{
  answer_buf a = {0};
  *answer = NULL;
  *answer_len = 0;
  *http_status = 0;
  h->errbuf[0] = '\0';
  curl_easy_setopt(h->curl, CURLOPT_URL, url);
  curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &a);
  CURLcode rc = curl_easy_perform(h->curl);
  if (a.too_large) {
    free(a.data);
    return sdk_error_set(err, IMCAST_E_PROTOCOL, "the answer is larger than %zu bytes",
                         SDK_MAX_ANSWER);
  }
  if (rc != CURLE_OK) {
    free(a.data);
    return transport_error(h, rc, err);
  }
  long status = 0;
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
  if (a.data == NULL && (a.data = calloc(1, 1)) == NULL)
    return sdk_error_set(err, IMCAST_E_NOMEM, "out of memory receiving an answer");
  *answer = a.data;
  *answer_len = a.len;
  *http_status = (int)status;
  sdk_error_clear(err);
  return IMCAST_OK;
}

char *sdk_http_escape(sdk_http *h, const char *s)
{
  char *escaped = curl_easy_escape(h->curl, s, 0);
  if (escaped == NULL)
    return NULL;
  char *copy = strdup(escaped);
  curl_free(escaped);
  return copy;
}

void sdk_http_free(sdk_http *h)
{
  if (h == NULL)
    return;
  if (h->curl != NULL)
    curl_easy_cleanup(h->curl);
  curl_slist_free_all(h->headers);
  free(h);
}
