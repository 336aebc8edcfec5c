/* test_certs.c — see test_certs.h. */
#include "support/test_certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_certs_make(test_certs *tc, const char *name, bool other_key) {
  char cmd[1024];
  memset(tc, 0, sizeof *tc);
  snprintf(tc->dir, sizeof tc->dir, "/tmp/imcast-test-%s-XXXXXX", name);
  if (!mkdtemp(tc->dir)) return -1;
  snprintf(tc->cert, sizeof tc->cert, "%s/cert.pem", tc->dir);
  snprintf(tc->key, sizeof tc->key, "%s/key.pem", tc->dir);
  int n = snprintf(cmd, sizeof cmd,
                   "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
                   "-addext subjectAltName=DNS:localhost -keyout %s -out %s >/dev/null 2>&1",
                   tc->key, tc->cert);
  if (other_key) {
    snprintf(tc->other_key, sizeof tc->other_key, "%s/other.pem", tc->dir);
    snprintf(cmd + n, sizeof cmd - (size_t)n,
             " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s "
             ">/dev/null 2>&1",
             tc->other_key);
  }
  return system(cmd) == 0 ? 0 : -1;
}

int test_certs_remove(test_certs *tc) {
  const char *files[] = {tc->cert, tc->key, tc->other_key};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (files[i][0]) unlink(files[i]); /* a file the openssl run did not make is no error */
  return tc->dir[0] && rmdir(tc->dir) == 0 ? 0 : -1;
}
