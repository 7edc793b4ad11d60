/* The PostgreSQL half of store/db.h (libpq): connecting, errors, parameters,
 * prepared statements, running statements and reading their cells, LISTEN. */
#include "store/db_int.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/secure.h"

/* "postgres://HOST:PORT/DB" from the parsed URL, without user or password. */
void dbpg_where(cella_db *db)
{
    const char *host = PG->PQhost(db->pg), *port = PG->PQport(db->pg), *name = PG->PQdb(db->pg);
    snprintf(db->where, sizeof db->where, "postgres://%s:%s/%s", host && *host ? host : "local",
             port ? port : "", name ? name : "");
}

/* libpq's message as one line in db->err: its messages end in a newline and
 * may hold several lines ("...: Connection refused\n\tIs the server running
 * ...?"), while cella's errors, and the servers' JSON errors made of them,
 * are one line. Each run of blanks becomes one space. */
void dbpg_err_line(cella_db *db, const char *msg)
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

void dbpg_set_err(cella_db *db, const PGresult *res)
{
    const char *state = res ? PG->PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PG->PQresultErrorMessage(res) : PG->PQerrorMessage(db->pg);
    if (!msg || !*msg)
        msg = PG->PQerrorMessage(db->pg);
    dbpg_err_line(db, msg && *msg ? msg : "unknown database error");
    bool lost = PG->PQstatus(db->pg) != CONNECTION_OK;
    /* 40001 serialization failure, 40P01 deadlock, 57P01 admin shutdown,
     * 08xxx connection exceptions: another transaction's doing, or the
     * server going away; the whole transaction may be run again. */
    db->retryable = lost || (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
                                       !strcmp(state, "57P01") || !strncmp(state, "08", 2)));
}

int dbpg_result_code(cella_db *db, PGresult *res)
{
    ExecStatusType st = PG->PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return DB_DONE;
    dbpg_set_err(db, res);
    const char *state = PG->PQresultErrorField(res, PG_DIAG_SQLSTATE);
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
int dbpg_simple(cella_db *db, const char *sql)
{
    PGresult *res = PG->PQexec(db->pg, sql);
    int rc = res ? dbpg_result_code(db, res) : (dbpg_set_err(db, NULL), DB_ERROR);
    PG->PQclear(res);
    return rc;
}

/* A new connection has none of the old one's prepared statements. */
void dbpg_forget_prepared(cella_db *db)
{
    for (size_t i = 0; i < db->nxlat; i++)
        db->xlat[i].name[0] = 0;
}

void dbpg_reset(cella_db *db)
{
    PG->PQreset(db->pg);
    dbpg_forget_prepared(db);
}

cella_res dbpg_connect(cella_db *db)
{
    if (db->pg)
        PG->PQfinish(db->pg);
    dbpg_forget_prepared(db);
    db->pg = PG->PQconnectdb(db->url);
    if (!db->pg || PG->PQstatus(db->pg) != CONNECTION_OK) {
        dbpg_err_line(db, db->pg ? PG->PQerrorMessage(db->pg) : "out of memory");
        db->retryable = true;
        return cella_fail(CELLA_E_UNAVAILABLE, db->where, "cannot connect to the database: %s",
                          db->err);
    }
    dbpg_where(db);
    /* Statements never wait on a lock for ever (a stuck replica), and a
     * transaction left open by a dead client ends. */
    if (dbpg_simple(db, "SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = '60s';"
                      " SET client_min_messages = warning") != DB_DONE)
        return cella_fail(CELLA_E_UNAVAILABLE, db->where, "database: %s", db->err);
    return CELLA_OK_RES;
}

cella_res dbpg_open(cella_db *db, const char *url)
{
    snprintf(db->where, sizeof db->where, "postgres");
    db->url = strdup(url);
    CELLA_ENSURE(db->url, CELLA_E_NOMEM, "database", "out of memory");
    CELLA_TRY(cella_db_url_check(url));
    return dbpg_connect(db);
}

/* PostgreSQL's spelling of SQLite's json_extract(X, '$.a.b'): the text at
 * that path of X's JSON, ((X)::jsonb #>> '{a,b}'). Rewrites `out` in place
 * (it has room: the new form is at most as long plus a few bytes per call,
 * and translate() allocates four times the input). */
void dbpg_json_extract(char *out, size_t cap)
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

/* Keeps a copy of a PostgreSQL parameter. */
void dbpg_param(dbq *q, int i, const void *v, size_t n, int fmt, unsigned oid)
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

/* Whether the statement names $n. */
bool dbpg_uses_param(const char *sql, int n)
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
const char *dbpg_statement(cella_db *db, const char *sql, int n, const Oid *oids)
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
    if (++x->runs < 2 || PG->PQtransactionStatus(db->pg) == PQTRANS_INERROR)
        return NULL;
    char name[sizeof x->name];
    snprintf(name, sizeof name, "cella%u", db->prepared++);
    PGresult *res = PG->PQprepare(db->pg, name, sql, n, oids);
    bool ok = PG->PQresultStatus(res) == PGRES_COMMAND_OK;
    PG->PQclear(res);
    if (!ok) { /* run unprepared, which reports the error if it is the statement's */
        x->runs = 0;
        return NULL;
    }
    memcpy(x->name, name, sizeof name);
    x->nparams = n;
    memcpy(x->oids, oids, sizeof *oids * (size_t)n);
    return x->name;
}

int dbpg_step(dbq *q)
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
        if (PG->PQstatus(db->pg) != CONNECTION_OK && !db->pg_txn)
            dbpg_reset(db);
        const char *vals[DB_PARAMS_MAX];
        int lens[DB_PARAMS_MAX], fmts[DB_PARAMS_MAX];
        Oid oids[DB_PARAMS_MAX];
        for (int i = 0; i < q->nparams; i++) {
            vals[i] = q->p[i].val;
            lens[i] = q->p[i].len;
            fmts[i] = q->p[i].fmt;
            /* an unbound parameter is NULL, typed by where it is used; a
             * number the statement skips (?4 without ?2) needs a type */
            oids[i] = q->p[i].bound || dbpg_uses_param(q->sql, i + 1) ? q->p[i].oid : OID_TEXT;
        }
        /* binary results: blobs as they are, integers as 8 bytes */
        const char *name = dbpg_statement(db, q->sql, q->nparams, oids);
        PGresult *res = name ? PG->PQexecPrepared(db->pg, name, q->nparams, vals, lens, fmts, 1)
                             : PG->PQexecParams(db->pg, q->sql, q->nparams, oids, vals, lens, fmts, 1);
        if (!res) {
            dbpg_set_err(db, NULL);
            return DB_ERROR;
        }
        int rc = dbpg_result_code(db, res);
        if (rc != DB_DONE) {
            PG->PQclear(res);
            return rc;
        }
        q->res = res;
        q->rows = PG->PQntuples(res);
        q->row = -1;
    }
    if (q->row + 1 < q->rows) {
        q->row++;
        return DB_ROW;
    }
    q->row = q->rows;
    return DB_DONE;
}

bool dbpg_cell(dbq *q, int i, const char **v, int *n, Oid *oid)
{
    PGresult *res = q->res;
    if (!res || q->row < 0 || q->row >= q->rows || i < 0 || i >= PG->PQnfields(res) ||
        PG->PQgetisnull(res, q->row, i))
        return false;
    *v = PG->PQgetvalue(res, q->row, i);
    *n = PG->PQgetlength(res, q->row, i);
    *oid = PG->PQftype(res, i);
    return true;
}

cella_res db_listen(const char *url, const char *channel, cella_db **out)
{
    *out = NULL;
    CELLA_ENSURE(db_is_pg_url(url), CELLA_E_UNSUPPORTED, url, "LISTEN needs PostgreSQL");
    cella_db *db;
    CELLA_TRY(cella_db_open(url, NULL, NULL, NULL, &db));
    char *ident = PG->PQescapeIdentifier(db->pg, channel, strlen(channel));
    char sql[128];
    snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "");
    PG->PQfreemem(ident);
    if (dbpg_simple(db, sql) != DB_DONE) {
        cella_res r = cella_fail(CELLA_E_UNAVAILABLE, db->where, "LISTEN: %s", db->err);
        cella_db_close(db);
        return r;
    }
    *out = db;
    return CELLA_OK_RES;
}

int db_listen_fd(cella_db *db) { return db->pg ? PG->PQsocket(db->pg) : -1; }

cella_res db_listen_drain(cella_db *db, unsigned *count)
{
    *count = 0;
    if (!PG->PQconsumeInput(db->pg) || PG->PQstatus(db->pg) != CONNECTION_OK) {
        dbpg_set_err(db, NULL);
        return cella_fail(CELLA_E_UNAVAILABLE, db->where, "LISTEN connection lost: %s", db->err);
    }
    PGnotify *n;
    while ((n = PG->PQnotifies(db->pg))) {
        (*count)++;
        PG->PQfreemem(n);
    }
    return CELLA_OK_RES;
}
