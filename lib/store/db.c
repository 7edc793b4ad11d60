/* store/db.h over SQLite and libpq: opening, schemas, statements,
 * transactions and retries, dispatched to SQLite here and to PostgreSQL in
 * db_pg.c. */
#include "store/db_int.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/secure.h"

cella_db_kind cella_db_kind_of(const cella_db *db) { return db->kind; }
const char *cella_db_where(const cella_db *db) { return db->where; }
const char *db_errmsg(cella_db *db)
{
    if (db->kind == CELLA_DB_SQLITE && !db->err[0])
        return sqlite3_errmsg(db->lite);
    return db->err;
}
bool db_retryable(const cella_db *db) { return db->retryable; }

cella_res db_failure(cella_db *db, const char *what)
{
    cella_metrics_db_error();
    bool down = db->kind == CELLA_DB_POSTGRES && (db->retryable || PG->PQstatus(db->pg) != CONNECTION_OK);
    return cella_fail(down ? CELLA_E_UNAVAILABLE : CELLA_E_IO, db->where, "%s: %s", what,
                      db_errmsg(db));
}
bool db_in_txn(const cella_db *db) { return db->kind == CELLA_DB_SQLITE ? db->writer.in_txn : db->pg_txn; }


cella_res cella_db_url_check(const char *url)
{
    CELLA_ENSURE(url && *url, CELLA_E_USAGE, "--db", "an empty database URL");
    if (db_is_pg_url(url)) {
        const cella_pq_lib *L;
        CELLA_TRY(cella_pq_lib_get(&L)); /* before any connection exists */
        char *err = NULL;
        PQconninfoOption *o = PG->PQconninfoParse(url, &err);
        if (!o) {
            /* libpq quotes the whole URI after " in URI": it may hold a password */
            char *quoted = err ? strstr(err, " in URI") : NULL;
            if (quoted)
                *quoted = 0;
            cella_res r = cella_fail(CELLA_E_USAGE, "--db", "not a PostgreSQL URL: %s",
                                     err ? err : "out of memory");
            PG->PQfreemem(err);
            return r;
        }
        /* --db comes from the command line, which every local user can read
         * (ps, /proc): a password there is refused, never used */
        bool password = false;
        for (PQconninfoOption *k = o; k->keyword; k++)
            password = password || (!strcmp(k->keyword, "password") && k->val && *k->val);
        PG->PQconninfoFree(o);
        CELLA_ENSURE(!password, CELLA_E_USAGE, "--db",
                     "the URL holds a password, which anyone on this host could read in the "
                     "command line: put it in a password file named by PGPASSFILE (mode 0600)");
        return CELLA_OK_RES;
    }
    const char *path = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
    CELLA_ENSURE(*path, CELLA_E_USAGE, "--db", "sqlite: needs a path (sqlite:PATH)");
    CELLA_ENSURE(!strstr(url, "://"), CELLA_E_USAGE, "--db",
                 "unknown database scheme (use sqlite:PATH or postgres://...)");
    return CELLA_OK_RES;
}

/* ---- PostgreSQL errors ---- */

/* ---- opening ---- */

static cella_res lite_open(cella_db *db, const char *path, pthread_mutex_t *turn)
{
    snprintf(db->where, sizeof db->where, "%s", path);
    db->writer.turn = turn;
    if (sqlite3_open_v2(path, &db->lite,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return cella_fail(CELLA_E_IO, path, "cannot open database: %s",
                          db->lite ? sqlite3_errmsg(db->lite) : "?");
    sqlite3_busy_timeout(db->lite, 10000);
    /* WAL for concurrent readers; FULL: each commit is fsynced before it
     * returns, so an acknowledged write survives kill -9. */
    return db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                       "PRAGMA foreign_keys=ON;");
}

/* An advisory lock's key for the schema of one store (any constant that
 * other programs on the database are unlikely to use). */
#define MIGRATION_LOCK 0x63656c6c61L /* "cella" */

static cella_res schema_version(cella_db *db, const char *name, int *version)
{
    dbq q = db_prep(db, "SELECT version FROM cella_schema WHERE name = ?");
    db_bt(&q, 1, name);
    int rc = db_step(&q);
    *version = rc == DB_ROW ? (int)db_col_int(&q, 0) : 0;
    db_done(&q);
    CELLA_ENSURE(rc == DB_ROW || rc == DB_DONE, CELLA_E_IO, db->where,
                 "cannot read the schema version: %s", db_errmsg(db));
    return CELLA_OK_RES;
}

static cella_res schema_apply(cella_db *db, const cella_db_schema *sc, void *ctx)
{
    CELLA_TRY(db_exec(db, "CREATE TABLE IF NOT EXISTS cella_schema(name TEXT PRIMARY KEY,"
                          " version INTEGER NOT NULL)"));
    int have;
    CELLA_TRY(schema_version(db, sc->name, &have));
    CELLA_ENSURE(have <= sc->version, CELLA_E_UNSUPPORTED, db->where,
                 "the %s schema is version %d, newer than this cella's %d: upgrade cella",
                 sc->name, have, sc->version);
    CELLA_TRY(db_exec(db, db->kind == CELLA_DB_SQLITE ? sc->sqlite : sc->postgres));
    if (sc->migrate)
        CELLA_TRY(sc->migrate(db, have, ctx));
    dbq q = db_prep(db, "INSERT INTO cella_schema(name, version) VALUES(?, ?)"
                        " ON CONFLICT(name) DO UPDATE SET version = excluded.version");
    db_bt(&q, 1, sc->name);
    db_bi(&q, 2, sc->version);
    int rc = db_step(&q);
    db_done(&q);
    CELLA_ENSURE(rc == DB_DONE, CELLA_E_IO, db->where, "cannot record the schema version: %s",
                 db_errmsg(db));
    return CELLA_OK_RES;
}

/* Creates or migrates the schema once, whoever opens first: SQLite's
 * BEGIN IMMEDIATE, PostgreSQL's advisory lock (held for the transaction). */
static cella_res schema_setup(cella_db *db, const cella_db_schema *sc, void *ctx)
{
    if (!sc)
        return CELLA_OK_RES;
    CELLA_TRY(db_begin(db));
    cella_res r = CELLA_OK_RES;
    if (db->kind == CELLA_DB_POSTGRES) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%ld)", MIGRATION_LOCK);
        if (dbpg_simple(db, sql) != DB_DONE)
            r = cella_fail(CELLA_E_IO, db->where, "cannot take the migration lock: %s", db->err);
    }
    if (cella_ok(r))
        r = schema_apply(db, sc, ctx);
    if (cella_ok(r))
        return db_commit(db);
    db_rollback(db);
    return r;
}

cella_res cella_db_open(const char *url, const cella_db_schema *schema, void *migrate_ctx,
                        pthread_mutex_t *turn, cella_db **out)
{
    *out = NULL;
    cella_db *db = calloc(1, sizeof *db);
    CELLA_ENSURE(db, CELLA_E_NOMEM, url, "out of memory");
    cella_res r;
    if (db_is_pg_url(url)) {
        db->kind = CELLA_DB_POSTGRES;
        r = dbpg_open(db, url);
    } else {
        db->kind = CELLA_DB_SQLITE;
        r = cella_db_url_check(url);
        if (cella_ok(r))
            r = lite_open(db, !strncmp(url, "sqlite:", 7) ? url + 7 : url, turn);
    }
    cella_metrics_db_connections_add(1);
    if (cella_ok(r))
        r = schema_setup(db, schema, migrate_ctx);
    if (!cella_ok(r)) {
        cella_db_close(db);
        return r;
    }
    *out = db;
    return CELLA_OK_RES;
}

void cella_db_close(cella_db *db)
{
    if (!db)
        return;
    cella_metrics_db_connections_add(-1);
    if (db->lite) {
        stmt_cache_clear(&db->stmts);
        sqlite3_close_v2(db->lite);
    }
    if (db->pg)
        PG->PQfinish(db->pg);
    for (size_t i = 0; i < db->nxlat; i++) {
        free(db->xlat[i].sql);
        free(db->xlat[i].pg);
    }
    if (db->url) {
        cella_wipe(db->url, strlen(db->url)); /* it may carry a password */
        free(db->url);
    }
    free(db);
}

/* ---- statements ---- */

static const char FOR_UPDATE[] = " FOR UPDATE", SKIP_LOCKED[] = " FOR UPDATE SKIP LOCKED";

/* The SQL as this engine takes it. PostgreSQL: `?` becomes $1, $2... and
 * `?N` becomes $N (outside quoted strings). SQLite: a trailing FOR UPDATE
 * goes (BEGIN IMMEDIATE already keeps other writers out). NULL when out of
 * memory. */
static char *translate(cella_db_kind kind, const char *sql)
{
    size_t n = strlen(sql), f = sizeof FOR_UPDATE - 1, sl = sizeof SKIP_LOCKED - 1;
    if (kind == CELLA_DB_SQLITE && n > sl && !strcmp(sql + n - sl, SKIP_LOCKED))
        return strndup(sql, n - sl);
    if (kind == CELLA_DB_SQLITE)
        return strndup(sql, n > f && !strcmp(sql + n - f, FOR_UPDATE) ? n - f : n);
    char *out = malloc(n * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    int k = 0;
    bool quoted = false;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        if (*p != '?' || quoted) {
            out[o++] = *p;
        } else if (p[1] >= '0' && p[1] <= '9') {
            out[o++] = '$';
            while (p[1] >= '0' && p[1] <= '9')
                out[o++] = *++p;
        } else {
            o += (size_t)sprintf(out + o, "$%d", ++k);
        }
    }
    out[o] = 0;
    dbpg_json_extract(out, n * 4 + 1);
    return out;
}

/* translate(), kept for the connection's life (statements are constants). */
static const char *translated(cella_db *db, const char *sql)
{
    for (size_t i = 0; i < db->nxlat; i++)
        if (!strcmp(db->xlat[i].sql, sql))
            return db->xlat[i].pg;
    char *t = translate(db->kind, sql), *key = strdup(sql);
    if (!t || !key) {
        free(t);
        free(key);
        return NULL;
    }
    if (db->nxlat == STMT_CACHE_MAX) { /* forget the oldest */
        if (db->xlat[0].name[0] && PG->PQtransactionStatus(db->pg) != PQTRANS_INERROR) {
            char dealloc[32]; /* its result does not matter: a name is never used twice */
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", db->xlat[0].name);
            PG->PQclear(PG->PQexec(db->pg, dealloc));
        }
        free(db->xlat[0].sql);
        free(db->xlat[0].pg);
        memmove(db->xlat, db->xlat + 1, sizeof db->xlat[0] * (STMT_CACHE_MAX - 1));
        db->nxlat--;
    }
    memset(&db->xlat[db->nxlat], 0, sizeof db->xlat[0]);
    db->xlat[db->nxlat].sql = key;
    db->xlat[db->nxlat++].pg = t;
    return t;
}

dbq db_prep(cella_db *db, const char *sql)
{
    dbq q = {.db = db, .ok = 1, .sql = translated(db, sql)};
    if (!q.sql) {
        q.ok = 0;
        return q;
    }
    if (db->kind == CELLA_DB_POSTGRES) {
        /* its own copy: a later prep may push this text out of the cache */
        q.sql = q.own = strdup(q.sql);
        q.ok = q.sql != NULL;
        return q;
    }
    stmt s = cached_prep(&db->stmts, db->lite, q.sql);
    q.st = s.st;
    q.ok = s.ok;
    return q;
}

static stmt lite_stmt(dbq *q) { return (stmt){(sqlite3_stmt *)q->st, q->ok}; }

void db_bt(dbq *q, int i, const char *v)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        dbpg_param(q, i, v, strlen(v), 0, OID_TEXT);
        return;
    }
    stmt s = lite_stmt(q);
    bt(&s, i, v);
    q->ok = s.ok;
}

void db_btn(dbq *q, int i, const char *v, size_t n)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        dbpg_param(q, i, v, n, 0, OID_TEXT);
        return;
    }
    if (q->ok && (n > INT32_MAX || sqlite3_bind_text((sqlite3_stmt *)q->st, i, v, (int)n,
                                                     SQLITE_TRANSIENT) != SQLITE_OK))
        q->ok = 0;
}

void db_bb(dbq *q, int i, const void *v, size_t n)
{
    static const char empty[1] = "";
    if (q->db->kind == CELLA_DB_POSTGRES) {
        dbpg_param(q, i, v ? v : empty, n, 1, OID_BYTEA);
        return;
    }
    stmt s = lite_stmt(q);
    bb(&s, i, v ? v : empty, n);
    q->ok = s.ok;
}

void db_bnull(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        dbpg_param(q, i, NULL, 0, 0, 0);
        return;
    }
    if (q->ok && sqlite3_bind_null((sqlite3_stmt *)q->st, i) != SQLITE_OK)
        q->ok = 0;
}

void db_bbn(dbq *q, int i, const void *v, size_t n)
{
    if (v)
        db_bb(q, i, v, n);
    else if (q->db->kind == CELLA_DB_POSTGRES)
        dbpg_param(q, i, NULL, 0, 1, OID_BYTEA); /* a NULL of the blob's type */
    else
        db_bnull(q, i);
}

void db_bi(dbq *q, int i, int64_t v)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        char t[24];
        int n = snprintf(t, sizeof t, "%lld", (long long)v);
        dbpg_param(q, i, t, (size_t)n, 0, OID_INT8);
        return;
    }
    stmt s = lite_stmt(q);
    bi(&s, i, v);
    q->ok = s.ok;
}

int db_step(dbq *q)
{
    if (q->db->kind == CELLA_DB_POSTGRES)
        return dbpg_step(q);
    q->db->err[0] = 0;
    q->db->retryable = false;
    stmt s = lite_stmt(q);
    int rc = step(&s);
    switch (rc) {
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_DONE:
        return DB_DONE;
    case SQLITE_CONSTRAINT:
        return DB_CONSTRAINT;
    default:
        if (!q->ok && q->st) /* else the failed prepare's message stands */
            snprintf(q->db->err, sizeof q->db->err, "a parameter could not be bound");
        return DB_ERROR;
    }
}

int db_write_step(dbq *q)
{
    if (q->db->kind == CELLA_DB_POSTGRES || q->db->writer.in_txn)
        return db_step(q);
    pthread_mutex_lock(q->db->writer.turn);
    int rc = db_step(q);
    pthread_mutex_unlock(q->db->writer.turn);
    return rc;
}

bool db_col_null(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_SQLITE)
        return sqlite3_column_type((sqlite3_stmt *)q->st, i) == SQLITE_NULL;
    const char *v;
    int n;
    Oid oid;
    return !dbpg_cell(q, i, &v, &n, &oid);
}

int64_t db_col_int(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_SQLITE)
        return sqlite3_column_int64((sqlite3_stmt *)q->st, i);
    const char *v;
    int n;
    Oid oid;
    if (!dbpg_cell(q, i, &v, &n, &oid))
        return 0;
    const uint8_t *b = (const uint8_t *)v;
    uint64_t x = 0;
    if ((oid == OID_INT8 && n == 8) || (oid == OID_INT4 && n == 4) ||
        (oid == OID_INT2 && n == 2) || (oid == OID_BOOL && n == 1)) {
        for (int k = 0; k < n; k++)
            x = x << 8 | b[k];
        if (n < 8 && (b[0] & 0x80) && oid != OID_BOOL) /* sign-extend */
            x |= ~(uint64_t)0 << (8 * n);
        return (int64_t)x;
    }
    if (oid == OID_TEXT)
        return strtoll(v, NULL, 10);
    return 0;
}

const char *db_col_text(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_SQLITE)
        return (const char *)sqlite3_column_text((sqlite3_stmt *)q->st, i);
    const char *v;
    int n;
    Oid oid;
    /* libpq ends every value, binary ones too, with a zero byte */
    return dbpg_cell(q, i, &v, &n, &oid) ? v : NULL;
}

size_t db_col_len(dbq *q, int i)
{
    size_t n;
    (void)db_col_blob(q, i, &n);
    return n;
}

const void *db_col_blob(dbq *q, int i, size_t *n)
{
    if (q->db->kind == CELLA_DB_SQLITE) {
        const void *p = sqlite3_column_blob((sqlite3_stmt *)q->st, i);
        *n = (size_t)sqlite3_column_bytes((sqlite3_stmt *)q->st, i);
        return p;
    }
    const char *v;
    int len;
    Oid oid;
    if (!dbpg_cell(q, i, &v, &len, &oid)) {
        *n = 0;
        return NULL;
    }
    *n = (size_t)len;
    return v;
}

void db_col_bytes(dbq *q, int i, uint8_t *out, size_t n)
{
    size_t have;
    const void *p = db_col_blob(q, i, &have);
    if (p && have == n)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

void db_done(dbq *q)
{
    if (q->db->kind == CELLA_DB_SQLITE) {
        stmt s = lite_stmt(q);
        cached_done(&q->db->stmts, &s);
        q->st = NULL;
        return;
    }
    PG->PQclear(q->res);
    q->res = NULL;
    free(q->own);
    q->own = NULL;
    for (int i = 0; i < q->nparams; i++) {
        free((void *)q->p[i].val);
        q->p[i].val = NULL;
        q->p[i].bound = false;
    }
    q->nparams = 0;
}

void db_reset(dbq *q)
{
    if (q->db->kind == CELLA_DB_SQLITE) {
        sqlite3_reset((sqlite3_stmt *)q->st);
        return;
    }
    PG->PQclear(q->res);
    q->res = NULL;
    q->row = q->rows = 0;
}

cella_res db_exec(cella_db *db, const char *sql)
{
    if (db->kind == CELLA_DB_POSTGRES) {
        CELLA_ENSURE(dbpg_simple(db, sql) == DB_DONE,
                     db->retryable ? CELLA_E_UNAVAILABLE : CELLA_E_IO, db->where,
                     "database error: %s", db->err);
        return CELLA_OK_RES;
    }
    return sql_exec(db->lite, db->where, sql);
}

/* ---- transactions ---- */

cella_res db_begin(cella_db *db)
{
    db->retryable = false;
    db->err[0] = 0;
    if (db->kind == CELLA_DB_SQLITE)
        return sql_begin(&db->writer, &db->stmts, db->lite, db->where);
    CELLA_ENSURE(!db->pg_txn, CELLA_E_INTERNAL, db->where, "a transaction is already open");
    if (PG->PQstatus(db->pg) != CONNECTION_OK) /* lost since the last call: try once more */
        CELLA_TRY(dbpg_connect(db));
    CELLA_ENSURE(dbpg_simple(db, "BEGIN") == DB_DONE, CELLA_E_UNAVAILABLE, db->where,
                 "the database is unavailable: %s", db->err);
    db->pg_txn = true;
    return CELLA_OK_RES;
}

cella_res db_commit(cella_db *db)
{
    if (db->kind == CELLA_DB_SQLITE)
        return sql_commit(&db->writer, &db->stmts, db->lite, db->where);
    CELLA_ENSURE(db->pg_txn, CELLA_E_INTERNAL, db->where, "no transaction to commit");
    db->pg_txn = false;
    int rc = dbpg_simple(db, "COMMIT");
    if (rc == DB_DONE)
        return CELLA_OK_RES;
    bool lost = PG->PQstatus(db->pg) != CONNECTION_OK;
    (void)dbpg_simple(db, "ROLLBACK");
    /* A connection lost during COMMIT leaves its outcome unknown: the
     * transaction is not run again (it may have committed). */
    if (lost)
        db->retryable = false;
    return cella_fail(lost ? CELLA_E_UNAVAILABLE : CELLA_E_IO, db->where, "COMMIT: %s", db->err);
}

void db_rollback(cella_db *db)
{
    if (db->kind == CELLA_DB_SQLITE) {
        (void)sql_txn_end(&db->writer, &db->stmts, db->lite, false, NULL, 0);
        return;
    }
    if (!db->pg_txn)
        return;
    db->pg_txn = false;
    bool retry = db->retryable;
    char err[sizeof db->err];
    memcpy(err, db->err, sizeof err);
    if (PG->PQstatus(db->pg) == CONNECTION_OK)
        (void)dbpg_simple(db, "ROLLBACK");
    /* keep the failure that made us roll back */
    db->retryable = retry;
    memcpy(db->err, err, sizeof err);
}

bool db_retry(cella_db *db, int attempt)
{
    if (!db->retryable || attempt + 1 >= RETRY_MAX)
        return false;
    if (db->kind == CELLA_DB_POSTGRES && PG->PQstatus(db->pg) != CONNECTION_OK) {
        dbpg_reset(db);
        if (PG->PQstatus(db->pg) != CONNECTION_OK)
            return false; /* down: the caller answers 503 */
    }
    /* 1, 2, 4 ... 64 ms, with jitter, so two replicas that collided do not
     * collide again in step */
    unsigned ms = 1u << (attempt < 6 ? attempt : 6);
    struct timespec ts = {0, (long)(ms * 1000000L / 2 + (long)(rand() % (int)(ms * 500 + 1)) * 1000L)};
    nanosleep(&ts, NULL);
    db->retryable = false;
    cella_metrics_db_retry();
    return true;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* How long a reading of the server's clock is used, moved on by this host's
 * monotonic clock: every request asks the time (leases, deadlines, nonces),
 * and a round trip each was a good part of a claim's. Two clocks drift apart
 * by microseconds in a second; the reading is off by half a round trip. */
#define CLOCK_REREAD_NS 1000000000LL

cella_res db_now(cella_db *db, int64_t *now)
{
    if (db->kind == CELLA_DB_SQLITE) {
        *now = (int64_t)time(NULL);
        return CELLA_OK_RES;
    }
    int64_t mono = mono_ns();
    if (db->clock_mono_ns && mono - db->clock_mono_ns < CLOCK_REREAD_NS) {
        *now = (db->clock_us + (mono - db->clock_mono_ns) / 1000) / 1000000;
        return CELLA_OK_RES;
    }
    dbq q = db_prep(db, "SELECT CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS BIGINT)");
    int rc = db_step(&q);
    if (rc == DB_ROW) {
        db->clock_us = db_col_int(&q, 0);
        db->clock_mono_ns = mono_ns();
        *now = db->clock_us / 1000000;
    }
    db_done(&q);
    CELLA_ENSURE(rc == DB_ROW, db->retryable ? CELLA_E_UNAVAILABLE : CELLA_E_IO, db->where,
                 "cannot read the database clock: %s", db->err);
    return CELLA_OK_RES;
}

cella_res db_notify(cella_db *db, const char *channel, const char *payload)
{
    if (db->kind == CELLA_DB_SQLITE)
        return CELLA_OK_RES;
    dbq q = db_prep(db, "SELECT pg_notify(?, ?)");
    db_bt(&q, 1, channel);
    db_bt(&q, 2, payload);
    int rc = db_step(&q);
    db_done(&q);
    CELLA_ENSURE(rc == DB_ROW || rc == DB_DONE, CELLA_E_IO, db->where, "NOTIFY: %s", db->err);
    return CELLA_OK_RES;
}
