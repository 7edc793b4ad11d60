#include "net/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "crypto/spki.h"
#include "net/http_guard.h"
#include "net/http_metrics.h"

_Static_assert(CELLA_HTTP_ALL_METHODS ==
                   (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH),
               "CELLA_HTTP_ALL_METHODS must name every libevent method");

struct cella_http_req {
    struct evhttp_request *ev;
    const char *method;
    char path[2048];
    struct evkeyvalq query;
    cella_slice body;
    char peer[64];
    struct event_base *base;
    int deferred; /* a heap copy from cella_http_defer, freed by the reply */
    cella_http_metrics *metrics; /* NULL: not counted */
    unsigned route;
    uint64_t start_ns;
    cella_http_guard *guard;
    uint32_t addr; /* the client's IPv4 address, for its long-poll places (once deferred) */
};

/* Counts the request as answered with `status`, once its reply is sent. */
static void count_reply(const cella_http_req *r, int status)
{
    if (r->metrics)
        cella_http_metrics_observe(r->metrics, r->route, status,
                                   cella_monotonic_ns() - r->start_ns);
}

/* A deferred request is answered: its long-poll place and copy go. */
static void free_deferred(cella_http_req *r)
{
    if (!r->deferred)
        return;
    cella_http_guard_poll_end(r->guard, r->addr);
    evhttp_clear_headers(&r->query);
    free(r);
}

/* ---- request view -------------------------------------------------------------- */

const char *cella_http_method(const cella_http_req *r) { return r->method; }
const char *cella_http_target(const cella_http_req *r) { return evhttp_request_get_uri(r->ev); }

cella_res cella_http_unescape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    char *d = evhttp_uridecode(in, 0, &n);
    cella_res r = CELLA_OK_RES;
    if (!d || n >= cap || memchr(d, '\0', n))
        r = cella_fail(CELLA_E_PARSE, "path", "malformed path segment");
    else
        memcpy(out, d, n + 1);
    free(d);
    return r;
}
const char *cella_http_path(const cella_http_req *r) { return r->path; }
cella_slice cella_http_body(const cella_http_req *r) { return r->body; }
const char *cella_http_peer(const cella_http_req *r) { return r->peer; }

const char *cella_http_query(const cella_http_req *r, const char *key)
{
    return evhttp_find_header(&((cella_http_req *)r)->query, key);
}

const char *cella_http_header(const cella_http_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

static SSL *request_ssl(const cella_http_req *r)
{
    struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
    return c ? cella_http_guard_ssl(evhttp_connection_get_bufferevent(c)) : NULL;
}

X509 *cella_http_peer_cert(const cella_http_req *r)
{
    SSL *ssl = request_ssl(r);
    return ssl ? SSL_get0_peer_certificate(ssl) : NULL;
}

static int g_once_index = -1;
static pthread_once_t g_once_index_once = PTHREAD_ONCE_INIT;
static void once_index_init(void) { g_once_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

bool cella_http_tls_claim_once(const cella_http_req *r)
{
    pthread_once(&g_once_index_once, once_index_init);
    SSL *ssl = request_ssl(r);
    if (!ssl || g_once_index < 0 || SSL_get_ex_data(ssl, g_once_index))
        return false;
    return SSL_set_ex_data(ssl, g_once_index, (void *)1) == 1;
}

bool cella_http_tls_randoms(const cella_http_req *r, uint8_t client_random[32],
                            uint8_t server_random[32])
{
    SSL *ssl = request_ssl(r);
    return ssl && SSL_get_client_random(ssl, client_random, 32) == 32 &&
           SSL_get_server_random(ssl, server_random, 32) == 32;
}

void cella_http_reply(cella_http_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (text) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
        /* Replies may carry keys (attestation answers): wipe our copy. */
        cella_wipe(text, strlen(text));
        free(text);
    }
    const char *reason = status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    evhttp_send_reply(r->ev, status, reason, out);
    evbuffer_free(out);
    count_reply(r, status);
    free_deferred(r);
}

void cella_http_reply_bytes(cella_http_req *r, int status, const char *type, const void *body,
                            size_t len, const char *const *headers)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_add_header(h, "Content-Type", type);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        evhttp_add_header(h, headers[i], headers[i + 1]);
    if (out && len)
        evbuffer_add(out, body, len);
    const char *reason = status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    evhttp_send_reply(r->ev, status, reason, out);
    if (out)
        evbuffer_free(out);
    count_reply(r, status);
    free_deferred(r);
}

cella_http_req *cella_http_defer(cella_http_req *r)
{
    r->addr = cella_http_guard_addr(r->ev); /* only long polls need it: not per request */
    if (!cella_http_guard_poll_begin(r->guard, r->addr))
        return NULL;
    cella_http_req *d = malloc(sizeof *d);
    if (!d) {
        cella_http_guard_poll_end(r->guard, r->addr);
        return NULL;
    }
    *d = *r;
    d->query.tqh_first = NULL; /* its own copy of the query: r's is cleared on return */
    d->query.tqh_last = &d->query.tqh_first;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && evhttp_parse_query_str(q, &d->query) != 0) {
        evhttp_clear_headers(&d->query);
        free(d);
        cella_http_guard_poll_end(r->guard, r->addr);
        return NULL;
    }
    d->body = cella_slice_of((const uint8_t *)"", 0);
    d->deferred = 1;
    return d;
}

struct event_base *cella_http_base(const cella_http_req *r) { return r->base; }

void cella_http_error(cella_http_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cella_http_reply(r, status, json_pack("{s:s, s:s}", "error", msg, "code", code));
}

int cella_http_status_for(cella_code c)
{
    switch (c) {
    case CELLA_E_PARSE:
    case CELLA_E_USAGE:
    case CELLA_E_PATH:
    case CELLA_E_UNSUPPORTED:
        return 400;
    case CELLA_E_AUTH:
        return 401;
    case CELLA_E_PERM:
    case CELLA_E_POLICY:
        return 403;
    case CELLA_E_NOTFOUND:
        return 404;
    case CELLA_E_EXISTS:
    case CELLA_E_ROLLBACK:
        return 409;
    case CELLA_E_TOOBIG:
        return 413;
    case CELLA_E_UNAVAILABLE: /* the database is down: retry later */
        return 503;
    default:
        return 500;
    }
}

void cella_http_reply_failure(cella_http_req *r, cella_res failure)
{
    const char *where = cella_error_where();
    int status = cella_http_status_for(failure.code);
    if (where && *where)
        cella_http_error(r, status, cella_code_str(failure.code), "%s (%s)", cella_error_what(),
                         where);
    else
        cella_http_error(r, status, cella_code_str(failure.code), "%s", cella_error_what());
}

/* ---- dispatch -------------------------------------------------------------------- */

struct worker {
    const cella_http_config *cfg;
    cella_http_guard *guard; /* shared by the threads */
    cella_http_metrics *metrics; /* shared by the threads; NULL without cfg->name */
    struct event_base *base;
    struct evhttp *http;
    void *tctx;
    pthread_t thread;
    int ready; /* 1 bound, -1 failed */
    char err[256];
};

/* GET /metrics: the request metrics, then the application's. */
static void scrape(struct worker *w, cella_http_req *r)
{
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        cella_http_error(r, 405, "method", "method %s not allowed on /metrics", r->method);
        return;
    }
    cella_buf out;
    cella_buf_init(&out, false);
    cella_http_metrics_write(w->metrics, &out);
    cella_http_guard_metrics(w->guard, &out);
    if (w->cfg->metrics)
        w->cfg->metrics(&out, w->cfg->app, w->tctx);
    if (out.failed)
        cella_http_error(r, 500, "internal", "out of memory");
    else
        cella_http_reply_bytes(r, 200, CELLA_METRICS_CONTENT_TYPE, out.p, out.len,
                               (const char *const[]){"Cache-Control", "no-store", NULL});
    cella_buf_free(&out);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct worker *w = arg;
    cella_http_req r;
    memset(&r, 0, sizeof r);
    r.ev = ev;
    r.base = w->base;
    r.guard = w->guard;
    r.query.tqh_first = NULL; /* TAILQ_INIT, without sys/queue.h */
    r.query.tqh_last = &r.query.tqh_first;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
    if (w->metrics) {
        r.metrics = w->metrics;
        r.start_ns = cella_monotonic_ns();
        r.route = cella_http_metrics_route(w->metrics, p);
    }
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET: r.method = "GET"; break;
    case EVHTTP_REQ_POST: r.method = "POST"; break;
    case EVHTTP_REQ_PUT: r.method = "PUT"; break;
    case EVHTTP_REQ_DELETE: r.method = "DELETE"; break;
    case EVHTTP_REQ_HEAD: r.method = "HEAD"; break;
    default: /* allowed through libevent only so the refusal is JSON too */
        cella_http_error(&r, 405, "method", "method not allowed");
        return;
    }
    /* The path stays percent-encoded: routers split it on '/' first and
     * decode each segment (cella_http_unescape), so "%2F" inside a name
     * cannot forge a path separator. */
    if (!p || !*p || strlen(p) >= sizeof r.path) {
        cella_http_error(&r, 400, "bad_path", "malformed request path");
        return;
    }
    strcpy(r.path, p);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q && evhttp_parse_query_str(q, &r.query) != 0) {
        cella_http_error(&r, 400, "bad_query", "malformed query string");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t n = evbuffer_get_length(in);
    /* The guard refuses this while the body arrives; a request pipelined
     * behind another may reach here unchecked, so the cap is checked again. */
    size_t cap = cella_http_guard_cap(w->guard, r.method, r.path);
    if (n > cap) {
        evhttp_clear_headers(&r.query);
        cella_http_error(&r, 413, "too_large", "request body larger than %zu bytes (%s %s)", cap,
                         r.method, r.path);
        return;
    }
    r.body = cella_slice_of(n ? evbuffer_pullup(in, -1) : (const uint8_t *)"", n);
    struct evhttp_connection *c = evhttp_request_get_connection(ev);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (c)
        evhttp_connection_get_peer(c, &addr, &port);
    snprintf(r.peer, sizeof r.peer, "%s:%u", addr ? addr : "?", port);
    if (w->metrics && !strcmp(r.path, "/metrics"))
        scrape(w, &r);
    else
        w->cfg->handler(&r, w->tctx);
    evhttp_clear_headers(&r.query);
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

cella_res cella_http_listen(const char *addr, const char *opt, int *fd, char url[64])
{
    struct sockaddr_in sa;
    *fd = -1;
    CELLA_ENSURE(addr && parse_listen(addr, &sa) == 0, CELLA_E_USAGE, opt,
                 "expected IPv4 ADDRESS:PORT, got '%s'", addr ? addr : "");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CELLA_ENSURE(s >= 0, CELLA_E_IO, opt, "socket: %s", strerror(errno));
    int one = 1;
    socklen_t sl = sizeof sa;
    /* Accepted sockets inherit TCP_NODELAY from the listener on Linux: without
     * it, a reply split into TLS records waits for a delayed ACK (~40 ms). */
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 1024) != 0 ||
        getsockname(s, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(s);
        return cella_fail(CELLA_E_IO, opt, "cannot listen on %s: %s", addr,
                          e == EADDRINUSE ? "address in use" : strerror(e));
    }
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(url, 64, "%s:%u", host, ntohs(sa.sin_port));
    *fd = s;
    return CELLA_OK_RES;
}

bool cella_http_attach(struct event_base *base, struct evhttp *http, int fd)
{
    /* A duplicate shares the socket: closing it (the listener's free) leaves
     * the other threads' copies listening. Backlog 0: already listening. */
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return false;
    struct evconnlistener *l =
        evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, d);
    if (!l) {
        int e = errno;
        close(d);
        errno = e;
        return false;
    }
    if (!evhttp_bind_listener(http, l)) {
        int e = errno;
        evconnlistener_free(l);
        errno = e;
        return false;
    }
    return true;
}

static size_t largest_cap(const cella_http_config *cfg)
{
    size_t m = cfg->max_body;
    for (const cella_http_body_limit *l = cfg->body_limits; l && l->prefix; l++)
        m = l->max > m ? l->max : m;
    return m;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* Signals go to the main thread only. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    w->tctx = w->cfg->thread_init ? w->cfg->thread_init(w->cfg->app) : NULL;
    if (w->cfg->thread_init && !w->tctx) {
        snprintf(w->err, sizeof w->err, "thread setup failed: %s", cella_error_what());
        __atomic_store_n(&w->ready, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    /* The changelist folds a connection's many enable/disable calls between two
     * polls into one epoll_ctl: without it a TLS request cost ~14 of them. */
    struct event_config *ec = event_config_new();
    if (ec)
        event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = ec ? event_base_new_with_config(ec) : NULL;
    event_config_free(ec);
    w->http = w->base ? evhttp_new(w->base) : NULL;
    if (!w->http || !cella_http_attach(w->base, w->http, w->cfg->fd)) {
        snprintf(w->err, sizeof w->err, "cannot accept on the listening socket: %s",
                 strerror(errno));
        __atomic_store_n(&w->ready, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    /* The guard applies each route's cap; libevent's is the largest. */
    evhttp_set_max_body_size(w->http, (ev_ssize_t)largest_cap(w->cfg));
    /* A refused (too large) body is drained, not reset, so the client reads
     * the 413 instead of a broken pipe. Nothing of it is kept. */
    evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_max_headers_size(w->http, 16 * 1024);
    evhttp_set_timeout(w->http, 30);
    evhttp_set_allowed_methods(w->http, CELLA_HTTP_ALL_METHODS);
    evhttp_set_gencb(w->http, on_request, w);
    cella_http_guard_attach(w->guard, w->http);
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    event_base_dispatch(w->base);
    if (w->cfg->thread_stop && w->tctx)
        w->cfg->thread_stop(w->tctx);
    return NULL;
}

static unsigned ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

struct cella_http_server {
    struct worker *ws;
    unsigned started;
    cella_http_metrics *metrics;
    cella_http_guard_config guard_cfg;
    cella_http_guard *guard;
};

/* Joins a thread whose loop stopped (or never ran) and frees what it made. */
static void join_thread(struct worker *w)
{
    pthread_join(w->thread, NULL);
    if (w->http)
        evhttp_free(w->http);
    if (w->base)
        event_base_free(w->base);
    if (w->cfg->thread_fini && w->tctx)
        w->cfg->thread_fini(w->tctx);
}

void cella_http_stop(cella_http_server *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->started; i++)
        if (s->ws[i].base)
            event_base_loopbreak(s->ws[i].base);
    for (unsigned i = 0; i < s->started; i++)
        join_thread(&s->ws[i]);
    cella_http_metrics_free(s->metrics);
    cella_http_guard_free(s->guard);
    free(s->ws);
    free(s);
}

/* Starts one thread, with every signal blocked from its first instruction
 * (signals are the caller's business), and waits until it accepts. */
static cella_res start_thread(struct worker *w)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    CELLA_ENSURE(e == 0, CELLA_E_INTERNAL, NULL, "cannot start a server thread");
    int st;
    while ((st = __atomic_load_n(&w->ready, __ATOMIC_ACQUIRE)) == 0)
        usleep(1000);
    if (st > 0)
        return CELLA_OK_RES;
    cella_res r = cella_fail(CELLA_E_IO, NULL, "%s", w->err);
    join_thread(w);
    return r;
}

cella_res cella_http_start(const cella_http_config *cfg, cella_http_server **out)
{
    CELLA_ENSURE(cfg->fd >= 0, CELLA_E_INTERNAL, NULL, "no listening socket");
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    unsigned n = cfg->threads ? cfg->threads : ncpu();
    if (n > 64)
        n = 64;
    cella_http_server *s = calloc(1, sizeof *s);
    if (s)
        s->ws = calloc(n, sizeof *s->ws);
    if (!s || !s->ws) {
        free(s);
        return cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    }
    s->guard_cfg = (cella_http_guard_config){.server = cfg->name ? cfg->name : "http",
                                             .ssl = cfg->ssl,
                                             .max_body = cfg->max_body,
                                             .body_limits = cfg->body_limits,
                                             .spool_dirfd = -1};
    cella_res r = cella_http_guard_new(&s->guard_cfg, &s->guard);
    if (cella_ok(r) && cfg->name)
        r = cella_http_metrics_new(cfg->name, cfg->routes, &s->metrics);
    for (; cella_ok(r) && s->started < n; s->started++) {
        s->ws[s->started].cfg = cfg;
        s->ws[s->started].guard = s->guard;
        s->ws[s->started].metrics = s->metrics;
        r = start_thread(&s->ws[s->started]);
        if (!cella_ok(r))
            break;
    }
    if (!cella_ok(r)) {
        cella_http_stop(s);
        return r;
    }
    *out = s;
    return CELLA_OK_RES;
}

cella_res cella_http_serve(const cella_http_config *cfg)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    cella_http_server *s;
    CELLA_TRY(cella_http_start(cfg, &s));
    if (cfg->on_ready)
        cfg->on_ready(cfg->app);
    int sig;
    sigwait(&stop, &sig);
    cella_http_stop(s);
    return CELLA_OK_RES;
}

/* ---- TLS identity ------------------------------------------------------------------ */

static cella_res make_identity(const char *kpath, const char *cpath)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    cella_res r = cella_random(serial, sizeof serial);
    serial[0] &= 0x7f;
    X509V3_CTX v3;
    X509_EXTENSION *san = NULL;
    if (cella_ok(r) && (bn = BN_bin2bn(serial, sizeof serial, NULL)) && k && c && name &&
        X509_set_version(c, 2) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"cella server",
                                   -1, -1, 0) &&
        X509_set_subject_name(c, name) && X509_set_issuer_name(c, name) &&
        X509_gmtime_adj(X509_getm_notBefore(c), -3600) &&
        X509_gmtime_adj(X509_getm_notAfter(c), 10L * 365 * 24 * 3600) && X509_set_pubkey(c, k)) {
        X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
        san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        if (!san || !X509_add_ext(c, san, -1) || !X509_sign(c, k, EVP_sha256()))
            r = cella_fail(CELLA_E_CRYPTO, cpath, "cannot make the server certificate");
    } else if (cella_ok(r)) {
        r = cella_fail(CELLA_E_CRYPTO, cpath, "cannot make the server certificate");
    }
    BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
    char *kd = NULL, *cd = NULL;
    if (cella_ok(r) && (!kb || !cb || PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) != 1 ||
                        PEM_write_bio_X509(cb, c) != 1))
        r = cella_fail(CELLA_E_CRYPTO, kpath, "cannot encode the server identity");
    if (cella_ok(r)) {
        long kn = BIO_get_mem_data(kb, &kd), cn = BIO_get_mem_data(cb, &cd);
        r = cella_write_file_atomic(AT_FDCWD, kpath, kd, (size_t)kn, 0600, true);
        if (cella_ok(r))
            r = cella_write_file_atomic(AT_FDCWD, cpath, cd, (size_t)cn, 0644, false);
    }
    BIO_free(kb);
    BIO_free(cb);
    X509_EXTENSION_free(san);
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(c);
    EVP_PKEY_free(k);
    return r;
}

static int accept_any_client_cert(X509_STORE_CTX *ctx, void *arg)
{
    /* Client certificates are RA-TLS self-signed certificates: there is no
     * chain to build, and the handler verifies the evidence inside. TLS itself
     * still checks the client's CertificateVerify signature, so the peer holds
     * the certificate's key. Replacing X509_verify_cert saves a chain build and
     * a signature check per connection. */
    (void)ctx;
    (void)arg;
    return 1;
}

cella_res cella_tls_server_ctx(const char *dir, SSL_CTX **out, char fingerprint[65], int *created)
{
    char kpath[4200], cpath[4200];
    snprintf(kpath, sizeof kpath, "%s/tls.key", dir);
    snprintf(cpath, sizeof cpath, "%s/tls.crt", dir);
    *created = 0;
    if (access(kpath, F_OK) != 0) {
        CELLA_TRY(make_identity(kpath, cpath));
        *created = 1;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    CELLA_ENSURE(ctx, CELLA_E_CRYPTO, NULL, "cannot create a TLS context");
    cella_res r = CELLA_OK_RES;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate_chain_file(ctx, cpath) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, kpath, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        r = cella_fail(CELLA_E_CRYPTO, dir, "cannot load the server TLS identity (tls.key, tls.crt)");
    if (cella_ok(r)) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(ctx, accept_any_client_cert, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        /* RA-TLS clients have a fresh key every time and never resume: session
         * tickets would only cost an encryption per connection. */
        SSL_CTX_set_num_tickets(ctx, 0);
        /* Required once peers are verified, or OpenSSL fails every session
         * ticket with an "internal error" alert (seen with node's fetch). */
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"cella", 5);
        uint8_t h[32];
        if (!cella_ok(cella_x509_spki_sha256(SSL_CTX_get0_certificate(ctx), h)))
            r = cella_fail(CELLA_E_CRYPTO, cpath, "cannot fingerprint the certificate");
        else
            cella_hex_encode(fingerprint, h, 32, false);
    }
    if (!cella_ok(r)) {
        SSL_CTX_free(ctx);
        return r;
    }
    *out = ctx;
    return CELLA_OK_RES;
}
