/* What the replicas of a server share for stateless challenges on
 * PostgreSQL (net/signed_request.h decides what a challenge is; this holds
 * its two rows): the challenge key, made once by whichever replica asks
 * first, and the consumed challenges, each inserted once. Here, in the
 * store layer, so the stores' schemas and net/signed_request.h both reach
 * it downward. */
#ifndef CELLA_STORE_CHALLENGES_H
#define CELLA_STORE_CHALLENGES_H

#include <stdint.h>

#include "core/error.h"
#include "store/db.h"

/* PostgreSQL tables, for a store's schema (the hub's and the cas's). */
#define CELLA_CHALLENGE_TABLES_PG                                                                  \
    "CREATE TABLE IF NOT EXISTS server_keys(name TEXT PRIMARY KEY, secret BYTEA NOT NULL);"        \
    "CREATE TABLE IF NOT EXISTS challenges_spent(id BYTEA PRIMARY KEY, expires BIGINT NOT NULL);"  \
    "CREATE INDEX IF NOT EXISTS challenges_spent_expires ON challenges_spent(expires);"

/* The 32-byte key named `name`, created if absent. The database draws the
 * bytes, so they never sit in a bound parameter of ours; the result's copy is
 * wiped. */
CELLA_RESULT cella_challenge_key_db(cella_db *db, const char *name, uint8_t key[32]);

/* Records a consumed challenge (`id`, n bytes) until `expires`: *fresh is
 * false if it was recorded already (a replay). One statement, so of two
 * replicas handed the same challenge, one inserts. */
CELLA_RESULT cella_challenge_spend_db(cella_db *db, const uint8_t *id, size_t n, int64_t expires,
                                      bool *fresh);

/* Deletes at most `batch` consumed challenges that expired before `now` (a
 * bounded statement). */
CELLA_RESULT cella_challenge_purge_db(cella_db *db, int64_t now, int batch);

#endif
