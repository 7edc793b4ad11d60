/* The message a client signs for cas (net/signed_request.h), on its own so
 * that clients (the lean cella-runtime) link none of the server's checks. */
#include <stdio.h>

#include "core/encoding.h"
#include "crypto/aead.h"
#include "net/signed_request.h"

/* The wire format (clients sign it: casapi/casapi.h). */

cella_res cella_cas_auth_message_sha(char *out, size_t cap, const char *method, const char *path,
                                     const char *nonce_hex, const uint8_t body_sha256[32])
{
    char hh[65];
    cella_hex_encode(hh, body_sha256, 32, false);
    int n = snprintf(out, cap, "cella-cas-request-v1\n%s\n%s\n%s\n%s", method, path, nonce_hex, hh);
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_TOOBIG, path, "request path too long");
    return CELLA_OK_RES;
}

cella_res cella_cas_auth_message(char *out, size_t cap, const char *method, const char *path,
                                 const char *nonce_hex, const void *body, size_t body_len)
{
    uint8_t h[32];
    CELLA_TRY(cella_sha256(h, body, body_len));
    return cella_cas_auth_message_sha(out, cap, method, path, nonce_hex, h);
}

