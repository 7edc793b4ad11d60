#include "net/http_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "crypto/spki.h"
#include "net/tls_http.h"

/* The requests go over net/tls_http.c (OpenSSL alone): libcurl's ~20 shared
 * libraries cost every `cella` start more than a whole request to a local
 * server (docs/architecture.md, "Starting lean"). */
void *cella_http_pool_new(void) { return cella_tls_pool_new(); }

void cella_http_pool_free(void *pool) { cella_tls_pool_free(pool); }

cella_res cella_http_call(const cella_http_client *c, const char *method, const char *path,
                          const char *const *headers, cella_slice body, cella_http_response *resp)
{
    return cella_tls_http_call(c, method, path, headers, body, resp);
}

/* The certificate an https:// server presents, not trusted: *cert (free it).
 * Connection and handshake each end within timeout_s. */
static cella_res fetch_peer_certificate(const char *url, long timeout_s, X509 **cert)
{
    char host[300];
    *cert = NULL;
    CELLA_ENSURE(!strncmp(url, "https://", 8) && strlen(url + 8) < sizeof host, CELLA_E_USAGE, url,
                 "expected https://HOST:PORT");
    strcpy(host, url + 8);
    char *slash = strchr(host, '/');
    if (slash)
        *slash = '\0';
    CELLA_ENSURE(strchr(host, ':'), CELLA_E_USAGE, url, "the URL needs a port");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    BIO *b = ctx ? BIO_new_ssl(ctx, 1) : NULL;
    SSL *ssl = NULL;
    cella_res r = CELLA_OK_RES;
    if (!b) {
        r = cella_fail(CELLA_E_CRYPTO, url, "cannot create a TLS client");
    } else {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        BIO_get_ssl(b, &ssl);
        char why[200];
        BIO *tcp = cella_tls_connect_bounded(host, timeout_s, why, sizeof why);
        if (!tcp)
            r = cella_fail(CELLA_E_IO, url, "cannot connect: %s", why);
        else if (BIO_push(b, tcp), BIO_do_handshake(b) <= 0)
            r = cella_fail(CELLA_E_IO, url, "no TLS 1.3 handshake within %ld s", timeout_s);
    }
    if (cella_ok(r))
        *cert = SSL_get1_peer_certificate(ssl);
    if (cella_ok(r) && !*cert)
        r = cella_fail(CELLA_E_AUTH, url, "the server sent no certificate");
    BIO_free_all(b);
    SSL_CTX_free(ctx);
    return r;
}

cella_res cella_tls_fetch_fingerprint(const char *url, long timeout_s, char fingerprint[65])
{
    X509 *cert;
    CELLA_TRY(fetch_peer_certificate(url, timeout_s, &cert));
    uint8_t h[32];
    cella_res r = cella_x509_spki_sha256(cert, h);
    if (cella_ok(r))
        cella_hex_encode(fingerprint, h, 32, false);
    X509_free(cert);
    return r;
}

cella_res cella_tls_fetch_pinned_pem(const char *url, const char *pin, long timeout_s,
                                     char **pem)
{
    X509 *cert;
    *pem = NULL;
    CELLA_TRY(fetch_peer_certificate(url, timeout_s, &cert));
    uint8_t h[32];
    char got[65];
    cella_res r = cella_x509_spki_sha256(cert, h);
    if (cella_ok(r)) {
        cella_hex_encode(got, h, 32, false);
        if (strcasecmp(got, pin) != 0)
            r = cella_fail(CELLA_E_AUTH, url, "the server's key is %s, not the pinned %s", got,
                           pin);
    }
    BIO *mem = cella_ok(r) ? BIO_new(BIO_s_mem()) : NULL;
    if (cella_ok(r) && (!mem || !PEM_write_bio_X509(mem, cert)))
        r = cella_fail(CELLA_E_CRYPTO, url, "cannot encode the certificate");
    if (cella_ok(r)) {
        char *data;
        long n = BIO_get_mem_data(mem, &data);
        *pem = malloc((size_t)n + 1);
        if (!*pem)
            r = cella_fail(CELLA_E_NOMEM, url, "out of memory");
        else {
            memcpy(*pem, data, (size_t)n);
            (*pem)[n] = '\0';
        }
    }
    BIO_free(mem);
    X509_free(cert);
    return r;
}
