/*
** tls.c — the server's TLS context: http_tls_context() from http.h.
**
** Guarantees: the context serves TLS 1.2 and 1.3 only, with OpenSSL's default cipher
** lists, no renegotiation, ALPN "http/1.1" when the client offers it, and
** SSL_MODE_RELEASE_BUFFERS (an idle connection gives its record buffers back). It is
** returned only if the certificate chain and the key load and the key matches the
** certificate; otherwise err holds one line saying which file and why.
*/
#include "net/http.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Writes "<what>: <OpenSSL's reason>" into err and clears OpenSSL's error queue. */
static void tls_error(char *err, size_t errlen, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  unsigned long e = ERR_peek_last_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  if (err && errlen) snprintf(err, errlen, "%s%s%s", what, why ? ": " : "", why ? why : "");
  ERR_clear_error();
}

/* Picks HTTP/1.1 when the client offers ALPN; a client that offers only others goes on
** without ALPN rather than failing the handshake. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char *sel = NULL;
  (void)ssl;
  (void)arg;
  if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *http_tls_context(const char *cert_pem, const char *key_pem, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    tls_error(err, errlen, "cannot create a TLS context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"imcast", 6);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem) != 1) {
    tls_error(err, errlen, "cannot load the TLS certificate chain from %s", cert_pem);
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_pem, SSL_FILETYPE_PEM) != 1) {
    /* OpenSSL checks the pair while loading the key: name that case plainly */
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      tls_error(err, errlen, "the TLS private key in %s does not match the certificate in %s",
                key_pem, cert_pem);
    else
      tls_error(err, errlen, "cannot load the TLS private key from %s", key_pem);
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    tls_error(err, errlen, "the TLS private key in %s does not match the certificate in %s",
              key_pem, cert_pem);
  } else {
    return ctx;
  }
  SSL_CTX_free(ctx);
  return NULL;
}
