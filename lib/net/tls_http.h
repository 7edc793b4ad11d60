/* HTTP/1.1 over OpenSSL alone: the transport of http_client.h (pinned server
 * key, client certificate or an RA-TLS identity made in the handshake,
 * response cap, failover between replicas) for `cella` and `cella-runtime`,
 * without libcurl, whose ~25 shared libraries cost more per process start
 * than a whole request to our servers. One request per connection
 * (Connection: close), unless the client has a pool (c->reuse, below). The
 * reply is parsed by nodejs/http-parser (already linked for the server).
 *
 * Also here: the handshake identity callback (pin checked before any
 * evidence is made), the bounded connect, the failover between replicas, and
 * the response helpers. */
#ifndef CELLA_NET_TLS_HTTP_H
#define CELLA_NET_TLS_HTTP_H

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "net/http_client.h"

/* The same contract as cella_http_call (http_client.h). c->reuse, when set,
 * is a cella_tls_pool: a connection the server keeps open is kept there for
 * the next call to the same URL, with the same pin, presenting the same
 * certificate or none (tls_http.c, "kept connections"). */
CELLA_RESULT cella_tls_http_call(const cella_http_client *c, const char *method, const char *path,
                                 const char *const *headers, cella_slice body,
                                 cella_http_response *resp);

/* Takes the next piece of a streamed reply's body; an error aborts the
 * transfer (and is the call's). */
typedef cella_res (*cella_http_body_fn)(void *ctx, const uint8_t *p, size_t n);

/* GET c->base_url+path with the body of a 2xx reply passed to `sink` as it
 * arrives, not kept (any other status's body is kept in resp, capped at
 * c->max_response). No overall deadline: the transfer lasts as long as data
 * flows, but no connect, read or write waits more than c->timeout_s. No pool,
 * no replicas. */
CELLA_RESULT cella_tls_http_get_to(const cella_http_client *c, const char *path,
                                   cella_http_body_fn sink, void *ctx, cella_http_response *resp);

/* Reads one reply from `io` into resp (its body at most `max` bytes) until
 * http-parser has it whole, or fails (malformed, too large, cut short, past
 * `deadline_ns` on cella_monotonic_ns()'s clock, core/metrics.h); *keep: the
 * server keeps the connection open. The server's bytes are untrusted: fuzz/fuzz_http_reply.c. */
CELLA_RESULT cella_http_read_reply(BIO *io, const char *method, size_t max, uint64_t deadline_ns,
                                   const char *where, cella_http_response *resp, bool *keep);

typedef struct cella_tls_pool cella_tls_pool;
cella_tls_pool *cella_tls_pool_new(void);
void cella_tls_pool_free(cella_tls_pool *p);

/* One request to c->base_url (no failover), as a transport makes it. */
typedef cella_res (*cella_http_once_fn)(const cella_http_client *c, const char *method,
                                        const char *path, const char *const *headers,
                                        cella_slice body, cella_http_response *resp);

/* cella_http_call's failover between c->endpoints' replicas (when set) over
 * `once`: shared by both transports. */
CELLA_RESULT cella_http_call_by(cella_http_once_fn once, const cella_http_client *c,
                                const char *method, const char *path, const char *const *headers,
                                cella_slice body, cella_http_response *resp);

/* An identity made during the handshake (c->identity): OpenSSL asks for it
 * when the server's CertificateRequest arrives, after the ServerHello and the
 * server's own CertificateVerify, so both randoms and the server's key are
 * known. The server's key is checked against the pin first: evidence is never
 * made for, or shown to, a server that is not the pinned one. A failure
 * aborts the handshake (failed, err say why). */
typedef struct {
    const cella_http_client *c;
    uint8_t pin[32]; /* c->pin, decoded */
    int failed;
    cella_res err;
} cella_tls_identity;

/* The SSL_CTX_set_cert_cb callback; arg is a cella_tls_identity. */
int cella_tls_on_certificate_request(SSL *ssl, void *arg);

/* A TCP connection to host:port within timeout_s, then blocking with that
 * timeout on every read and write: a server that stalls cannot hold the
 * caller longer. NULL on failure, with why[cap] saying why (a refused port
 * fails at once; the addresses are tried in turn until the deadline). */
BIO *cella_tls_connect_bounded(const char *host, long timeout_s, char *why, size_t cap);

#endif
