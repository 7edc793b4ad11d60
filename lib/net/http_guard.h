/* What a client may cost before its request reaches a handler (issue 15).
 *
 * libevent's evhttp reads a whole request, body included, before it calls
 * the handler, and gives no hook in between (2.1 has no per-request header
 * callback for servers). The guard watches every accepted connection's input
 * buffer (a callback that runs as bytes are added, before evhttp's read
 * callback) and parses the same bytes with http-parser (nodejs/http-parser),
 * so it can refuse before evhttp has buffered what it should not:
 *
 *   - connections: at most `conns` in total and `conns_per_addr` per client
 *     IPv4 address, counted from a connection's first byte; over either, a
 *     JSON 503 and the connection closes;
 *   - a deadline for the whole request, request line, headers and body,
 *     counted from its first byte: past `request_seconds`, a JSON 408 and the
 *     connection closes. Once a request has been read (a long poll waiting
 *     for its answer) no deadline applies;
 *   - body caps per route (method and path prefix), checked against the
 *     declared Content-Length when the headers end and against the bytes as
 *     they arrive: a JSON 413 before the rest is read;
 *   - bytes of unfinished bodies held in memory: at most `pending` in total
 *     and `pending_per_addr` per address; over either, a JSON 503;
 *   - long polls (cella_http_defer): at most `polls_per_addr` waiting per
 *     address.
 *   - spooling: bodies of PUT requests under a path prefix go to a temporary
 *     file (hashed with SHA-256 as they arrive) instead of memory; evhttp
 *     then sees the request with an empty body, and the handler takes the
 *     file (cella_http_guard_take_spool). An unfinished upload's file is
 *     removed when its connection closes.
 *
 * The limits come from CELLA_HTTP_LIMITS (docs/http-limits.md lists the keys),
 * the same for every server of the process. Refusals are counted in
 * cella_http_refused_total{server,reason}. */
#ifndef CELLA_NET_HTTP_GUARD_H
#define CELLA_NET_HTTP_GUARD_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

struct evhttp;
struct evhttp_request;
struct bufferevent;

typedef struct {
    unsigned conns;           /* connections open at once, all addresses (1024) */
    unsigned conns_per_addr;  /* per client address (64) */
    unsigned request_seconds; /* whole request, headers and body (30) */
    unsigned polls_per_addr;  /* deferred requests (long polls) per address (32) */
    size_t pending;           /* bytes of unfinished bodies held, in total (64 MiB) */
    size_t pending_per_addr;  /* per address (16 MiB) */
} cella_http_limits;

/* The defaults, then what CELLA_HTTP_LIMITS sets ("key=N,key=N": conns,
 * conns_per_addr, request_seconds, polls_per_addr, pending_mib,
 * pending_per_addr_mib; every value from 1 to 1000000). */
CELLA_RESULT cella_http_limits_from_env(cella_http_limits *out);

/* A body cap for requests whose method is `method` (NULL: any) and whose
 * path starts with `prefix`. Lists end with a NULL prefix; the first match
 * wins. */
typedef struct {
    const char *method;
    const char *prefix;
    size_t max;
} cella_http_body_limit;

typedef struct {
    const char *server;   /* the metrics label ("hub") */
    SSL_CTX *ssl;         /* NULL: plain HTTP */
    size_t max_body;      /* for requests no body_limits entry matches */
    const cella_http_body_limit *body_limits; /* NULL: max_body for all */
    const char *spool_prefix; /* PUT bodies under it go to a file; NULL: none */
    int spool_dirfd;          /* where those files are made */
} cella_http_guard_config;

typedef struct cella_http_guard cella_http_guard;

/* cfg (and what it points to) must outlive the guard. */
CELLA_RESULT cella_http_guard_new(const cella_http_guard_config *cfg, cella_http_guard **out);
void cella_http_guard_free(cella_http_guard *g);

/* The body cap of method and path (cfg->max_body unless a body_limits entry
 * matches). */
size_t cella_http_guard_cap(const cella_http_guard *g, const char *method, const char *path);

/* Guards every connection `http` accepts from now on (sets its bevcb). Call
 * it on the thread that runs http's loop; one guard per thread (a new
 * connection finds its guard through the thread, so a second evhttp on the
 * same thread with another guard would take the later one's caps). */
void cella_http_guard_attach(cella_http_guard *g, struct evhttp *http);

/* The TLS session of a guarded connection's bufferevent (NULL: plain). */
SSL *cella_http_guard_ssl(struct bufferevent *bev);

/* The client's IPv4 address (network order) of a request; 0 if unknown. */
uint32_t cella_http_guard_addr(struct evhttp_request *req);
/* Reserves one of addr's long-poll places: false when it has none left. */
bool cella_http_guard_poll_begin(cella_http_guard *g, uint32_t addr);
void cella_http_guard_poll_end(cella_http_guard *g, uint32_t addr);

/* A spooled body: an open, unlinked-on-failure file in spool_dirfd. */
typedef struct {
    int fd;
    char name[32];     /* its name in spool_dirfd */
    uint8_t sha256[32];
    uint64_t size;
} cella_http_spool;
/* Takes the spooled body of `req` (the caller closes fd and renames or
 * unlinks name): false if the request's body was not spooled. */
bool cella_http_guard_take_spool(cella_http_guard *g, struct evhttp_request *req,
                                 cella_http_spool *out);

/* The refusal counters, for a scrape. */
void cella_http_guard_metrics(const cella_http_guard *g, cella_buf *out);

#endif
