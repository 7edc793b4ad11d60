/* Challenge rows replicas share (PostgreSQL): see challenges.h. */
#include "store/challenges.h"

#include <stdio.h>

#include "core/secure.h"

cella_res cella_challenge_key_db(cella_db *db, const char *name, uint8_t key[32])
{
    /* Two v4 UUIDs from the database's strong random source, hashed. */
    dbq q = db_prep(db, "INSERT INTO server_keys(name, secret) VALUES(?, sha256(convert_to("
                        "gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')))"
                        " ON CONFLICT(name) DO NOTHING");
    db_bt(&q, 1, name);
    int rc = db_write_step(&q);
    db_done(&q);
    if (rc != DB_DONE)
        return db_failure(db, "cannot create the challenge key");
    q = db_prep(db, "SELECT secret FROM server_keys WHERE name = ?");
    db_bt(&q, 1, name);
    rc = db_step(&q);
    size_t n = 0;
    if (rc == DB_ROW)
        (void)db_col_blob(&q, 0, &n);
    if (rc == DB_ROW && n == 32) {
        db_col_bytes(&q, 0, key, 32);
        /* The result's own copy (binary format: the bytes themselves), before
         * libpq frees it unwiped. */
        cella_wipe((void *)db_col_blob(&q, 0, &n), n);
    }
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(db, "cannot read the challenge key");
    CELLA_ENSURE(rc == DB_ROW && n == 32, CELLA_E_IO, cella_db_where(db),
                 "the challenge key (server_keys %s) is missing or not 32 bytes", name);
    return CELLA_OK_RES;
}

cella_res cella_challenge_spend_db(cella_db *db, const uint8_t *id, size_t n, int64_t expires,
                                   bool *fresh)
{
    dbq q = db_prep(db, "INSERT INTO challenges_spent(id, expires) VALUES(?, ?)"
                        " ON CONFLICT(id) DO NOTHING RETURNING expires");
    db_bb(&q, 1, id, n);
    db_bi(&q, 2, expires);
    int rc = db_write_step(&q);
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(db, "cannot record a used challenge");
    *fresh = rc == DB_ROW;
    return CELLA_OK_RES;
}

cella_res cella_challenge_purge_db(cella_db *db, int64_t now, int batch)
{
    dbq q = db_prep(db, "DELETE FROM challenges_spent WHERE id IN (SELECT id FROM challenges_spent"
                        " WHERE expires < ? LIMIT ?)");
    db_bi(&q, 1, now);
    db_bi(&q, 2, batch);
    int rc = db_write_step(&q);
    db_done(&q);
    return rc == DB_DONE ? CELLA_OK_RES : db_failure(db, "cannot purge expired challenges");
}
