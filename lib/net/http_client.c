#include "net/http_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "crypto/spki.h"
#include "net/tls_http.h"

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

struct pool {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void pool_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
    (void)h;
    (void)a;
    pthread_mutex_lock(&((struct pool *)u)->locks[d]);
}

static void pool_unlock(CURL *h, curl_lock_data d, void *u)
{
    (void)h;
    pthread_mutex_unlock(&((struct pool *)u)->locks[d]);
}
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

struct sink {
    cella_buf *buf;
    size_t max;
    int overflow;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = size * n;
    if (s->buf->len + len > s->max) {
        s->overflow = 1;
        return 0;
    }
    cella_buf_append(s->buf, p, len);
    return s->buf->failed ? 0 : len;
}

/* The client identity goes straight into the SSL_CTX libcurl builds for the
 * connection. Handing it over as PEM blobs made libcurl decode both on every
 * connection, and OpenSSL 3.0's decoders were the largest cost of an RA-TLS
 * attestation on the client. */
static CURLcode use_identity(CURL *h, void *sslctx, void *arg)
{
    (void)h;
    const cella_http_client *c = arg;
    SSL_CTX *ctx = sslctx;
    if (SSL_CTX_use_certificate(ctx, c->client_cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, c->client_key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

/* The identity made in the handshake, once the server's key is checked
 * against the pin (net/tls_http.h). */
static CURLcode use_handshake_identity(CURL *h, void *sslctx, void *arg)
{
    (void)h;
    SSL_CTX_set_cert_cb(sslctx, cella_tls_on_certificate_request, arg);
    return CURLE_OK;
}

void *cella_http_pool_new(void)
{
    pthread_once(&g_curl_once, curl_init_once);
    struct pool *p = calloc(1, sizeof *p);
    if (!p || !(p->share = curl_share_init())) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&p->locks[i], NULL);
    curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, pool_lock);
    curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, pool_unlock);
    curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return p;
}

void cella_http_pool_free(void *pool)
{
    struct pool *p = pool;
    if (!p)
        return;
    curl_share_cleanup(p->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&p->locks[i]);
    free(p);
}

/* Called by libcurl once a connection is up (made or reused, TLS included),
 * right before it sends the request: what tells a failure before the request
 * went out from one after it may have reached the server. */
static int on_prereq(void *started, char *ip, char *local, int port, int local_port)
{
    (void)ip;
    (void)local;
    (void)port;
    (void)local_port;
    *(bool *)started = true;
    return CURL_PREREQFUNC_OK;
}

/* One request to c->base_url. */
static cella_res call_once(const cella_http_client *c, const char *method, const char *path,
                           const char *const *headers, cella_slice body, cella_http_response *resp)
{
    pthread_once(&g_curl_once, curl_init_once);
    resp->status = 0;
    resp->base_url = c->base_url;
    resp->outcome = CELLA_NET_LOCAL;
    cella_buf_init(&resp->body, true);
    char url[4096], pin[128], where[4200];
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    snprintf(where, sizeof where, "%s %s", method, url);
    CURL *h = curl_easy_init();
    CELLA_ENSURE(h, CELLA_E_NOMEM, where, "cannot start an HTTP client");
    struct curl_slist *hl = NULL;
    for (const char *const *x = headers; x && *x; x++)
        hl = curl_slist_append(hl, *x);
    hl = curl_slist_append(hl, "Expect:");
    struct sink s = {&resp->body, c->max_response ? c->max_response : 16u << 20, 0};
    cella_res r = CELLA_OK_RES;
    cella_tls_identity hi = {.c = c, .err = CELLA_OK_RES};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    long timeout = c->timeout_s ? c->timeout_s : 30L;
    bool started = false;
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    /* A replica that drops SYNs costs at most this before the next is tried. */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout < 10 ? timeout : 10L);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, &started);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->reuse) {
        curl_easy_setopt(h, CURLOPT_SHARE, ((struct pool *)c->reuse)->share);
        /* The pool is shared by threads: with libcurl's default of 5 kept
         * connections, a sixth thread would close one on every call. */
        curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 64L);
    }
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L); /* a HEAD reply has no body to wait for */
    } else if (body.len || strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.p);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    }
    if (!strncmp(c->base_url, "https://", 8)) {
        if (!c->pin) {
            r = cella_fail(CELLA_E_USAGE, where, "no pinned fingerprint for this server");
        } else {
            /* The server is self-signed: trust comes from the pinned key, not a CA. */
            char b64[64];
            r = cella_hex_decode(hi.pin, 32, c->pin, strlen(c->pin), "server fingerprint");
            if (cella_ok(r)) {
                cella_base64_encode(b64, sizeof b64, hi.pin, 32);
                snprintf(pin, sizeof pin, "sha256//%s", b64);
                curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
                curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
            }
        }
        if (cella_ok(r) && (c->identity || (c->client_cert && c->client_key))) {
            if (c->identity) {
                curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, use_handshake_identity);
                curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &hi);
            } else {
                curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, use_identity);
                curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c);
            }
            /* libcurl cannot tell connections apart by an identity it did not
             * load itself: a call with one gets a connection of its own, never
             * pooled, so no other call can ride on it or it on another's. */
            curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
        }
    }
    if (cella_ok(r)) {
        CURLcode rc = curl_easy_perform(h);
        resp->outcome = cella_net_classify(rc, started);
        if (hi.failed || s.overflow)
            resp->outcome = CELLA_NET_LOCAL;
        if (hi.failed)
            r = hi.err; /* the identity could not be made: that error, not curl's */
        else if (s.overflow)
            r = cella_fail(CELLA_E_TOOBIG, where, "response larger than %zu bytes", s.max);
        else if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
            r = cella_fail(CELLA_E_AUTH, where,
                           "server key does not match the pinned fingerprint (wrong server, "
                           "or a machine in the middle)");
        else if (rc != CURLE_OK)
            r = cella_fail(CELLA_E_IO, where, "request failed: %s", curl_easy_strerror(rc));
        else
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    if (!cella_ok(r))
        cella_http_response_free(resp);
    return r;
}

cella_res cella_http_call(const cella_http_client *c, const char *method, const char *path,
                          const char *const *headers, cella_slice body, cella_http_response *resp)
{
    return cella_http_call_by(call_once, c, method, path, headers, body, resp);
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
        BIO *tcp = cella_tls_connect_bounded(host, timeout_s);
        if (!tcp)
            r = cella_fail(CELLA_E_IO, url, "cannot connect within %ld s", timeout_s);
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
