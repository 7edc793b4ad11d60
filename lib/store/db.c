/* store/db.h over SQLite and libpq. */
#include "store/db.h"
#include "store/sql.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/secure.h"

#define RETRY_MAX 12

/* PostgreSQL type OIDs (catalog/pg_type_d.h, stable across versions). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25,
};

/* A statement's text, as the caller and as the engine spell it. */
typedef struct {
    char *sql; /* the caller's text (a copy) */
    char *pg;  /* as the engine takes it */
    unsigned runs;
    char name[16]; /* PostgreSQL: "" until prepared */
    int nparams;   /* and the parameter types it was prepared with */
    Oid oids[DB_PARAMS_MAX];
} stmt_text;

struct cella_db {
    cella_db_kind kind;
    char where[512];
    char err[512];
    bool retryable;
    /* SQLite */
    sqlite3 *lite;
    stmt_cache stmts;
    sql_writer writer;
    /* PostgreSQL */
    PGconn *pg;
    char *url;
    bool pg_txn;
    /* the server's clock at the last reading (microseconds since the
     * epoch), and this host's monotonic clock then (ns; 0: never read) */
    int64_t clock_us, clock_mono_ns;
    /* statement texts translated to $n, kept for the connection's life,
     * and prepared on it once run twice (see pg_statement) */
    stmt_text xlat[STMT_CACHE_MAX];
    size_t nxlat;
    unsigned prepared; /* statements prepared on this connection, to name the next */
};

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
    bool down = db->kind == CELLA_DB_POSTGRES && (db->retryable || PQstatus(db->pg) != CONNECTION_OK);
    return cella_fail(down ? CELLA_E_UNAVAILABLE : CELLA_E_IO, db->where, "%s: %s", what,
                      db_errmsg(db));
}
bool db_in_txn(const cella_db *db) { return db->kind == CELLA_DB_SQLITE ? db->writer.in_txn : db->pg_txn; }

static bool is_pg_url(const char *url)
{
    return !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13);
}

cella_res cella_db_url_check(const char *url)
{
    CELLA_ENSURE(url && *url, CELLA_E_USAGE, "--db", "an empty database URL");
    if (is_pg_url(url)) {
        char *err = NULL;
        PQconninfoOption *o = PQconninfoParse(url, &err);
        if (!o) {
            cella_res r = cella_fail(CELLA_E_USAGE, "--db", "not a PostgreSQL URL: %s",
                                     err ? err : "out of memory");
            PQfreemem(err);
            return r;
        }
        PQconninfoFree(o);
        return CELLA_OK_RES;
    }
    const char *path = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
    CELLA_ENSURE(*path, CELLA_E_USAGE, "--db", "sqlite: needs a path (sqlite:PATH)");
    CELLA_ENSURE(!strstr(url, "://"), CELLA_E_USAGE, "--db",
                 "unknown database scheme (use sqlite:PATH or postgres://...)");
    return CELLA_OK_RES;
}

/* "postgres://HOST:PORT/DB" from the parsed URL, without user or password. */
static void pg_where(cella_db *db)
{
    const char *host = PQhost(db->pg), *port = PQport(db->pg), *name = PQdb(db->pg);
    snprintf(db->where, sizeof db->where, "postgres://%s:%s/%s", host && *host ? host : "local",
             port ? port : "", name ? name : "");
}

/* ---- PostgreSQL errors ---- */

/* libpq's message as one line in db->err: its messages end in a newline and
 * may hold several lines ("...: Connection refused\n\tIs the server running
 * ...?"), while cella's errors, and the servers' JSON errors made of them,
 * are one line. Each run of blanks becomes one space. */
static void pg_err_line(cella_db *db, const char *msg)
{
    size_t o = 0;
    bool blank = false;
    for (const char *p = msg; *p && o + 1 < sizeof db->err; p++) {
        bool b = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
        if (!b && blank && o)
            db->err[o++] = ' ';
        if (!b && o + 1 < sizeof db->err)
            db->err[o++] = *p;
        blank = b;
    }
    db->err[o] = 0;
}

static void pg_set_err(cella_db *db, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db->pg);
    if (!msg || !*msg)
        msg = PQerrorMessage(db->pg);
    pg_err_line(db, msg && *msg ? msg : "unknown database error");
    bool lost = PQstatus(db->pg) != CONNECTION_OK;
    /* 40001 serialization failure, 40P01 deadlock, 57P01 admin shutdown,
     * 08xxx connection exceptions: another transaction's doing, or the
     * server going away; the whole transaction may be run again. */
    db->retryable = lost || (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
                                       !strcmp(state, "57P01") || !strncmp(state, "08", 2)));
}

static int pg_result_code(cella_db *db, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return DB_DONE;
    pg_set_err(db, res);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    /* Two replicas inserting the same key (a deploy, a publish) after both
     * saw it absent: the transaction is aborted, and run again it finds the
     * row the other committed. Outside a transaction the caller decides. */
    if (state && !strcmp(state, "23505") && db->pg_txn)
        db->retryable = true;
    if (state && (!strcmp(state, "23505") || !strcmp(state, "23514")))
        return DB_CONSTRAINT;
    return DB_ERROR;
}

/* Runs SQL without parameters; DB_DONE or an error. */
static int pg_simple(cella_db *db, const char *sql)
{
    PGresult *res = PQexec(db->pg, sql);
    int rc = res ? pg_result_code(db, res) : (pg_set_err(db, NULL), DB_ERROR);
    PQclear(res);
    return rc;
}

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

/* A new connection has none of the old one's prepared statements. */
static void pg_forget_prepared(cella_db *db)
{
    for (size_t i = 0; i < db->nxlat; i++)
        db->xlat[i].name[0] = 0;
}

static void pg_reset(cella_db *db)
{
    PQreset(db->pg);
    pg_forget_prepared(db);
}

static cella_res pg_connect(cella_db *db)
{
    if (db->pg)
        PQfinish(db->pg);
    pg_forget_prepared(db);
    db->pg = PQconnectdb(db->url);
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
        pg_err_line(db, db->pg ? PQerrorMessage(db->pg) : "out of memory");
        db->retryable = true;
        return cella_fail(CELLA_E_UNAVAILABLE, db->where, "cannot connect to the database: %s",
                          db->err);
    }
    pg_where(db);
    /* Statements never wait on a lock for ever (a stuck replica), and a
     * transaction left open by a dead client ends. */
    if (pg_simple(db, "SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = '60s';"
                      " SET client_min_messages = warning") != DB_DONE)
        return cella_fail(CELLA_E_UNAVAILABLE, db->where, "database: %s", db->err);
    return CELLA_OK_RES;
}

static cella_res pg_open(cella_db *db, const char *url)
{
    snprintf(db->where, sizeof db->where, "postgres");
    db->url = strdup(url);
    CELLA_ENSURE(db->url, CELLA_E_NOMEM, "database", "out of memory");
    CELLA_TRY(cella_db_url_check(url));
    return pg_connect(db);
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
        if (pg_simple(db, sql) != DB_DONE)
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
    if (is_pg_url(url)) {
        db->kind = CELLA_DB_POSTGRES;
        r = pg_open(db, url);
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
        PQfinish(db->pg);
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

/* PostgreSQL's spelling of SQLite's json_extract(X, '$.a.b'): the text at
 * that path of X's JSON, ((X)::jsonb #>> '{a,b}'). Rewrites `out` in place
 * (it has room: the new form is at most as long plus a few bytes per call,
 * and translate() allocates four times the input). */
static void pg_json_extract(char *out, size_t cap)
{
    static const char FN[] = "json_extract(";
    char *p;
    while ((p = strstr(out, FN))) {
        char *arg = p + sizeof FN - 1, *comma = strstr(arg, ", '$."), *end;
        if (!comma || !(end = strstr(comma, "')")))
            return;
        char path[128];
        size_t n = (size_t)(end - (comma + 5));
        if (n >= sizeof path)
            return;
        memcpy(path, comma + 5, n);
        path[n] = 0;
        for (char *c = path; *c; c++)
            if (*c == '.')
                *c = ',';
        char repl[512];
        int m = snprintf(repl, sizeof repl, "((%.*s)::jsonb #>> '{%s}')", (int)(comma - arg), arg,
                         path);
        size_t tail = strlen(end + 2);
        if (m < 0 || (size_t)m >= sizeof repl || (size_t)(p - out) + (size_t)m + tail + 1 > cap)
            return;
        memmove(p + m, end + 2, tail + 1);
        memcpy(p, repl, (size_t)m);
    }
}

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
    pg_json_extract(out, n * 4 + 1);
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
        if (db->xlat[0].name[0] && PQtransactionStatus(db->pg) != PQTRANS_INERROR) {
            char dealloc[32]; /* its result does not matter: a name is never used twice */
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", db->xlat[0].name);
            PQclear(PQexec(db->pg, dealloc));
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

/* Keeps a copy of a PostgreSQL parameter. */
static void pg_param(dbq *q, int i, const void *v, size_t n, int fmt, unsigned oid)
{
    if (!q->ok)
        return;
    if (i < 1 || i > DB_PARAMS_MAX || n > INT32_MAX) {
        q->ok = 0;
        return;
    }
    char *c = NULL;
    if (v) {
        c = malloc(n + 1);
        if (!c) {
            q->ok = 0;
            return;
        }
        memcpy(c, v, n);
        c[n] = 0;
    }
    free((void *)q->p[i - 1].val);
    q->p[i - 1].val = c;
    q->p[i - 1].len = (int)n;
    q->p[i - 1].fmt = fmt;
    q->p[i - 1].oid = oid;
    q->p[i - 1].bound = true;
    if (i > q->nparams)
        q->nparams = i;
}

void db_bt(dbq *q, int i, const char *v)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        pg_param(q, i, v, strlen(v), 0, OID_TEXT);
        return;
    }
    stmt s = lite_stmt(q);
    bt(&s, i, v);
    q->ok = s.ok;
}

void db_btn(dbq *q, int i, const char *v, size_t n)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        pg_param(q, i, v, n, 0, OID_TEXT);
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
        pg_param(q, i, v ? v : empty, n, 1, OID_BYTEA);
        return;
    }
    stmt s = lite_stmt(q);
    bb(&s, i, v ? v : empty, n);
    q->ok = s.ok;
}

void db_bnull(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        pg_param(q, i, NULL, 0, 0, 0);
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
        pg_param(q, i, NULL, 0, 1, OID_BYTEA); /* a NULL of the blob's type */
    else
        db_bnull(q, i);
}

void db_bi(dbq *q, int i, int64_t v)
{
    if (q->db->kind == CELLA_DB_POSTGRES) {
        char t[24];
        int n = snprintf(t, sizeof t, "%lld", (long long)v);
        pg_param(q, i, t, (size_t)n, 0, OID_INT8);
        return;
    }
    stmt s = lite_stmt(q);
    bi(&s, i, v);
    q->ok = s.ok;
}

/* Whether the statement names $n. */
static bool pg_uses_param(const char *sql, int n)
{
    char t[16];
    int len = snprintf(t, sizeof t, "$%d", n);
    for (const char *p = sql; (p = strstr(p, t)); p += len)
        if (p[len] < '0' || p[len] > '9')
            return true;
    return false;
}

/* The name of the statement prepared on this connection for `sql` with these
 * parameter types, or NULL to run it unprepared. A statement is prepared
 * the second time it runs (one run alone, as a listing with a rare filter,
 * would pay a round trip more): then the server parses and plans it once,
 * not at every run, which was a good part of a short statement's time. */
static const char *pg_statement(cella_db *db, const char *sql, int n, const Oid *oids)
{
    size_t i = 0;
    while (i < db->nxlat && strcmp(db->xlat[i].pg, sql))
        i++;
    if (i == db->nxlat) /* pushed out of the cache since db_prep */
        return NULL;
    stmt_text *x = &db->xlat[i];
    if (x->name[0])
        return x->nparams == n && !memcmp(x->oids, oids, sizeof *oids * (size_t)n) ? x->name
                                                                                  : NULL;
    if (++x->runs < 2 || PQtransactionStatus(db->pg) == PQTRANS_INERROR)
        return NULL;
    char name[sizeof x->name];
    snprintf(name, sizeof name, "cella%u", db->prepared++);
    PGresult *res = PQprepare(db->pg, name, sql, n, oids);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) { /* run unprepared, which reports the error if it is the statement's */
        x->runs = 0;
        return NULL;
    }
    memcpy(x->name, name, sizeof name);
    x->nparams = n;
    memcpy(x->oids, oids, sizeof *oids * (size_t)n);
    return x->name;
}

static int pg_step(dbq *q)
{
    cella_db *db = q->db;
    if (!q->res) {
        if (!q->ok) {
            snprintf(db->err, sizeof db->err, "a parameter could not be bound");
            db->retryable = false;
            return DB_ERROR;
        }
        /* outside a transaction a lost connection is tried again once: a
         * restarted database is picked up without restarting us */
        if (PQstatus(db->pg) != CONNECTION_OK && !db->pg_txn)
            pg_reset(db);
        const char *vals[DB_PARAMS_MAX];
        int lens[DB_PARAMS_MAX], fmts[DB_PARAMS_MAX];
        Oid oids[DB_PARAMS_MAX];
        for (int i = 0; i < q->nparams; i++) {
            vals[i] = q->p[i].val;
            lens[i] = q->p[i].len;
            fmts[i] = q->p[i].fmt;
            /* an unbound parameter is NULL, typed by where it is used; a
             * number the statement skips (?4 without ?2) needs a type */
            oids[i] = q->p[i].bound || pg_uses_param(q->sql, i + 1) ? q->p[i].oid : OID_TEXT;
        }
        /* binary results: blobs as they are, integers as 8 bytes */
        const char *name = pg_statement(db, q->sql, q->nparams, oids);
        PGresult *res = name ? PQexecPrepared(db->pg, name, q->nparams, vals, lens, fmts, 1)
                             : PQexecParams(db->pg, q->sql, q->nparams, oids, vals, lens, fmts, 1);
        if (!res) {
            pg_set_err(db, NULL);
            return DB_ERROR;
        }
        int rc = pg_result_code(db, res);
        if (rc != DB_DONE) {
            PQclear(res);
            return rc;
        }
        q->res = res;
        q->rows = PQntuples(res);
        q->row = -1;
    }
    if (q->row + 1 < q->rows) {
        q->row++;
        return DB_ROW;
    }
    q->row = q->rows;
    return DB_DONE;
}

int db_step(dbq *q)
{
    if (q->db->kind == CELLA_DB_POSTGRES)
        return pg_step(q);
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

static bool pg_cell(dbq *q, int i, const char **v, int *n, Oid *oid)
{
    PGresult *res = q->res;
    if (!res || q->row < 0 || q->row >= q->rows || i < 0 || i >= PQnfields(res) ||
        PQgetisnull(res, q->row, i))
        return false;
    *v = PQgetvalue(res, q->row, i);
    *n = PQgetlength(res, q->row, i);
    *oid = PQftype(res, i);
    return true;
}

bool db_col_null(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_SQLITE)
        return sqlite3_column_type((sqlite3_stmt *)q->st, i) == SQLITE_NULL;
    const char *v;
    int n;
    Oid oid;
    return !pg_cell(q, i, &v, &n, &oid);
}

int64_t db_col_int(dbq *q, int i)
{
    if (q->db->kind == CELLA_DB_SQLITE)
        return sqlite3_column_int64((sqlite3_stmt *)q->st, i);
    const char *v;
    int n;
    Oid oid;
    if (!pg_cell(q, i, &v, &n, &oid))
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
    return pg_cell(q, i, &v, &n, &oid) ? v : NULL;
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
    if (!pg_cell(q, i, &v, &len, &oid)) {
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
    PQclear(q->res);
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
    PQclear(q->res);
    q->res = NULL;
    q->row = q->rows = 0;
}

cella_res db_exec(cella_db *db, const char *sql)
{
    if (db->kind == CELLA_DB_POSTGRES) {
        CELLA_ENSURE(pg_simple(db, sql) == DB_DONE,
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
    if (PQstatus(db->pg) != CONNECTION_OK) /* lost since the last call: try once more */
        CELLA_TRY(pg_connect(db));
    CELLA_ENSURE(pg_simple(db, "BEGIN") == DB_DONE, CELLA_E_UNAVAILABLE, db->where,
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
    int rc = pg_simple(db, "COMMIT");
    if (rc == DB_DONE)
        return CELLA_OK_RES;
    bool lost = PQstatus(db->pg) != CONNECTION_OK;
    (void)pg_simple(db, "ROLLBACK");
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
    if (PQstatus(db->pg) == CONNECTION_OK)
        (void)pg_simple(db, "ROLLBACK");
    /* keep the failure that made us roll back */
    db->retryable = retry;
    memcpy(db->err, err, sizeof err);
}

bool db_retry(cella_db *db, int attempt)
{
    if (!db->retryable || attempt + 1 >= RETRY_MAX)
        return false;
    if (db->kind == CELLA_DB_POSTGRES && PQstatus(db->pg) != CONNECTION_OK) {
        pg_reset(db);
        if (PQstatus(db->pg) != CONNECTION_OK)
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

cella_res db_listen(const char *url, const char *channel, cella_db **out)
{
    *out = NULL;
    CELLA_ENSURE(is_pg_url(url), CELLA_E_UNSUPPORTED, url, "LISTEN needs PostgreSQL");
    cella_db *db;
    CELLA_TRY(cella_db_open(url, NULL, NULL, NULL, &db));
    char *ident = PQescapeIdentifier(db->pg, channel, strlen(channel));
    char sql[128];
    snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "");
    PQfreemem(ident);
    if (pg_simple(db, sql) != DB_DONE) {
        cella_res r = cella_fail(CELLA_E_UNAVAILABLE, db->where, "LISTEN: %s", db->err);
        cella_db_close(db);
        return r;
    }
    *out = db;
    return CELLA_OK_RES;
}

int db_listen_fd(cella_db *db) { return db->pg ? PQsocket(db->pg) : -1; }

cella_res db_listen_drain(cella_db *db, unsigned *count)
{
    *count = 0;
    if (!PQconsumeInput(db->pg) || PQstatus(db->pg) != CONNECTION_OK) {
        pg_set_err(db, NULL);
        return cella_fail(CELLA_E_UNAVAILABLE, db->where, "LISTEN connection lost: %s", db->err);
    }
    PGnotify *n;
    while ((n = PQnotifies(db->pg))) {
        (*count)++;
        PQfreemem(n);
    }
    return CELLA_OK_RES;
}
