/* Signed requests, shared by the hub and the cas: stateless challenges, and
 * "challenge + EIP-191 signature -> address", each challenge accepted once.
 *
 * A challenge is 32 bytes (64 hex digits on the wire, as before), made
 * without storing anything:
 *
 *   random(11) || purpose(1) || expires(4, big-endian Unix seconds) || tag(16)
 *   tag = HMAC-SHA256(server key, "cella-challenge-v1" 0 service 0 bytes 0..15)[0..16]
 *
 * so GET /v1/challenge costs one HMAC and no memory, whoever asks and however
 * often. Only consumed challenges are remembered, until they expire, and a
 * challenge is consumed only after the request's signature verified: no
 * unauthenticated request can make an authenticated one fail.
 *
 * Where the state lives, by engine:
 *   PostgreSQL (replicas): the key is one row of server_keys, made once by
 *     whichever replica starts first (INSERT ... ON CONFLICT DO NOTHING, the
 *     bytes drawn by the database so no client buffer holds them), so a
 *     challenge from one replica is accepted by any; consumed challenges are
 *     rows of challenges_spent (insert-if-absent), purged in bounded batches
 *     (the rows and tables: store/challenges.h).
 *   SQLite (one process): the key is drawn at start and lives only in this
 *     process (a restart voids outstanding challenges, so a consumed one can
 *     never come back after a restart); consumed challenges are a hash set in
 *     memory, bounded by signed requests per second x TTL. */
#ifndef CELLA_NET_SIGNED_REQUEST_H
#define CELLA_NET_SIGNED_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "net/http_server.h"
#include "store/db.h"

#define CELLA_CHALLENGE_LEN 32
#define CELLA_CHALLENGE_TAG_LEN 16

typedef enum {
    CELLA_CHALLENGE_OWNER = 1,  /* GET /v1/challenge: a wallet signs one request; 120 s */
    CELLA_CHALLENGE_ATTEST = 2, /* GET /v1/attest/nonce (cas): bound into evidence; 60 s */
} cella_challenge_purpose;

/* Seconds a challenge of this purpose stays valid. */
int cella_challenge_ttl(cella_challenge_purpose p);

typedef struct cella_sigreq cella_sigreq;

/* `service` ("hub", "cas") is bound into every tag, so a challenge of one
 * service is refused by another even if they shared a database. `db` is any
 * connection of the server's store (read once, for the key on PostgreSQL). */
CELLA_RESULT cella_sigreq_new(const char *service, cella_db *db, cella_sigreq **out);
void cella_sigreq_free(cella_sigreq *a);

/* A fresh challenge valid until now + ttl (*expires). Stores nothing. */
CELLA_RESULT cella_sigreq_issue(const cella_sigreq *a, cella_challenge_purpose p, int64_t now,
                                uint8_t out[CELLA_CHALLENGE_LEN], int64_t *expires);

/* Stateless checks, each its own refusal (CELLA_E_AUTH): the tag (forged, or
 * from another server or key), the purpose, the expiry (past, or further
 * than one TTL ahead). */
CELLA_RESULT cella_sigreq_check(const cella_sigreq *a, const uint8_t c[CELLA_CHALLENGE_LEN],
                                cella_challenge_purpose p, int64_t now);

/* Checks, then remembers the challenge until it expires: CELLA_E_AUTH if it
 * was consumed already (replay). `db` is the calling thread's connection. */
CELLA_RESULT cella_sigreq_consume(cella_sigreq *a, cella_db *db,
                                  const uint8_t c[CELLA_CHALLENGE_LEN], cella_challenge_purpose p,
                                  int64_t now);

/* The message an owner signs (EIP-191) to authenticate one request:
 * "cella-cas-request-v1\n" METHOD "\n" TARGET "\n" NONCE_HEX "\n" SHA256(BODY)_HEX
 * where TARGET is the path and query exactly as sent. */
CELLA_RESULT cella_cas_auth_message(char *out, size_t cap, const char *method, const char *path,
                                    const char *nonce_hex, const void *body, size_t body_len);
/* The same with the body's SHA-256 given (what a signer process receives). */
CELLA_RESULT cella_cas_auth_message_sha(char *out, size_t cap, const char *method, const char *path,
                                        const char *nonce_hex, const uint8_t body_sha256[32]);

/* Parses "CELLA-EIP191 <0xaddress> <nonce hex> <0xsignature>" (bounded,
 * strict: exactly four fields). Used by hub and cas on every signed request. */
CELLA_RESULT cella_cas_parse_authorization(const char *header, size_t len, uint8_t addr[20],
                                           uint8_t nonce[32], char nonce_hex[65], uint8_t sig[65]);

/* Authorization: CELLA-EIP191 <0xaddress> <challenge hex> <0xsignature>, over
 * cella_cas_auth_message (method, target, challenge, body hash). Checks the
 * challenge, verifies the signature, and only then consumes the challenge.
 * `who` receives the signer's address. */
CELLA_RESULT cella_sigreq_authenticate(cella_sigreq *a, cella_db *db, cella_http_req *req,
                                       int64_t now, uint8_t who[20]);

/* How many consumed challenges this process remembers (SQLite), for tests. */
size_t cella_sigreq_spent_count(const cella_sigreq *a);
/* Tests: caps the in-memory table at `slots` (a power of two, at least 1024)
 * instead of 2^23, to reach the cap quickly. */
void cella_sigreq_cap_for_tests(cella_sigreq *a, size_t slots);

#endif
