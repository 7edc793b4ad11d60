#include "net/tls_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <http_parser.h>
#include <jansson.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/metrics.h"
#include "core/secure.h"
#include "crypto/spki.h"

int cella_tls_on_certificate_request(SSL *ssl, void *arg)
{
    cella_tls_identity *hi = arg;
    const cella_http_client *c = hi->c;
    uint8_t got[32], cr[32], sr[32];
    cella_res r = cella_x509_spki_sha256(SSL_get0_peer_certificate(ssl), got);
    if (cella_ok(r) && !cella_ct_eq(got, hi->pin, 32))
        r = cella_fail(CELLA_E_AUTH, c->base_url,
                       "server key does not match the pinned fingerprint (wrong server, or a "
                       "machine in the middle)");
    if (cella_ok(r) &&
        (SSL_get_client_random(ssl, cr, 32) != 32 || SSL_get_server_random(ssl, sr, 32) != 32))
        r = cella_fail(CELLA_E_CRYPTO, c->base_url, "no handshake randoms");
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    if (cella_ok(r))
        r = c->identity(cr, sr, c->identity_ctx, &x, &k);
    if (cella_ok(r) && (!x || !k || SSL_use_certificate(ssl, x) != 1 ||
                        SSL_use_PrivateKey(ssl, k) != 1 || SSL_check_private_key(ssl) != 1))
        r = cella_fail(CELLA_E_CRYPTO, c->base_url, "cannot use the client identity");
    if (cella_ok(r))
        return 1;
    hi->failed = 1;
    hi->err = r;
    return 0;
}

static bool set_io_timeout(int fd, long timeout_s)
{
    struct timeval tv = {.tv_sec = timeout_s};
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
           setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
}

/* One non-blocking connect to `ai`, waited for until deadline_ns: the socket,
 * blocking again, or -1 with errno saying why. A refusal is an answer, not
 * something to retry until the deadline (OpenSSL's BIO_do_connect_retry
 * with a 0 ms nap retried a refused port in a busy loop). */
static int connect_one(const struct addrinfo *ai, uint64_t deadline_ns)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS)
            goto fail;
        for (;;) {
            uint64_t now = cella_monotonic_ns();
            if (now >= deadline_ns) {
                errno = ETIMEDOUT;
                goto fail;
            }
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int k = poll(&pf, 1, (int)((deadline_ns - now + 999999) / 1000000));
            if (k < 0 && errno != EINTR)
                goto fail;
            if (k > 0)
                break;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            goto fail;
        if (err) {
            errno = err;
            goto fail;
        }
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
        return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* host:port's addresses: a numeric host without asking the resolver (which
 * asks the kernel for the machine's addresses on every call). */
static int resolve(const char *hostport, struct addrinfo **res, char *why, size_t cap)
{
    char *host = NULL, *port = NULL;
    if (!BIO_parse_hostserv(hostport, &host, &port, BIO_PARSE_PRIO_HOST) || !host || !port) {
        OPENSSL_free(host);
        OPENSSL_free(port);
        ERR_clear_error();
        snprintf(why, cap, "not a host:port");
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    int g = getaddrinfo(host, port, &hints, res);
    if (g == EAI_NONAME) {
        hints.ai_flags = AI_ADDRCONFIG;
        g = getaddrinfo(host, port, &hints, res);
    }
    if (g != 0)
        snprintf(why, cap, "cannot resolve %s: %s", host, gai_strerror(g));
    OPENSSL_free(host);
    OPENSSL_free(port);
    return g == 0 ? 0 : -1;
}

BIO *cella_tls_connect_bounded(const char *host, long timeout_s, char *why, size_t cap)
{
    struct addrinfo *res = NULL;
    if (resolve(host, &res, why, cap) != 0)
        return NULL;
    uint64_t deadline = cella_monotonic_ns() + (uint64_t)timeout_s * 1000000000u;
    int fd = -1;
    errno = EADDRNOTAVAIL;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline);
    int e = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(why, cap, "%s", e == ETIMEDOUT ? "no answer within the timeout" : strerror(e));
        return NULL;
    }
    BIO *b = set_io_timeout(fd, timeout_s) ? BIO_new_socket(fd, BIO_CLOSE) : NULL;
    if (!b) {
        close(fd);
        snprintf(why, cap, "cannot set up the socket");
    }
    return b;
}

void cella_http_response_free(cella_http_response *resp) { cella_buf_free(&resp->body); }

cella_res cella_http_fail_from(const cella_http_response *resp, const char *where)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)resp->body.p, resp->body.len, 0, &je);
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    cella_code code = resp->status == 403 || resp->status == 401 ? CELLA_E_PERM
                      : resp->status == 404                       ? CELLA_E_NOTFOUND
                      : resp->status == 409                       ? CELLA_E_ROLLBACK
                      : resp->status == 413                       ? CELLA_E_TOOBIG
                                                                  : CELLA_E_IO;
    cella_res r = cella_fail(code, where, "server refused (HTTP %ld): %s", resp->status,
                             msg ? msg : "no reason given");
    json_decref(j);
    return r;
}

/* ---- one request ---------------------------------------------------------- */

/* What the reply parser fills in. */
struct reply {
    cella_buf *body;
    size_t max;
    bool head;     /* a HEAD reply has no body, whatever its headers say */
    bool overflow;
    bool done;
    cella_http_body_fn sink; /* optional: where a 2xx reply's body goes */
    void *sink_ctx;
    cella_res sink_err;
};

static int on_headers_complete(http_parser *p) { return ((struct reply *)p->data)->head ? 1 : 0; }

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct reply *rp = p->data;
    if (rp->sink && p->status_code / 100 == 2) {
        rp->sink_err = rp->sink(rp->sink_ctx, (const uint8_t *)at, n);
        return cella_ok(rp->sink_err) ? 0 : 1;
    }
    if (n > rp->max - rp->body->len) {
        rp->overflow = true;
        return 1;
    }
    cella_buf_append(rp->body, at, n);
    return rp->body->failed ? 1 : 0;
}

static int on_message_complete(http_parser *p)
{
    ((struct reply *)p->data)->done = true;
    http_parser_pause(p, 1); /* nothing after the reply is read */
    return 0;
}

/* The URL split: scheme, "host:port" for the connect, the host alone (SNI)
 * and any path prefix the base URL carries. */
typedef struct {
    bool tls;
    char hostport[300];
    char host[300];
    const char *prefix;
} target;

static cella_res split_url(const char *url, target *t)
{
    const char *rest;
    if (!strncmp(url, "https://", 8)) {
        t->tls = true;
        rest = url + 8;
    } else {
        CELLA_ENSURE(!strncmp(url, "http://", 7), CELLA_E_USAGE, url, "expected http:// or https://");
        t->tls = false;
        rest = url + 7;
    }
    size_t n = strcspn(rest, "/");
    CELLA_ENSURE(n > 0 && n + 5 < sizeof t->hostport, CELLA_E_USAGE, url, "no host in the URL");
    memcpy(t->hostport, rest, n);
    t->hostport[n] = '\0';
    t->prefix = rest + n;
    /* no port: the scheme's (a name behind a proxy such as https://hub.example.org) */
    if (t->hostport[0] == '[' ? !strstr(t->hostport, "]:") : !strchr(t->hostport, ':'))
        strcat(t->hostport, t->tls ? ":443" : ":80");
    /* "[::1]:8081" or "host:8081": the host without brackets and port */
    const char *h = t->hostport;
    const char *end = h[0] == '[' ? strchr(h, ']') : strrchr(h, ':');
    CELLA_ENSURE(end, CELLA_E_USAGE, url, "malformed host");
    if (h[0] == '[')
        h++;
    snprintf(t->host, sizeof t->host, "%.*s", (int)(end - h), h);
    return CELLA_OK_RES;
}

/* A name worth sending as SNI (not an address literal). */
static bool is_name(const char *host)
{
    return strspn(host, "0123456789.") != strlen(host) && !strchr(host, ':');
}

static cella_res build_request(const target *t, const char *method, const char *path,
                               const char *const *headers, cella_slice body, bool keep,
                               cella_buf *req)
{
    char line[600];
    int n = snprintf(line, sizeof line, "%s %s%s HTTP/1.1\r\nHost: %s\r\n%s", method, t->prefix,
                     path, t->hostport, keep ? "" : "Connection: close\r\n");
    CELLA_ENSURE(n > 0 && (size_t)n < sizeof line, CELLA_E_TOOBIG, path, "request line too long");
    cella_buf_append(req, line, (size_t)n);
    if (body.len || (strcmp(method, "GET") && strcmp(method, "HEAD"))) {
        n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", body.len);
        cella_buf_append(req, line, (size_t)n);
    }
    for (const char *const *h = headers; h && *h; h++) {
        CELLA_ENSURE(!strpbrk(*h, "\r\n"), CELLA_E_USAGE, path, "a header holds a line break");
        cella_buf_append(req, *h, strlen(*h));
        cella_buf_append(req, "\r\n", 2);
    }
    cella_buf_append(req, "\r\n", 2);
    cella_buf_append(req, body.p, body.len);
    return cella_buf_result(req);
}

/* The handshake (TLS only), then the pin: nothing is sent to a server whose
 * key is not the pinned one. */
static cella_res handshake(SSL *ssl, const cella_tls_identity *hi, const char *where,
                           cella_net_outcome *outcome)
{
    if (SSL_connect(ssl) != 1) {
        ERR_clear_error();
        if (hi->failed) {
            *outcome = CELLA_NET_LOCAL;
            return hi->err;
        }
        *outcome = CELLA_NET_UNSENT;
        return cella_fail(CELLA_E_IO, where, "request failed: TLS 1.3 handshake failed");
    }
    uint8_t got[32];
    *outcome = CELLA_NET_LOCAL;
    CELLA_TRY(cella_x509_spki_sha256(SSL_get0_peer_certificate(ssl), got));
    CELLA_ENSURE(cella_ct_eq(got, hi->pin, 32), CELLA_E_AUTH, where,
                 "server key does not match the pinned fingerprint (wrong server, or a machine "
                 "in the middle)");
    return CELLA_OK_RES;
}

/* cella_http_read_reply, a 2xx reply's body to `sink` when set. */
static cella_res read_reply(BIO *io, const char *method, size_t max, uint64_t deadline_ns,
                            const char *where, cella_http_body_fn sink, void *sink_ctx,
                            cella_http_response *resp, bool *keep)
{
    struct reply rp = {&resp->body, max, !strcmp(method, "HEAD"), false, false,
                       sink, sink_ctx, CELLA_OK_RES};
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &rp;
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_headers_complete = on_headers_complete;
    st.on_body = on_body;
    st.on_message_complete = on_message_complete;
    char buf[16384]; /* the reply may carry keys: wiped on every way out */
    cella_res r = CELLA_OK_RES;
    while (cella_ok(r) && !rp.done) {
        if (cella_monotonic_ns() >= deadline_ns) {
            r = cella_fail(CELLA_E_IO, where, "request failed: no whole reply in time");
            break;
        }
        size_t got = 0;
        int ok = BIO_read_ex(io, buf, sizeof buf, &got);
        /* EOF tells the parser that a body without a length has ended */
        http_parser_execute(&p, &st, buf, ok ? got : 0);
        if (!cella_ok(rp.sink_err))
            r = rp.sink_err;
        else if (rp.overflow)
            r = cella_fail(CELLA_E_TOOBIG, where, "response larger than %zu bytes", max);
        else if (HTTP_PARSER_ERRNO(&p) != HPE_OK && HTTP_PARSER_ERRNO(&p) != HPE_PAUSED)
            r = cella_fail(CELLA_E_PARSE, where, "malformed HTTP reply: %s",
                           http_errno_description(HTTP_PARSER_ERRNO(&p)));
        else if (!ok && !rp.done)
            r = cella_fail(CELLA_E_IO, where,
                           "request failed: the connection ended before the whole reply");
        if (!ok)
            break;
    }
    cella_wipe(buf, sizeof buf);
    ERR_clear_error();
    CELLA_TRY(r);
    resp->status = p.status_code;
    *keep = http_should_keep_alive(&p) != 0;
    return CELLA_OK_RES;
}

cella_res cella_http_read_reply(BIO *io, const char *method, size_t max, uint64_t deadline_ns,
                                const char *where, cella_http_response *resp, bool *keep)
{
    return read_reply(io, method, max, deadline_ns, where, NULL, NULL, resp, keep);
}

/* Connects (TLS with the pin and identity when https): *io is the stream. */
static cella_res open_conn(const cella_http_client *c, const target *t, SSL_CTX *ctx,
                           const cella_tls_identity *hi, const char *where, BIO **io,
                           cella_net_outcome *outcome)
{
    long timeout = c->timeout_s ? c->timeout_s : 30L;
    *outcome = CELLA_NET_UNSENT;
    /* A replica that drops SYNs costs at most 10 s before the next is tried. */
    char why[200];
    BIO *tcp = cella_tls_connect_bounded(t->hostport, timeout < 10 ? timeout : 10L, why, sizeof why);
    CELLA_ENSURE(tcp, CELLA_E_IO, where, "request failed: cannot connect: %s", why);
    int fd = -1, one = 1;
    BIO_get_fd(tcp, &fd);
    /* No Nagle: the request follows the handshake's last flight at once
     * instead of waiting for its ACK (a delayed ACK costs 40 ms). */
    if (!set_io_timeout(fd, timeout) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        BIO_free_all(tcp);
        return cella_fail(CELLA_E_IO, where, "cannot set socket timeouts");
    }
    *io = tcp;
    if (!t->tls)
        return CELLA_OK_RES;
    BIO *sb = BIO_new_ssl(ctx, 1);
    SSL *ssl = NULL;
    CELLA_ENSURE(sb, CELLA_E_CRYPTO, where, "cannot create a TLS client");
    *io = BIO_push(sb, tcp);
    BIO_get_ssl(sb, &ssl);
    if (is_name(t->host))
        SSL_set_tlsext_host_name(ssl, t->host);
    return handshake(ssl, hi, where, outcome);
}

static cella_res send_request(BIO *io, const cella_buf *req, const char *where,
                              cella_net_outcome *outcome)
{
    *outcome = CELLA_NET_UNANSWERED; /* from the first byte on, it may have arrived */
    size_t sent = 0;
    CELLA_ENSURE(BIO_write_ex(io, req->p, req->len, &sent) == 1 && sent == req->len &&
                     BIO_flush(io) == 1,
                 CELLA_E_IO, where, "request failed: cannot send the request");
    return CELLA_OK_RES;
}

/* ---- kept connections ----------------------------------------------------- */

/* Connections kept after a call for the next call to the same server with the
 * same client identity: the hub client's several calls ride on one kept-alive
 * connection, the worker's slots share theirs with cas and the hub, and the
 * runtime's tag push rides on the connection its attestation made (the
 * certificate made in that handshake). A call takes a connection only if it
 * is to the same URL, with the same pin (the one the connection's handshake
 * was checked against) and presents the very certificate the connection was
 * made with (compared whole, not by address), or none when it presents none.
 * A call that makes its identity in the handshake (c->identity) never takes
 * one: its evidence is bound to its own handshake. Thread-safe. */
/* as many as a worker has slots (each may hold one to the hub and one to cas
 * at a time), libcurl's figure for the pools it replaced */
#define POOL_MAX 64
/* kept connections made with a client certificate: an enclave presents its
 * one identity again (its tag push rides on its attestation's connection);
 * a few more cover threads attesting at once */
#define POOL_ATTESTED_MAX 4

typedef struct {
    BIO *io;
    SSL_CTX *ctx; /* NULL for http:// */
    X509 *cert;   /* the identity the connection was made with (a reference of ours), or NULL */
    char url[512];
    char pin[65]; /* "" for http:// */
} kept_conn;

struct cella_tls_pool {
    pthread_mutex_t mu;
    kept_conn conn[POOL_MAX];
    size_t n;
};

cella_tls_pool *cella_tls_pool_new(void)
{
    cella_tls_pool *p = calloc(1, sizeof *p);
    if (p)
        pthread_mutex_init(&p->mu, NULL);
    return p;
}

static void conn_drop(kept_conn *k)
{
    BIO_free_all(k->io);
    SSL_CTX_free(k->ctx);
    X509_free(k->cert);
    memset(k, 0, sizeof *k);
}

/* Removes entry i, keeping the others in the order they were kept. */
static void pool_remove(cella_tls_pool *p, size_t i)
{
    memmove(&p->conn[i], &p->conn[i + 1], (p->n - i - 1) * sizeof p->conn[0]);
    p->n--;
    memset(&p->conn[p->n], 0, sizeof p->conn[0]);
}

void cella_tls_pool_free(cella_tls_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        conn_drop(&p->conn[i]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* The server has not closed it, nor sent anything unasked. */
static bool still_open(BIO *io)
{
    int fd = -1;
    BIO_get_fd(io, &fd);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return fd >= 0 && poll(&pf, 1, 0) == 0;
}

static bool same_identity(const kept_conn *k, const cella_http_client *c, bool tls)
{
    if (strcmp(k->url, c->base_url) != 0)
        return false;
    if (!tls)
        return true;
    if (!c->pin || strcmp(k->pin, c->pin) != 0)
        return false;
    if (c->client_cert && c->client_key)
        return k->cert && X509_cmp(k->cert, c->client_cert) == 0;
    return !k->cert;
}

/* A kept connection for this call, taken out of the pool, or NULL. Closed
 * ones met on the way are dropped. */
static BIO *pool_take(cella_tls_pool *p, const cella_http_client *c, bool tls, SSL_CTX **ctx)
{
    BIO *io = NULL;
    if (c->identity)
        return NULL;
    pthread_mutex_lock(&p->mu);
    for (size_t i = p->n; i-- > 0 && !io;) {
        kept_conn *k = &p->conn[i];
        if (!same_identity(k, c, tls))
            continue;
        if (still_open(k->io)) {
            io = k->io;
            *ctx = k->ctx;
            k->io = NULL;
            k->ctx = NULL;
        }
        conn_drop(k);
        pool_remove(p, i);
    }
    pthread_mutex_unlock(&p->mu);
    return io;
}

/* Makes room for one more connection made with a client certificate: at most
 * POOL_ATTESTED_MAX are kept, the oldest going first. Each attestation makes
 * a new identity, so a client attesting again and again (a benchmark, a
 * long-lived tool) would otherwise fill the pool with connections nobody
 * presents again, until the server's per-address limit refuses new ones. */
static void pool_trim_attested(cella_tls_pool *p)
{
    size_t with_cert = 0;
    for (size_t i = 0; i < p->n; i++)
        with_cert += p->conn[i].cert != NULL;
    for (size_t i = 0; i < p->n && with_cert >= POOL_ATTESTED_MAX;) {
        if (!p->conn[i].cert) {
            i++;
            continue;
        }
        conn_drop(&p->conn[i]);
        pool_remove(p, i);
        with_cert--;
    }
}

/* Keeps the connection of a call whose server keeps it open; the oldest kept
 * one goes when the pool is full. A call that made its identity in the
 * handshake keeps it only with that identity (the next call presents it). */
static void pool_keep(cella_tls_pool *p, const cella_http_client *c, bool tls, BIO **io,
                      SSL_CTX **ctx)
{
    SSL *ssl = NULL;
    if (tls)
        BIO_get_ssl(*io, &ssl);
    X509 *cert = ssl ? SSL_get_certificate(ssl) : NULL;
    if ((tls && !ssl) || (c->identity && !cert) || strlen(c->base_url) >= sizeof p->conn[0].url ||
        (tls && (!c->pin || strlen(c->pin) >= sizeof p->conn[0].pin)) ||
        (cert && X509_up_ref(cert) != 1))
        return;
    pthread_mutex_lock(&p->mu);
    if (cert)
        pool_trim_attested(p);
    if (p->n == POOL_MAX) {
        conn_drop(&p->conn[0]);
        pool_remove(p, 0);
    }
    kept_conn *k = &p->conn[p->n++];
    k->io = *io;
    k->ctx = *ctx;
    k->cert = cert;
    snprintf(k->url, sizeof k->url, "%s", c->base_url);
    snprintf(k->pin, sizeof k->pin, "%s", tls ? c->pin : "");
    pthread_mutex_unlock(&p->mu);
    *io = NULL;
    *ctx = NULL;
}

/* The TLS client context: TLS 1.3, trust from the pin (checked by hand, the
 * server is self-signed), and the client identity when there is one. */
static cella_res make_ctx(const cella_http_client *c, cella_tls_identity *hi, const char *where,
                          SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    *out = ctx;
    CELLA_ENSURE(ctx, CELLA_E_CRYPTO, where, "cannot create a TLS client");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    CELLA_ENSURE(c->pin, CELLA_E_USAGE, where, "no pinned fingerprint for this server");
    CELLA_TRY(cella_hex_decode(hi->pin, 32, c->pin, strlen(c->pin), "server fingerprint"));
    if (c->identity) {
        SSL_CTX_set_cert_cb(ctx, cella_tls_on_certificate_request, hi);
    } else if (c->client_cert && c->client_key) {
        CELLA_ENSURE(SSL_CTX_use_certificate(ctx, c->client_cert) == 1 &&
                         SSL_CTX_use_PrivateKey(ctx, c->client_key) == 1 &&
                         SSL_CTX_check_private_key(ctx) == 1,
                     CELLA_E_CRYPTO, where, "cannot use the client certificate");
    }
    return CELLA_OK_RES;
}

/* One request on a kept connection when the pool has one (*reused), else on
 * a new one. *stale: the kept connection gave nothing back (the server had
 * closed it while it sat in the pool). */
static cella_res call_on(const cella_http_client *c, const char *method, const char *path,
                         const char *const *headers, cella_slice body, cella_http_response *resp,
                         const struct reply *to, bool may_reuse, bool *reused, bool *stale)
{
    resp->status = 0;
    resp->base_url = c->base_url;
    resp->outcome = CELLA_NET_LOCAL;
    cella_buf_init(&resp->body, true);
    *reused = *stale = false;
    char where[4200];
    snprintf(where, sizeof where, "%s %s%s", method, c->base_url, path);
    target t;
    cella_tls_identity hi = {.c = c, .err = CELLA_OK_RES};
    cella_tls_pool *pool = c->reuse;
    SSL_CTX *ctx = NULL;
    BIO *io = NULL;
    bool keep = false;
    cella_buf req;
    cella_buf_init(&req, true); /* it may carry tokens and secrets */
    cella_res r = split_url(c->base_url, &t);
    if (cella_ok(r) && pool && may_reuse)
        *reused = (io = pool_take(pool, c, t.tls, &ctx)) != NULL;
    if (cella_ok(r) && t.tls && !io)
        r = make_ctx(c, &hi, where, &ctx);
    if (cella_ok(r))
        r = build_request(&t, method, path, headers, body, pool != NULL, &req);
    long timeout = c->timeout_s ? c->timeout_s : 30L;
    /* streamed: as long as it takes, but no read or write waits more than timeout_s */
    uint64_t deadline_ns =
        to ? UINT64_MAX : cella_monotonic_ns() + (uint64_t)timeout * 1000000000u;
    if (cella_ok(r) && !io)
        r = open_conn(c, &t, ctx, &hi, where, &io, &resp->outcome);
    uint64_t read_before = io ? BIO_number_read(io) : 0;
    if (cella_ok(r))
        r = send_request(io, &req, where, &resp->outcome);
    if (cella_ok(r))
        r = read_reply(io, method, c->max_response ? c->max_response : 16u << 20, deadline_ns,
                       where, to ? to->sink : NULL, to ? to->sink_ctx : NULL, resp, &keep);
    if (cella_ok(r))
        resp->outcome = CELLA_NET_ANSWERED;
    else if (r.code == CELLA_E_TOOBIG)
        resp->outcome = CELLA_NET_LOCAL;
    else if (*reused && r.code == CELLA_E_IO && BIO_number_read(io) == read_before)
        *stale = true;
    if (cella_ok(r) && keep && pool)
        pool_keep(pool, c, t.tls, &io, &ctx);
    BIO_free_all(io);
    SSL_CTX_free(ctx);
    cella_buf_free(&req);
    ERR_clear_error();
    if (!cella_ok(r))
        cella_http_response_free(resp);
    return r;
}

/* One request to c->base_url; a kept connection the server had closed is
 * replaced by a new one once, as libcurl did. */
static cella_res call_once(const cella_http_client *c, const char *method, const char *path,
                           const char *const *headers, cella_slice body, cella_http_response *resp)
{
    bool reused, stale;
    cella_res r = call_on(c, method, path, headers, body, resp, NULL, true, &reused, &stale);
    if (cella_ok(r) || !stale)
        return r;
    cella_error_clear();
    return call_on(c, method, path, headers, body, resp, NULL, false, &reused, &stale);
}

cella_res cella_tls_http_get_to(const cella_http_client *c, const char *path,
                                cella_http_body_fn sink, void *ctx, cella_http_response *resp)
{
    CELLA_ENSURE(!c->reuse && !c->endpoints, CELLA_E_USAGE, path,
                 "a streamed GET takes no pool and no replicas");
    struct reply to = {.sink = sink, .sink_ctx = ctx};
    bool reused, stale;
    return call_on(c, "GET", path, NULL, cella_slice_of("", 0), resp, &to, false, &reused,
                   &stale);
}

struct plain_call {
    cella_http_once_fn once;
    const char *method, *path;
    const char *const *headers;
    cella_slice body;
    cella_http_response *resp;
};

static cella_res plain_attempt(const cella_http_client *one, void *ctx, cella_net_outcome *outcome)
{
    struct plain_call *p = ctx;
    cella_res r = p->once(one, p->method, p->path, p->headers, p->body, p->resp);
    *outcome = p->resp->outcome;
    return r;
}

cella_res cella_http_call_by(cella_http_once_fn once, const cella_http_client *c,
                             const char *method, const char *path, const char *const *headers,
                             cella_slice body, cella_http_response *resp)
{
    if (!c->endpoints)
        return once(c, method, path, headers, body, resp);
    struct plain_call p = {once, method, path, headers, body, resp};
    char what[300];
    snprintf(what, sizeof what, "%s %.250s", method, path);
    return cella_failover(c, c->repeatable || cella_net_repeatable_method(method), what,
                          plain_attempt, &p);
}

cella_res cella_tls_http_call(const cella_http_client *c, const char *method, const char *path,
                              const char *const *headers, cella_slice body,
                              cella_http_response *resp)
{
    return cella_http_call_by(call_once, c, method, path, headers, body, resp);
}
