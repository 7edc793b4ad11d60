/* Single-use nonces in memory, shared by a server's threads.
 *
 * Nonces (owner challenges, attestation nonces) are ephemeral: if the server
 * dies they are forgotten, and a client simply asks for a new one — the safe
 * direction. Keeping them out of the database spares two fsyncs per request.
 * Capacity is bounded: when full, expired entries are swept, and if none are,
 * issuing fails (CELLA_E_TOOBIG) rather than growing without limit. */
#ifndef CELLA_STORE_NONCE_BOOK_H
#define CELLA_STORE_NONCE_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cella_nonce_book cella_nonce_book;

CELLA_RESULT cella_nonce_book_new(size_t capacity, cella_nonce_book **out);
void cella_nonce_book_free(cella_nonce_book *b);

/* Makes a fresh random nonce valid until `expires` for `purpose` (a short
 * constant string such as "owner" or "attest"). */
CELLA_RESULT cella_nonce_issue(cella_nonce_book *b, const char *purpose, int64_t now,
                               int64_t expires, uint8_t nonce[32]);

/* Consumes a nonce: CELLA_E_AUTH if unknown or already used (replay), expired,
 * or issued for another purpose. A nonce is consumed even when refused for
 * expiry or purpose, so it can never be tried twice. */
CELLA_RESULT cella_nonce_consume(cella_nonce_book *b, const uint8_t nonce[32], const char *purpose,
                                 int64_t now);

#endif
