/* HTTP(S) requests (HTTP/1.1 over OpenSSL, net/tls_http.c): the server's key
 * is pinned by the SHA-256 of its SubjectPublicKeyInfo (as printed by the
 * server at first start), and a client certificate and key (RA-TLS) can be
 * presented. Responses are capped. */
#ifndef CELLA_NET_HTTP_CLIENT_H
#define CELLA_NET_HTTP_CLIENT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "core/error.h"
#include "core/slice.h"
#include "net/endpoints.h"

/* Makes the client identity during the handshake, when the server asks for a
 * certificate, from the handshake's randoms. Returns references the callee
 * keeps (the client takes its own). */
typedef cella_res (*cella_http_identity_fn)(const uint8_t client_random[32],
                                            const uint8_t server_random[32], void *ctx,
                                            X509 **cert, EVP_PKEY **key);

typedef struct cella_http_client {
    const char *base_url;      /* "https://127.0.0.1:8081" (when endpoints is NULL) */
    const char *pin;           /* hex SHA-256 of the server SPKI, or NULL (http:// only) */
    X509 *client_cert;         /* optional */
    EVP_PKEY *client_key;      /* optional, with client_cert */
    cella_http_identity_fn identity; /* optional, instead of client_cert: made in the handshake */
    void *identity_ctx;
    size_t max_response;       /* 0: 16 MiB */
    long timeout_s;            /* 0: 30 s */
    void *reuse;               /* optional cella_http_pool: keep connections alive */
    /* optional, instead of base_url and pin: several replicas, tried as
     * net/endpoints.h says (the list is shared by copies of the client, and
     * so is which replica answered last) */
    cella_endpoints *endpoints;
    bool repeatable;           /* its POSTs too are safe to repeat on another replica */
} cella_http_client;

/* A pool of kept-alive connections (a cella_tls_pool, net/tls_http.h), for
 * clients that make many requests to one server. Thread-safe. Connections
 * made with different client certificates are never mixed. */
void *cella_http_pool_new(void);
void cella_http_pool_free(void *pool);

typedef struct {
    long status;
    cella_buf body; /* response body (secure memory: it may carry keys) */
    const char *base_url;      /* the replica that answered */
    cella_net_outcome outcome; /* set on failure too: how far the request got */
} cella_http_response;

/* Performs METHOD base_url+path with optional headers ("Name: value", NULL
 * terminated) and body. A transport failure is an error; any HTTP status is a
 * response. With endpoints, the request goes to the replicas as
 * cella_failover says (a POST not marked repeatable only when it was not
 * sent). Free the response with cella_http_response_free. */
CELLA_RESULT cella_http_call(const cella_http_client *c, const char *method, const char *path,
                             const char *const *headers, cella_slice body,
                             cella_http_response *resp);
void cella_http_response_free(cella_http_response *resp);

/* Connects to an https:// URL without trusting it and returns the hex SHA-256
 * of the server's SubjectPublicKeyInfo: what clients then pin (trust on first
 * use; the caller must show it to the user to compare). Connecting and the
 * handshake each end within timeout_s. */
CELLA_RESULT cella_tls_fetch_fingerprint(const char *url, long timeout_s, char fingerprint[65]);

/* The certificate of an https:// server whose key must match `pin` (hex
 * SHA-256 of its SubjectPublicKeyInfo), as PEM in *pem (free it): for tools
 * that trust certificates rather than pins (Node's NODE_EXTRA_CA_CERTS). */
CELLA_RESULT cella_tls_fetch_pinned_pem(const char *url, const char *pin, long timeout_s,
                                        char **pem);

/* For a non-2xx JSON error reply, sets the thread error to its message. */
cella_res cella_http_fail_from(const cella_http_response *resp, const char *where);

#endif
