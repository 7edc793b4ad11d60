/* The cas's state over store/db.h (SQLite or PostgreSQL): see cas_store.h.
 * Compare-and-swaps are single conditional statements, atomic on either
 * engine and across replicas. */
#include "store/cas_store.h"
#include "store/db.h"
#include "store/challenges.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cella_cas_store {
    cella_db *db;
};

/* The turn every SQLite cas store handle of this process takes to write. */
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

static const char SCHEMA_SQLITE[] =
    "CREATE TABLE IF NOT EXISTS sessions(name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " hash BLOB NOT NULL, version INTEGER NOT NULL, sealed BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sealed(session TEXT NOT NULL, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY(session, kind, name));"
    "CREATE TABLE IF NOT EXISTS tags(session TEXT NOT NULL, volume TEXT NOT NULL,"
    " tag BLOB NOT NULL, PRIMARY KEY(session, volume));"
    "CREATE TABLE IF NOT EXISTS instances(token BLOB PRIMARY KEY, session TEXT NOT NULL,"
    " service TEXT NOT NULL, spki BLOB NOT NULL, expires INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " who TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, outcome TEXT NOT NULL,"
    " why TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sms_used(tag BLOB PRIMARY KEY, ts INTEGER NOT NULL);";

static const char SCHEMA_POSTGRES[] =
    "CREATE TABLE IF NOT EXISTS sessions(name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " hash BYTEA NOT NULL, version BIGINT NOT NULL, sealed BYTEA NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sealed(session TEXT NOT NULL, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, value BYTEA NOT NULL, PRIMARY KEY(session, kind, name));"
    "CREATE TABLE IF NOT EXISTS tags(session TEXT NOT NULL, volume TEXT NOT NULL,"
    " tag BYTEA NOT NULL, PRIMARY KEY(session, volume));"
    "CREATE TABLE IF NOT EXISTS instances(token BYTEA PRIMARY KEY, session TEXT NOT NULL,"
    " service TEXT NOT NULL, spki BYTEA NOT NULL, expires BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit(id BIGSERIAL PRIMARY KEY, ts BIGINT NOT NULL,"
    " who TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, outcome TEXT NOT NULL,"
    " why TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sms_used(tag BYTEA PRIMARY KEY, ts BIGINT NOT NULL);"
    CELLA_CHALLENGE_TABLES_PG;

static const cella_db_schema g_schema = {"cas", 1, SCHEMA_SQLITE, SCHEMA_POSTGRES, NULL};

cella_res cella_cas_store_open(const char *url, cella_cas_store **out)
{
    *out = NULL;
    cella_cas_store *s = calloc(1, sizeof *s);
    CELLA_ENSURE(s, CELLA_E_NOMEM, url, "out of memory");
    cella_res r = cella_db_open(url, &g_schema, NULL, &g_writer, &s->db);
    if (!cella_ok(r)) {
        free(s);
        return r;
    }
    *out = s;
    return CELLA_OK_RES;
}

void cella_cas_store_close(cella_cas_store *s)
{
    if (!s)
        return;
    cella_db_close(s->db);
    free(s);
}

cella_res cella_cas_store_now(cella_cas_store *s, int64_t *now) { return db_now(s->db, now); }
cella_db *cella_cas_store_db(cella_cas_store *s) { return s->db; }

/* Runs a writing statement that returns no row; the rows it touched do not
 * matter. */
static cella_res write_done(cella_cas_store *s, dbq *q, const char *what)
{
    int rc = db_write_step(q);
    db_done(q);
    return rc == DB_DONE ? CELLA_OK_RES : db_failure(s->db, what);
}

/* ---- sessions ----------------------------------------------------------------- */

cella_res cella_cas_session_get(cella_cas_store *s, const char *name, cella_cas_session_row *row)
{
    dbq q = db_prep(s->db, "SELECT owner, hash, version, sealed FROM sessions WHERE name = ?");
    db_bt(&q, 1, name);
    int rc = db_step(&q);
    if (rc == DB_DONE) {
        db_done(&q);
        return cella_fail(CELLA_E_NOTFOUND, name, "no such session");
    }
    if (rc != DB_ROW) {
        cella_res r = db_failure(s->db, "session lookup failed");
        db_done(&q);
        return r;
    }
    const char *owner = db_col_text(&q, 0);
    snprintf(row->owner, sizeof row->owner, "%s", owner ? owner : "");
    db_col_bytes(&q, 1, row->hash, 32);
    row->version = db_col_int(&q, 2);
    size_t n;
    const void *sealed = db_col_blob(&q, 3, &n);
    cella_buf_append(&row->sealed, sealed, n);
    db_done(&q);
    return cella_buf_result(&row->sealed);
}

cella_res cella_cas_session_create(cella_cas_store *s, const char *name,
                                   const cella_cas_session_row *row)
{
    dbq q = db_prep(s->db, "INSERT INTO sessions(name, owner, hash, version, sealed)"
                           " VALUES(?,?,?,1,?)");
    db_bt(&q, 1, name);
    db_bt(&q, 2, row->owner);
    db_bb(&q, 3, row->hash, 32);
    db_bb(&q, 4, row->sealed.p, row->sealed.len);
    int rc = db_write_step(&q);
    db_done(&q);
    if (rc == DB_CONSTRAINT)
        return cella_fail(CELLA_E_EXISTS, name, "a session with this name exists (update it "
                                                "with its hash as predecessor)");
    return rc == DB_DONE ? CELLA_OK_RES : db_failure(s->db, "cannot store session");
}

cella_res cella_cas_session_update(cella_cas_store *s, const char *name,
                                   const uint8_t predecessor[32], const cella_cas_session_row *row)
{
    /* One conditional statement: of two replicas updating from the same
     * predecessor, the database lets exactly one match. */
    dbq u = db_prep(s->db, "UPDATE sessions SET hash = ?, version = version + 1, sealed = ?"
                           " WHERE name = ? AND hash = ? RETURNING version");
    db_bb(&u, 1, row->hash, 32);
    db_bb(&u, 2, row->sealed.p, row->sealed.len);
    db_bt(&u, 3, name);
    db_bb(&u, 4, predecessor, 32);
    int rc = db_write_step(&u);
    db_done(&u);
    if (rc == DB_ROW)
        return CELLA_OK_RES;
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot update session");
    dbq q = db_prep(s->db, "SELECT 1 FROM sessions WHERE name = ?");
    db_bt(&q, 1, name);
    rc = db_step(&q);
    db_done(&q);
    if (rc == DB_DONE)
        return cella_fail(CELLA_E_NOTFOUND, name, "no such session");
    if (rc != DB_ROW)
        return db_failure(s->db, "session lookup failed");
    return cella_fail(CELLA_E_ROLLBACK, name,
                      "predecessor is not the current session hash (someone updated it first, "
                      "or the update is stale)");
}

/* ---- sealed values ------------------------------------------------------------- */

static const char SEALED_GET[] =
    "SELECT value FROM sealed WHERE session = ? AND kind = ? AND name = ?";

/* DB_ROW (appended to out), DB_DONE (none) or an error. */
static int sealed_get(cella_cas_store *s, const char *session, const char *kind,
                      const char *name, cella_buf *out)
{
    dbq q = db_prep(s->db, SEALED_GET);
    db_bt(&q, 1, session);
    db_bt(&q, 2, kind);
    db_bt(&q, 3, name);
    int rc = db_step(&q);
    if (rc == DB_ROW) {
        size_t n;
        const void *v = db_col_blob(&q, 0, &n);
        cella_buf_append(out, v, n);
    }
    db_done(&q);
    return rc;
}

static void bind_sealed(dbq *q, const char *session, const char *kind, const char *name,
                        cella_slice value)
{
    db_bt(q, 1, session);
    db_bt(q, 2, kind);
    db_bt(q, 3, name);
    db_bb(q, 4, value.p, value.len);
}

cella_res cella_cas_sealed_get_or_put(cella_cas_store *s, const char *session, const char *kind,
                                      const char *name, cella_slice candidate, cella_buf *out)
{
    /* Read first: the common case is "already there", which needs no write. */
    int rc = sealed_get(s, session, kind, name, out);
    if (rc == DB_ROW)
        return cella_buf_result(out);
    if (rc != DB_DONE)
        return db_failure(s->db, "secret lookup failed");
    /* The first writer wins, on any replica: a second insert does nothing
     * and both read the winner's value. */
    dbq ins = db_prep(s->db, "INSERT INTO sealed(session, kind, name, value) VALUES(?,?,?,?)"
                             " ON CONFLICT DO NOTHING");
    bind_sealed(&ins, session, kind, name, candidate);
    CELLA_TRY(write_done(s, &ins, "cannot store value"));
    rc = sealed_get(s, session, kind, name, out);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "secret lookup failed");
    CELLA_ENSURE(rc == DB_ROW, CELLA_E_IO, cella_db_where(s->db), "stored value vanished");
    return cella_buf_result(out);
}

cella_res cella_cas_sealed_insert(cella_cas_store *s, const char *session, const char *kind,
                                  const char *name, cella_slice value)
{
    dbq q = db_prep(s->db, "INSERT INTO sealed(session, kind, name, value) VALUES(?,?,?,?)");
    bind_sealed(&q, session, kind, name, value);
    int rc = db_write_step(&q);
    db_done(&q);
    if (rc == DB_CONSTRAINT)
        return cella_fail(CELLA_E_EXISTS, name, "already exists and cannot be updated");
    return rc == DB_DONE ? CELLA_OK_RES : db_failure(s->db, "cannot store value");
}

cella_res cella_cas_sealed_replace(cella_cas_store *s, const char *session, const char *kind,
                                   const char *name, cella_slice value)
{
    dbq q = db_prep(s->db, "INSERT INTO sealed(session, kind, name, value) VALUES(?,?,?,?)"
                           " ON CONFLICT(session, kind, name) DO UPDATE SET value = excluded.value");
    bind_sealed(&q, session, kind, name, value);
    return write_done(s, &q, "cannot store value");
}

cella_res cella_cas_sealed_get(cella_cas_store *s, const char *session, const char *kind,
                               const char *name, cella_buf *out)
{
    int rc = sealed_get(s, session, kind, name, out);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "secret lookup failed");
    CELLA_ENSURE(rc == DB_ROW, CELLA_E_NOTFOUND, name, "no such secret");
    return cella_buf_result(out);
}

/* ---- SMS pushes: each signed challenge accepted once ---- */

static cella_res sms_put_once(cella_cas_store *s, const char *kind, const char *name,
                              cella_slice value, bool replace, const uint8_t tag[32], int64_t ts)
{
    CELLA_TRY(db_begin(s->db));
    /* Insert-if-absent: of two replicas handed the same push, one records it. */
    dbq q = db_prep(s->db, "INSERT INTO sms_used(tag, ts) VALUES(?, ?) ON CONFLICT(tag) DO NOTHING"
                           " RETURNING ts");
    db_bb(&q, 1, tag, 32);
    db_bi(&q, 2, ts);
    int rc = db_step(&q);
    db_done(&q);
    cella_res r = CELLA_OK_RES;
    if (rc != DB_ROW && rc != DB_DONE)
        r = db_failure(s->db, "cannot record an SMS push");
    else if (rc == DB_DONE)
        r = cella_fail(CELLA_E_PERM, name,
                       "this signed push was accepted before (replay): sign a new value");
    if (cella_ok(r))
        r = replace ? cella_cas_sealed_replace(s, "", kind, name, value)
                    : cella_cas_sealed_insert(s, "", kind, name, value);
    if (cella_ok(r))
        return db_commit(s->db);
    db_rollback(s->db);
    return r;
}

cella_res cella_cas_sms_put(cella_cas_store *s, const char *kind, const char *name,
                            cella_slice value, bool replace, const uint8_t tag[32], int64_t ts)
{
    cella_res r;
    CELLA_DB_RETRY(s->db, r, sms_put_once(s, kind, name, value, replace, tag, ts));
    return r;
}

/* ---- tags ------------------------------------------------------------------------ */

cella_res cella_cas_tag_get(cella_cas_store *s, const char *session, const char *volume,
                            uint8_t tag[16], bool *has)
{
    dbq q = db_prep(s->db, "SELECT tag FROM tags WHERE session = ? AND volume = ?");
    db_bt(&q, 1, session);
    db_bt(&q, 2, volume);
    int rc = db_step(&q);
    size_t n = 0;
    const void *v = rc == DB_ROW ? db_col_blob(&q, 0, &n) : NULL;
    *has = v && n == 16;
    if (*has)
        memcpy(tag, v, 16);
    db_done(&q);
    if (rc != DB_ROW && rc != DB_DONE)
        return db_failure(s->db, "tag lookup failed");
    return CELLA_OK_RES;
}

cella_res cella_cas_tag_swap(cella_cas_store *s, const char *session, const char *volume,
                             const uint8_t *old, const uint8_t new_tag[16])
{
    /* One conditional statement either way, so two forks of a volume pushed
     * through two replicas cannot both win: the first push inserts only if
     * no tag exists; a later one replaces only the tag it read. */
    dbq q = old ? db_prep(s->db, "UPDATE tags SET tag = ? WHERE session = ? AND volume = ?"
                                 " AND tag = ? RETURNING 1")
                : db_prep(s->db, "INSERT INTO tags(tag, session, volume) VALUES(?,?,?)"
                                 " ON CONFLICT DO NOTHING RETURNING 1");
    db_bb(&q, 1, new_tag, 16);
    db_bt(&q, 2, session);
    db_bt(&q, 3, volume);
    if (old)
        db_bb(&q, 4, old, 16);
    int rc = db_write_step(&q);
    db_done(&q);
    if (rc == DB_ROW)
        return CELLA_OK_RES;
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot store tag");
    return cella_fail(CELLA_E_ROLLBACK, volume,
                      "stale tag: the volume changed since this instance read it (another "
                      "instance pushed first)");
}

/* ---- instances ----------------------------------------------------------------------- */

cella_res cella_cas_instance_put(cella_cas_store *s, const uint8_t token_hash[32],
                                 const char *session, const char *service, const uint8_t spki[32],
                                 int64_t expires)
{
    dbq q = db_prep(s->db, "INSERT INTO instances(token, session, service, spki, expires)"
                           " VALUES(?,?,?,?,?)");
    db_bb(&q, 1, token_hash, 32);
    db_bt(&q, 2, session);
    db_bt(&q, 3, service);
    db_bb(&q, 4, spki, 32);
    db_bi(&q, 5, expires);
    return write_done(s, &q, "cannot store instance");
}

static cella_res instances_put_audited_once(cella_cas_store *s, const cella_cas_attested *a,
                                            size_t n)
{
    CELLA_TRY(db_begin(s->db));
    cella_res r = CELLA_OK_RES;
    for (size_t i = 0; i < n && cella_ok(r); i++) {
        char object[600];
        snprintf(object, sizeof object, "%s/%s", a[i].session, a[i].service);
        r = cella_cas_instance_put(s, a[i].token_hash, a[i].session, a[i].service, a[i].spki,
                                   a[i].expires);
        if (cella_ok(r))
            r = cella_cas_audit(s, a[i].ts, a[i].who, "attest", object, "ok", a[i].why);
    }
    if (cella_ok(r))
        return db_commit(s->db);
    db_rollback(s->db);
    return r;
}

cella_res cella_cas_instances_put_audited(cella_cas_store *s, const cella_cas_attested *a,
                                          size_t n)
{
    cella_res r;
    CELLA_DB_RETRY(s->db, r, instances_put_audited_once(s, a, n));
    return r;
}

cella_res cella_cas_instance_get(cella_cas_store *s, const uint8_t token_hash[32], int64_t now,
                                 char session[256], char service[256], uint8_t spki[32])
{
    dbq q = db_prep(s->db, "SELECT session, service, spki, expires FROM instances WHERE token = ?");
    db_bb(&q, 1, token_hash, 32);
    int rc = db_step(&q);
    cella_res r = CELLA_OK_RES;
    if (rc != DB_ROW && rc != DB_DONE) {
        r = db_failure(s->db, "instance lookup failed");
    } else if (rc != DB_ROW) {
        r = cella_fail(CELLA_E_AUTH, "instance", "unknown attested instance");
    } else if (db_col_int(&q, 3) < now) {
        r = cella_fail(CELLA_E_AUTH, "instance", "attested instance expired");
    } else {
        const char *se = db_col_text(&q, 0), *sv = db_col_text(&q, 1);
        snprintf(session, 256, "%s", se ? se : "");
        snprintf(service, 256, "%s", sv ? sv : "");
        db_col_bytes(&q, 2, spki, 32);
    }
    db_done(&q);
    return r;
}

/* ---- audit -------------------------------------------------------------------------- */

cella_res cella_cas_audit(cella_cas_store *s, int64_t ts, const char *who, const char *action,
                          const char *object, const char *outcome, const char *why)
{
    dbq q = db_prep(s->db, "INSERT INTO audit(ts, who, action, object, outcome, why)"
                           " VALUES(?,?,?,?,?,?)");
    db_bi(&q, 1, ts);
    db_bt(&q, 2, who);
    db_bt(&q, 3, action);
    db_bt(&q, 4, object);
    db_bt(&q, 5, outcome);
    db_bt(&q, 6, why);
    return write_done(s, &q, "cannot write audit log");
}

cella_res cella_cas_audit_each(cella_cas_store *s,
                               void (*fn)(int64_t, const char *, const char *, const char *,
                                          const char *, const char *, void *),
                               void *ctx)
{
    dbq q = db_prep(s->db, "SELECT ts, who, action, object, outcome, why FROM audit ORDER BY id");
    int rc;
    while ((rc = db_step(&q)) == DB_ROW)
        fn(db_col_int(&q, 0), db_col_text(&q, 1), db_col_text(&q, 2), db_col_text(&q, 3),
           db_col_text(&q, 4), db_col_text(&q, 5), ctx);
    db_done(&q);
    if (rc != DB_DONE)
        return db_failure(s->db, "cannot read audit log");
    return CELLA_OK_RES;
}
