/* An HTTP/1.1 server over libevent's evhttp, with TLS 1.3 by OpenSSL.
 *
 * One event loop per thread, each with its own listening socket on the same
 * port (SO_REUSEPORT: the kernel spreads connections), so handlers on
 * different threads share nothing but what the application shares. Request
 * bodies above `max_body` are refused by libevent before they are read
 * (413). Handlers get a request view and answer with JSON.
 */
#ifndef CELLA_NET_HTTP_SERVER_H
#define CELLA_NET_HTTP_SERVER_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/slice.h"

typedef struct cella_http_req cella_http_req;
struct event_base;
struct evhttp;
struct sockaddr_in;

/* Every EVHTTP_REQ_* bit of libevent 2.1 (GET ... PATCH). Servers let all
 * methods through and refuse the ones they do not serve with a JSON 405:
 * libevent's own refusal is a 501 HTML page. */
#define CELLA_HTTP_ALL_METHODS 0x1ffu

typedef void (*cella_http_handler)(cella_http_req *req, void *thread_ctx);

typedef struct {
    const char *listen; /* "127.0.0.1:8081" */
    SSL_CTX *ssl;       /* NULL: plain HTTP */
    size_t max_body;
    unsigned threads;   /* 0: one per CPU */
    cella_http_handler handler;
    void *app;
    /* Per-thread context (for example a database handle), made in the thread. */
    void *(*thread_init)(void *app);
    void (*thread_fini)(void *thread_ctx);
    /* Called once all listeners are bound. */
    void (*on_ready)(void *app);
} cella_http_config;

/* Serves until SIGINT or SIGTERM. */
CELLA_RESULT cella_http_serve(const cella_http_config *cfg);

/* The listening socket, shared with the blob server (which streams files of
 * up to 1 GiB with sendfile, so runs its own loops rather than this server).
 * Parses "ADDRESS:PORT" (IPv4; port 0 lets the kernel choose): 0, or -1. */
int cella_http_parse_listen(const char *listen, struct sockaddr_in *sa);
/* Binds a listener on `sa` for `http` on `base`, with SO_REUSEPORT (every
 * thread's loop binds the same port) and TCP_NODELAY, and writes the port
 * actually bound back into `sa`. false with errno set if it cannot. */
bool cella_http_bind(struct event_base *base, struct evhttp *http, struct sockaddr_in *sa);

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
 * the client hangs up meanwhile, that reply is dropped. NULL (out of memory):
 * answer `r` as usual. */
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
