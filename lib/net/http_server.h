/* An HTTP/1.1 server over libevent's evhttp, with TLS 1.3 by OpenSSL.
 *
 * One event loop per thread, all accepting from one listening socket (each
 * loop watches its own duplicate of it; a loop that loses the race for a
 * connection gets EAGAIN and waits again), so handlers on different threads
 * share nothing but what the application shares. No SO_REUSEPORT: a port
 * another process listens on is an error, never a silently shared one. Request
 * bodies above their route's cap are refused (JSON 413) while they arrive,
 * and every connection is held to the limits of net/http_guard.h (caps on
 * connections, a deadline for each request, bounded memory for unfinished
 * bodies). Handlers get a request view and answer with JSON.
 */
#ifndef CELLA_NET_HTTP_SERVER_H
#define CELLA_NET_HTTP_SERVER_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/slice.h"
#include "net/http_guard.h"

typedef struct cella_http_req cella_http_req;
struct event_base;
struct evhttp;

/* Every EVHTTP_REQ_* bit of libevent 2.1 (GET ... PATCH). Servers let all
 * methods through and refuse the ones they do not serve with a JSON 405:
 * libevent's own refusal is a 501 HTML page. */
#define CELLA_HTTP_ALL_METHODS 0x1ffu

typedef void (*cella_http_handler)(cella_http_req *req, void *thread_ctx);
/* Writes the application's own metrics into a scrape (core/metrics.h). */
typedef void (*cella_http_metrics_fn)(cella_buf *out, void *app, void *thread_ctx);

typedef struct {
    int fd;             /* the listener, from cella_http_listen (the caller closes it) */
    SSL_CTX *ssl;       /* NULL: plain HTTP */
    size_t max_body;    /* for routes body_limits does not name */
    /* Per-route body caps (net/http_guard.h), checked as the body arrives. */
    const cella_http_body_limit *body_limits;
    unsigned threads;   /* 0: one per CPU */
    cella_http_handler handler;
    void *app;
    /* Per-thread context (for example a database handle), made in the thread. */
    void *(*thread_init)(void *app);
    void (*thread_fini)(void *thread_ctx);
    /* May be NULL: called on the thread once its loop has stopped, while the
     * loop's events can still be freed (thread_fini runs after the loop is). */
    void (*thread_stop)(void *thread_ctx);
    /* Called once every thread accepts on fd (by cella_http_serve only). */
    void (*on_ready)(void *app);
    /* Metrics (docs/metrics.md). With a `name` ("hub", the server label),
     * every request is counted under its route (net/http_metrics.h:
     * `routes`, NULL-terminated patterns; other paths count as "other"),
     * and GET /metrics answers the scrape before `handler` sees it:
     * request metrics, then what `metrics` (may be NULL) writes. NULL
     * name: no metrics, and /metrics goes to the handler. */
    const char *name;
    const char *const *routes;
    cella_http_metrics_fn metrics;
} cella_http_config;

/* Serves until SIGINT or SIGTERM. */
CELLA_RESULT cella_http_serve(const cella_http_config *cfg);

/* For a process with other work (the worker's --metrics): starts cfg's
 * threads (every signal blocked in them) and returns once each accepts on
 * cfg->fd; cfg must outlive the server. cella_http_stop stops and frees it
 * (NULL: nothing). */
typedef struct cella_http_server cella_http_server;
CELLA_RESULT cella_http_start(const cella_http_config *cfg, cella_http_server **out);
void cella_http_stop(cella_http_server *s);

/* The listening socket, shared with the blob server (which streams files of
 * up to 1 GiB with sendfile, so runs its own loops rather than this server).
 * Binds and listens on `listen` ("ADDRESS:PORT", IPv4; port 0: the kernel
 * picks a free port): non-blocking, close-on-exec, SO_REUSEADDR (a restart
 * binds despite the last run's TIME_WAIT connections) and TCP_NODELAY
 * (inherited by accepted sockets), never SO_REUSEPORT. Servers call it before
 * they create anything in their data directory, so a taken port leaves it
 * untouched. Errors name the address and `opt` (e.g. "hub serve --listen").
 * `url` gets "ADDRESS:PORT" with the port actually bound. */
CELLA_RESULT cella_http_listen(const char *listen, const char *opt, int *fd, char url[64]);
/* Serves `http` on `base` from a duplicate of the listening socket `fd`
 * (every thread's loop accepts from the same socket). false with errno set. */
bool cella_http_attach(struct event_base *base, struct evhttp *http, int fd);

const char *cella_http_method(const cella_http_req *r);
const char *cella_http_path(const cella_http_req *r); /* without the query; still %-encoded */
/* The request target exactly as sent: path and query, %-encoded. */
const char *cella_http_target(const cella_http_req *r);
/* Decodes one %-encoded path segment (refusing NUL bytes). */
CELLA_RESULT cella_http_unescape(const char *in, char *out, size_t cap);
const char *cella_http_query(const cella_http_req *r, const char *key); /* NULL if absent */
const char *cella_http_header(const cella_http_req *r, const char *name);
cella_slice cella_http_body(const cella_http_req *r);
X509 *cella_http_peer_cert(const cella_http_req *r);  /* TLS client certificate, borrowed */
/* Claims a one-time use of r's TLS connection (evidence bound to its
 * handshake releases once): true the first time, false after, or without TLS. */
bool cella_http_tls_claim_once(const cella_http_req *r);
/* The TLS handshake's client and server randoms; false on a plain connection. */
bool cella_http_tls_randoms(const cella_http_req *r, uint8_t client_random[32],
                            uint8_t server_random[32]);
const char *cella_http_peer(const cella_http_req *r); /* "ip:port" */

/* Long polls: keeps the request open after the handler returns. The handle
 * returned outlives the handler (its method, path, target, query and headers
 * stay readable; its body is gone) and is answered later, on the thread that
 * deferred it, with cella_http_reply or cella_http_error, which free it. If
 * the client hangs up meanwhile, that reply is dropped. NULL (out of memory,
 * or the client's address already holds its `polls_per_addr` deferred
 * requests): answer `r` as usual. */
cella_http_req *cella_http_defer(cella_http_req *r);
/* The event loop of the thread serving r (timers for deferred replies). */
struct event_base *cella_http_base(const cella_http_req *r);

/* Replies with a JSON body (stolen) and the given status. */
void cella_http_reply(cella_http_req *r, int status, json_t *body);
/* Replies with `len` bytes of `body` (copied) as Content-Type `type`, plus the
 * extra headers in `headers`: name, value, name, value, ..., NULL (or NULL). */
void cella_http_reply_bytes(cella_http_req *r, int status, const char *type, const void *body,
                            size_t len, const char *const *headers);
/* Replies {"error": <message>, "code": <code>} with a 4xx/5xx status. */
void cella_http_error(cella_http_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The HTTP status for an error code: 400 malformed, 401 authentication,
 * 403 refused, 404 unknown, 409 conflict, 413 too large, 500 otherwise. */
int cella_http_status_for(cella_code code);
/* Replies with the thread's current error: {"error": "<what> (<where>)", "code"}. */
void cella_http_reply_failure(cella_http_req *r, cella_res failure);

/* A TLS server context for a key and certificate in `dir` (tls.key, tls.crt),
 * created on first use (P-256, self-signed, SAN localhost and 127.0.0.1).
 * TLS 1.3 only; client certificates are requested but optional, and accepted
 * without chain checks: handlers inspect them (RA-TLS). `fingerprint` gets the
 * hex SHA-256 of the server's SubjectPublicKeyInfo (what clients pin);
 * *created tells whether the identity was just made. */
CELLA_RESULT cella_tls_server_ctx(const char *dir, SSL_CTX **out, char fingerprint[65],
                                  int *created);

#endif
