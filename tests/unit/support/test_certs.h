/*
** test_certs.h — a throwaway self-signed certificate for TLS tests.
**
** test_certs_make creates a private folder /tmp/imcast-test-<name>-XXXXXX holding an RSA
** key and a certificate for "localhost" (CN and subjectAltName, valid one day), made with
** the openssl command line; with other_key, also a second key that does not match the
** certificate (for "key does not match" errors). The server side loads cert and key
** (http_tls_context), the client side trusts cert as its only CA (net_client.h).
** test_certs_remove deletes the files and the folder. Both fit cmocka's group setup and
** teardown: they return 0 on success, -1 on failure.
*/
#ifndef IMCAST_TEST_CERTS_H
#define IMCAST_TEST_CERTS_H

#include <stdbool.h>

typedef struct test_certs {
  char dir[64];
  char cert[128];      /* PEM certificate, also the client's trust anchor */
  char key[128];       /* its PEM private key */
  char other_key[128]; /* a key that does not match cert; "" unless asked for */
} test_certs;

int test_certs_make(test_certs *tc, const char *name, bool other_key);
int test_certs_remove(test_certs *tc);

#endif
