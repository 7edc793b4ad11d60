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
#include "store/db.h"

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

/* The same over a database, for replicas that share PostgreSQL: a nonce
 * issued by one replica is consumed once, on any (DELETE ... RETURNING).
 * Expired ones are swept now and then as nonces are issued. The store's
 * schema creates the table (CELLA_NONCES_TABLE_PG). */
#define CELLA_NONCES_TABLE_PG                                                                      \
    "CREATE TABLE IF NOT EXISTS nonces(nonce BYTEA PRIMARY KEY, purpose TEXT NOT NULL,"            \
    " expires BIGINT NOT NULL);"                                                                   \
    "CREATE INDEX IF NOT EXISTS nonces_expires ON nonces(expires);"
CELLA_RESULT cella_nonce_issue_db(cella_db *db, const char *purpose, int64_t now, int64_t expires,
                                  uint8_t nonce[32]);
CELLA_RESULT cella_nonce_consume_db(cella_db *db, const uint8_t nonce[32], const char *purpose,
                                    int64_t now);

/* A server's nonces where they belong: in `db` when replicas share it
 * (PostgreSQL), else in the process's book `b` (SQLite, one process). */
CELLA_RESULT cella_nonce_issue_in(cella_nonce_book *b, cella_db *db, const char *purpose,
                                  int64_t now, int64_t expires, uint8_t nonce[32]);
CELLA_RESULT cella_nonce_consume_in(cella_nonce_book *b, cella_db *db, const uint8_t nonce[32],
                                    const char *purpose, int64_t now);

#endif
