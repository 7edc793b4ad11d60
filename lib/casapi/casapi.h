/* The client side of the cas protocol (docs/cas-api.md), shared by the CLI,
 * the runtime and the tests: signed owner requests, attestation over RA-TLS,
 * and tag pushes by an attested instance. */
#ifndef CELLA_CASAPI_CASAPI_H
#define CELLA_CASAPI_CASAPI_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"
#include "net/http_client.h"
#include "net/signed_request.h"
#include "tee/ratls.h"

/* The signed request's message and Authorization header (cella_cas_auth_message,
 * cella_cas_parse_authorization) are in net/signed_request.h: the servers check
 * what the clients here sign. */

/* An unsigned call. On 2xx *out is the JSON reply (caller owns); otherwise the
 * server's reason becomes the error (403 → CELLA_E_PERM, 409 → CELLA_E_ROLLBACK…). */
CELLA_RESULT cella_cas_call(const cella_http_client *c, const char *method, const char *path,
                            cella_slice body, json_t **out);

/* A call signed by the wallet key `priv` over a fresh cas challenge. */
CELLA_RESULT cella_cas_signed_call(const cella_http_client *c, const uint8_t priv[32],
                                   const char *method, const char *path, cella_slice body,
                                   const char *content_type, json_t **out);

/* Signs one request's message (cella_cas_auth_message_sha of its parts):
 * the signature and the signer's address. */
typedef cella_res (*cella_cas_sign_fn)(void *ctx, const char *method, const char *path,
                                       const char *nonce_hex, const uint8_t body_sha256[32],
                                       uint8_t sig[65], uint8_t addr[20]);

/* A signed call whose signature comes from `sign` (e.g. a signer process
 * holding the key: worker/signer.h). */
CELLA_RESULT cella_cas_signed_call_by(const cella_http_client *c, cella_cas_sign_fn sign,
                                      void *sign_ctx, const char *method, const char *path,
                                      cella_slice body, const char *content_type, json_t **out);

/* An attested instance: its RA-TLS identity and what cas released to it. */
typedef struct {
    EVP_PKEY *key;
    X509 *cert;
    json_t *config; /* command, pwd, environment, volumes (with keys), instance, ... */
} cella_cas_instance;

/* Attests for SESSION/SERVICE on a new TLS connection, making the RA-TLS
 * identity with `quote` inside the handshake (its evidence binds the fresh key
 * and the handshake's randoms: see cas-api.md). */
CELLA_RESULT cella_cas_attest(const cella_http_client *c, cella_tee_kind kind, cella_quote_fn quote,
                              void *quote_ctx, const char *session, const char *service,
                              cella_cas_instance *out);
void cella_cas_instance_free(cella_cas_instance *inst);

/* Pushes a new volume tag with compare-and-swap on old_tag (NULL: no tag yet),
 * over the instance's own TLS identity. */
CELLA_RESULT cella_cas_push_tag(const cella_http_client *c, const cella_cas_instance *inst,
                                const char *volume, const uint8_t *old_tag,
                                const uint8_t new_tag[16]);

#endif
