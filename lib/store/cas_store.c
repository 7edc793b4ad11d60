#include "store/cas_store.h"
#include "store/sql.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cella_cas_store {
    sqlite3 *db;
    char path[1024];
    stmt_cache stmts; /* one store per thread: attestation reads the same few rows */
    sql_writer writer;
};

/* The turn every cas store handle of this process takes to write (store/sql.h). */
static pthread_mutex_t g_writer = PTHREAD_MUTEX_INITIALIZER;

static const char SCHEMA[] =
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
    " why TEXT NOT NULL);";

static stmt sprep(cella_cas_store *s, const char *sql) { return cached_prep(&s->stmts, s->db, sql); }
static void sdone(cella_cas_store *s, stmt *q) { cached_done(&s->stmts, q); }

static cella_res db_fail(cella_cas_store *s, const char *what)
{
    return cella_fail(CELLA_E_IO, s->path, "%s: %s", what, sqlite3_errmsg(s->db));
}

static cella_res exec(cella_cas_store *s, const char *sql) { return sql_exec(s->db, s->path, sql); }

cella_res cella_cas_store_open(const char *path, cella_cas_store **out)
{
    *out = NULL;
    cella_cas_store *s = calloc(1, sizeof *s);
    CELLA_ENSURE(s, CELLA_E_NOMEM, path, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    s->writer.turn = &g_writer;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        cella_res r = cella_fail(CELLA_E_IO, path, "cannot open database: %s",
                                 s->db ? sqlite3_errmsg(s->db) : "?");
        cella_cas_store_close(s);
        return r;
    }
    sqlite3_busy_timeout(s->db, 10000);
    /* WAL for concurrent readers; FULL: every commit is fsynced before it
     * returns, so an acknowledged write survives a crash. */
    cella_res r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          "PRAGMA foreign_keys=ON;");
    if (cella_ok(r))
        r = exec(s, SCHEMA);
    if (!cella_ok(r)) {
        cella_cas_store_close(s);
        return r;
    }
    *out = s;
    return CELLA_OK_RES;
}

void cella_cas_store_close(cella_cas_store *s)
{
    if (!s)
        return;
    stmt_cache_clear(&s->stmts);
    sqlite3_close_v2(s->db);
    free(s);
}

/* Transactions on the process's writer turn (store/sql.h). */
static cella_res begin(cella_cas_store *s) { return sql_begin(&s->writer, &s->stmts, s->db, s->path); }
static cella_res commit(cella_cas_store *s) { return sql_commit(&s->writer, &s->stmts, s->db, s->path); }
/* A no-op after a failed commit, which already rolled back. */
static void rollback(cella_cas_store *s) { (void)sql_txn_end(&s->writer, &s->stmts, s->db, false, NULL, 0); }

static int write_step(cella_cas_store *s, stmt *q) { return sql_write_step(&s->writer, q); }

/* ---- sessions ----------------------------------------------------------------- */

cella_res cella_cas_session_get(cella_cas_store *s, const char *name, cella_cas_session_row *row)
{
    stmt q = sprep(s, "SELECT owner, hash, version, sealed FROM sessions WHERE name = ?");
    bt(&q, 1, name);
    int rc = step(&q);
    if (rc == SQLITE_DONE) {
        sdone(s, &q);
        return cella_fail(CELLA_E_NOTFOUND, name, "no such session");
    }
    if (rc != SQLITE_ROW) {
        cella_res r = db_fail(s, "session lookup failed");
        sdone(s, &q);
        return r;
    }
    snprintf(row->owner, sizeof row->owner, "%s", (const char *)sqlite3_column_text(q.st, 0));
    const void *h = sqlite3_column_blob(q.st, 1);
    if (h && sqlite3_column_bytes(q.st, 1) == 32)
        memcpy(row->hash, h, 32);
    row->version = sqlite3_column_int64(q.st, 2);
    cella_buf_append(&row->sealed, sqlite3_column_blob(q.st, 3), (size_t)sqlite3_column_bytes(q.st, 3));
    sdone(s, &q);
    return cella_buf_result(&row->sealed);
}

cella_res cella_cas_session_create(cella_cas_store *s, const char *name,
                                   const cella_cas_session_row *row)
{
    stmt q = sprep(s, "INSERT INTO sessions(name, owner, hash, version, sealed) VALUES(?,?,?,1,?)");
    bt(&q, 1, name);
    bt(&q, 2, row->owner);
    bb(&q, 3, row->hash, 32);
    bb(&q, 4, row->sealed.p, row->sealed.len);
    int rc = write_step(s, &q);
    sdone(s, &q);
    if (rc == SQLITE_CONSTRAINT)
        return cella_fail(CELLA_E_EXISTS, name, "a session with this name exists (update it "
                                                "with its hash as predecessor)");
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot store session: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

cella_res cella_cas_session_update(cella_cas_store *s, const char *name,
                                   const uint8_t predecessor[32], const cella_cas_session_row *row)
{
    CELLA_TRY(begin(s));
    stmt q = sprep(s, "SELECT hash FROM sessions WHERE name = ?");
    bt(&q, 1, name);
    int rc = step(&q);
    uint8_t cur[32] = {0};
    if (rc == SQLITE_ROW && sqlite3_column_bytes(q.st, 0) == 32)
        memcpy(cur, sqlite3_column_blob(q.st, 0), 32);
    sdone(s, &q);
    cella_res r = CELLA_OK_RES;
    if (rc == SQLITE_DONE)
        r = cella_fail(CELLA_E_NOTFOUND, name, "no such session");
    else if (rc != SQLITE_ROW)
        r = db_fail(s, "session lookup failed");
    else if (memcmp(cur, predecessor, 32) != 0)
        r = cella_fail(CELLA_E_ROLLBACK, name,
                       "predecessor is not the current session hash (someone updated it first, "
                       "or the update is stale)");
    if (cella_ok(r)) {
        stmt u = sprep(s, "UPDATE sessions SET hash = ?, version = version + 1, sealed = ?"
                         " WHERE name = ?");
        bb(&u, 1, row->hash, 32);
        bb(&u, 2, row->sealed.p, row->sealed.len);
        bt(&u, 3, name);
        if (write_step(s, &u) != SQLITE_DONE)
            r = db_fail(s, "cannot update session");
        sdone(s, &u);
    }
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    return r;
}

/* ---- sealed values ------------------------------------------------------------- */

static bool sealed_get(cella_cas_store *s, const char *session, const char *kind,
                       const char *name, cella_buf *out)
{
    stmt q = sprep(s, "SELECT value FROM sealed WHERE session = ? AND kind = ? AND name = ?");
    bt(&q, 1, session);
    bt(&q, 2, kind);
    bt(&q, 3, name);
    bool found = step(&q) == SQLITE_ROW;
    if (found)
        cella_buf_append(out, sqlite3_column_blob(q.st, 0), (size_t)sqlite3_column_bytes(q.st, 0));
    sdone(s, &q);
    return found;
}

cella_res cella_cas_sealed_get_or_put(cella_cas_store *s, const char *session, const char *kind,
                                      const char *name, cella_slice candidate, cella_buf *out)
{
    /* Read first: the common case is "already there", which needs no write. */
    if (sealed_get(s, session, kind, name, out))
        return cella_buf_result(out);
    stmt ins = sprep(s, "INSERT OR IGNORE INTO sealed(session, kind, name, value) VALUES(?,?,?,?)");
    bt(&ins, 1, session);
    bt(&ins, 2, kind);
    bt(&ins, 3, name);
    bb(&ins, 4, candidate.p, candidate.len);
    int rc = write_step(s, &ins);
    sdone(s, &ins);
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot store value: %s",
                 sqlite3_errmsg(s->db));
    stmt q = sprep(s, "SELECT value FROM sealed WHERE session = ? AND kind = ? AND name = ?");
    bt(&q, 1, session);
    bt(&q, 2, kind);
    bt(&q, 3, name);
    rc = step(&q);
    if (rc == SQLITE_ROW)
        cella_buf_append(out, sqlite3_column_blob(q.st, 0), (size_t)sqlite3_column_bytes(q.st, 0));
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_ROW, CELLA_E_IO, s->path, "stored value vanished");
    return cella_buf_result(out);
}

static cella_res sealed_write(cella_cas_store *s, const char *sql, const char *session,
                              const char *kind, const char *name, cella_slice value)
{
    stmt q = sprep(s, sql);
    bt(&q, 1, session);
    bt(&q, 2, kind);
    bt(&q, 3, name);
    bb(&q, 4, value.p, value.len);
    int rc = write_step(s, &q);
    sdone(s, &q);
    if (rc == SQLITE_CONSTRAINT)
        return cella_fail(CELLA_E_EXISTS, name, "already exists and cannot be updated");
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot store value: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

cella_res cella_cas_sealed_insert(cella_cas_store *s, const char *session, const char *kind,
                                  const char *name, cella_slice value)
{
    return sealed_write(s, "INSERT INTO sealed(session, kind, name, value) VALUES(?,?,?,?)",
                        session, kind, name, value);
}

cella_res cella_cas_sealed_replace(cella_cas_store *s, const char *session, const char *kind,
                                   const char *name, cella_slice value)
{
    return sealed_write(s, "INSERT OR REPLACE INTO sealed(session, kind, name, value) VALUES(?,?,?,?)",
                        session, kind, name, value);
}

cella_res cella_cas_sealed_get(cella_cas_store *s, const char *session, const char *kind,
                               const char *name, cella_buf *out)
{
    CELLA_ENSURE(sealed_get(s, session, kind, name, out), CELLA_E_NOTFOUND, name, "no such secret");
    return cella_buf_result(out);
}

/* ---- tags ------------------------------------------------------------------------ */

cella_res cella_cas_tag_get(cella_cas_store *s, const char *session, const char *volume,
                            uint8_t tag[16], bool *has)
{
    stmt q = sprep(s, "SELECT tag FROM tags WHERE session = ? AND volume = ?");
    bt(&q, 1, session);
    bt(&q, 2, volume);
    int rc = step(&q);
    *has = rc == SQLITE_ROW && sqlite3_column_bytes(q.st, 0) == 16;
    if (*has)
        memcpy(tag, sqlite3_column_blob(q.st, 0), 16);
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_ROW || rc == SQLITE_DONE, CELLA_E_IO, s->path, "tag lookup failed");
    return CELLA_OK_RES;
}

cella_res cella_cas_tag_swap(cella_cas_store *s, const char *session, const char *volume,
                             const uint8_t *old, const uint8_t new_tag[16])
{
    CELLA_TRY(begin(s));
    uint8_t cur[16];
    bool has;
    cella_res r = cella_cas_tag_get(s, session, volume, cur, &has);
    if (cella_ok(r) && (has != (old != NULL) || (has && memcmp(cur, old, 16) != 0)))
        r = cella_fail(CELLA_E_ROLLBACK, volume,
                       "stale tag: the volume changed since this instance read it (another "
                       "instance pushed first)");
    if (cella_ok(r)) {
        stmt u = sprep(s, "INSERT INTO tags(session, volume, tag) VALUES(?,?,?)"
                         " ON CONFLICT(session, volume) DO UPDATE SET tag = excluded.tag");
        bt(&u, 1, session);
        bt(&u, 2, volume);
        bb(&u, 3, new_tag, 16);
        if (write_step(s, &u) != SQLITE_DONE)
            r = db_fail(s, "cannot store tag");
        sdone(s, &u);
    }
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    return r;
}

/* ---- instances ----------------------------------------------------------------------- */

cella_res cella_cas_instance_put(cella_cas_store *s, const uint8_t token_hash[32],
                                 const char *session, const char *service, const uint8_t spki[32],
                                 int64_t expires)
{
    stmt q = sprep(s, "INSERT INTO instances(token, session, service, spki, expires)"
                     " VALUES(?,?,?,?,?)");
    bb(&q, 1, token_hash, 32);
    bt(&q, 2, session);
    bt(&q, 3, service);
    bb(&q, 4, spki, 32);
    bi(&q, 5, expires);
    int rc = write_step(s, &q);
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot store instance: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

cella_res cella_cas_instance_put_audited(cella_cas_store *s, const uint8_t token_hash[32],
                                         const char *session, const char *service,
                                         const uint8_t spki[32], int64_t expires, int64_t ts,
                                         const char *who, const char *why)
{
    CELLA_TRY(begin(s));
    char object[600];
    snprintf(object, sizeof object, "%s/%s", session, service);
    cella_res r = cella_cas_instance_put(s, token_hash, session, service, spki, expires);
    if (cella_ok(r))
        r = cella_cas_audit(s, ts, who, "attest", object, "ok", why);
    if (cella_ok(r))
        r = commit(s);
    if (!cella_ok(r))
        rollback(s);
    return r;
}

cella_res cella_cas_instance_get(cella_cas_store *s, const uint8_t token_hash[32], int64_t now,
                                 char session[256], char service[256], uint8_t spki[32])
{
    stmt q = sprep(s, "SELECT session, service, spki, expires FROM instances WHERE token = ?");
    bb(&q, 1, token_hash, 32);
    int rc = step(&q);
    cella_res r = CELLA_OK_RES;
    if (rc != SQLITE_ROW) {
        r = cella_fail(CELLA_E_AUTH, "instance", "unknown attested instance");
    } else if (sqlite3_column_int64(q.st, 3) < now) {
        r = cella_fail(CELLA_E_AUTH, "instance", "attested instance expired");
    } else {
        snprintf(session, 256, "%s", (const char *)sqlite3_column_text(q.st, 0));
        snprintf(service, 256, "%s", (const char *)sqlite3_column_text(q.st, 1));
        if (sqlite3_column_bytes(q.st, 2) == 32)
            memcpy(spki, sqlite3_column_blob(q.st, 2), 32);
    }
    sdone(s, &q);
    return r;
}

/* ---- audit -------------------------------------------------------------------------- */

cella_res cella_cas_audit(cella_cas_store *s, int64_t ts, const char *who, const char *action,
                          const char *object, const char *outcome, const char *why)
{
    stmt q = sprep(s, "INSERT INTO audit(ts, who, action, object, outcome, why) VALUES(?,?,?,?,?,?)");
    bi(&q, 1, ts);
    bt(&q, 2, who);
    bt(&q, 3, action);
    bt(&q, 4, object);
    bt(&q, 5, outcome);
    bt(&q, 6, why);
    int rc = write_step(s, &q);
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot write audit log: %s",
                 sqlite3_errmsg(s->db));
    return CELLA_OK_RES;
}

cella_res cella_cas_audit_each(cella_cas_store *s,
                               void (*fn)(int64_t, const char *, const char *, const char *,
                                          const char *, const char *, void *),
                               void *ctx)
{
    stmt q = sprep(s, "SELECT ts, who, action, object, outcome, why FROM audit ORDER BY id");
    int rc;
    while ((rc = step(&q)) == SQLITE_ROW)
        fn(sqlite3_column_int64(q.st, 0), (const char *)sqlite3_column_text(q.st, 1),
           (const char *)sqlite3_column_text(q.st, 2), (const char *)sqlite3_column_text(q.st, 3),
           (const char *)sqlite3_column_text(q.st, 4), (const char *)sqlite3_column_text(q.st, 5),
           ctx);
    sdone(s, &q);
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, s->path, "cannot read audit log");
    return CELLA_OK_RES;
}
