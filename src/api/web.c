/*
** web.c — what imcastd serves besides the REST API: the web console under /console/, the
** health check /healthz and the Prometheus metrics /metrics.
**
** Console files are compiled in (static_files.h). Each answer carries its content type,
** an ETag (If-None-Match answers 304), Cache-Control: no-cache (so an upgraded server is
** picked up at once), and a Content-Security-Policy that allows only the console's own
** scripts and styles and WebSocket connections back to this server.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/static_files.h"

static const char security_headers[] =
  "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
  "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
  "base-uri 'none'; form-action 'self'\r\n"
  "X-Content-Type-Options: nosniff\r\n"
  "Referrer-Policy: no-referrer\r\n";

static const char *content_type_of(const char *path)
{
  static const struct { const char *ext, *type; } types[] = {
    {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},              {".png", "image/png"},
    {".ico", "image/x-icon"},               {".txt", "text/plain; charset=utf-8"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

static const static_file *find_file(const char *path)
{
  char index[128];
  if (strcmp(path, "/console/") == 0) {
    snprintf(index, sizeof index, "%sindex.html", path);
    path = index;
  }
  for (const static_file *f = static_files; f->path; f++)
    if (strcmp(f->path, path) == 0) return f;
  return NULL;
}

/* FNV-1a of the content: changes whenever the file does. */
static void etag_of(const static_file *f, char *out, size_t outlen)
{
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < f->len; i++) h = (h ^ f->data[i]) * 1099511628211ULL;
  snprintf(out, outlen, "\"%016llx\"", (unsigned long long)h);
}

static void serve_console(http_request *req, const char *path)
{
  if (strcmp(path, "/console") == 0) {
    http_respond_with(req, 301, "Location: /console/\r\n", "text/plain; charset=utf-8",
                      "see /console/\n", 14);
    return;
  }
  const static_file *f = find_file(path);
  if (!f) {
    http_respond_with(req, 404, security_headers, "text/plain; charset=utf-8",
                      "no such console file\n", 21);
    return;
  }
  char etag[24], headers[sizeof security_headers + 96];
  etag_of(f, etag, sizeof etag);
  snprintf(headers, sizeof headers, "%sCache-Control: no-cache\r\nETag: %s\r\n",
           security_headers, etag);
  const char *match = http_request_header(req, "If-None-Match");
  if (match && strcmp(match, etag) == 0)
    http_respond_with(req, 304, headers, content_type_of(f->path), "", 0);
  else
    http_respond_with(req, 200, headers, content_type_of(f->path), f->data, f->len);
}

static void serve_health(api *a, http_request *req)
{
  char body[160];
  int n = snprintf(body, sizeof body, "{\"status\":\"ok\",\"accounts\":%zu,\"receivers\":%zu,"
                   "\"live_pushes\":%zu}", directory_account_count(a->dir),
                   sessions_total(a->online), push_registry_count(a->pushes));
  http_respond_with(req, 200, "Cache-Control: no-store\r\n", "application/json", body, (size_t)n);
}

static void serve_metrics(api *a, http_request *req)
{
  size_t len;
  char *text = api_metrics_render(a, &len);
  if (!text) {
    http_respond(req, 503, "text/plain; charset=utf-8", "out of memory\n", 14);
    return;
  }
  http_respond_with(req, 200, "Cache-Control: no-store\r\n",
                    "text/plain; version=0.0.4; charset=utf-8", text, len);
  free(text);
}

typedef enum page { PAGE_NONE, PAGE_CONSOLE, PAGE_METRICS, PAGE_HEALTH } page;

static page page_of(const http_request *req)
{
  const char *path = http_request_path(req);
  const char *method = http_request_method(req);
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return PAGE_NONE;
  if (strcmp(path, "/console") == 0 || strncmp(path, "/console/", 9) == 0) return PAGE_CONSOLE;
  if (strcmp(path, "/metrics") == 0) return PAGE_METRICS;
  if (strcmp(path, "/healthz") == 0) return PAGE_HEALTH;
  return PAGE_NONE;
}

bool web_is_page(const http_request *req) { return page_of(req) != PAGE_NONE; }

bool web_serve(api *a, http_request *req)
{
  switch (page_of(req)) {
  case PAGE_CONSOLE:
    serve_console(req, http_request_path(req));
    return true;
  case PAGE_METRICS:
    serve_metrics(a, req);
    return true;
  case PAGE_HEALTH:
    serve_health(a, req);
    return true;
  case PAGE_NONE:
    break;
  }
  return false;
}
