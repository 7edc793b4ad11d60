/* SQLite plumbing shared by the stores (store/cas_store.c, hub/store.c): a
 * prepared statement that latches the first binding error, so a call site
 * binds everything and checks once, at step. */
#ifndef CELLA_STORE_SQL_H
#define CELLA_STORE_SQL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

typedef struct {
    sqlite3_stmt *st;
    int ok;
} stmt;

static inline stmt prep(sqlite3 *db, const char *sql)
{
    stmt q = {NULL, 1};
    if (sqlite3_prepare_v2(db, sql, -1, &q.st, NULL) != SQLITE_OK)
        q.ok = 0;
    return q;
}
static inline void bt(stmt *q, int i, const char *v)
{
    if (q->ok && sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        q->ok = 0;
}
static inline void bb(stmt *q, int i, const void *v, size_t n)
{
    if (q->ok && sqlite3_bind_blob(q->st, i, v, (int)n, SQLITE_TRANSIENT) != SQLITE_OK)
        q->ok = 0;
}
/* A blob, or SQL NULL when v is NULL. */
static inline void bbn(stmt *q, int i, const void *v, size_t n)
{
    if (!v) {
        if (q->ok && sqlite3_bind_null(q->st, i) != SQLITE_OK)
            q->ok = 0;
        return;
    }
    bb(q, i, v, n);
}
static inline void bi(stmt *q, int i, int64_t v)
{
    if (q->ok && sqlite3_bind_int64(q->st, i, v) != SQLITE_OK)
        q->ok = 0;
}
/* Steps once: SQLITE_ROW, SQLITE_DONE, or an error (a failed bind is one). */
static inline int step(stmt *q) { return q->ok ? sqlite3_step(q->st) : SQLITE_ERROR; }
static inline void done(stmt *q) { sqlite3_finalize(q->st); }
/* Copies a blob column of exactly n bytes, or zeros if it has another size. */
static inline void col_blob(stmt *q, int i, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(q->st, i);
    if (p && (size_t)sqlite3_column_bytes(q->st, i) == n)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

/* Prepared statements kept for a handle's life (stores keep one handle per
 * thread): preparing is a large part of a short transaction's CPU time. */
#define STMT_CACHE_MAX 96

typedef struct {
    struct {
        sqlite3_stmt *st;
        bool busy; /* handed out and not yet given back */
    } e[STMT_CACHE_MAX];
    size_t n;
} stmt_cache;

/* prep() from the cache: the statement with this text that is not in use,
 * else a new one (kept while the cache has room). Give it back with
 * cached_done(), which resets it (as finalizing would: no lock or binding kept). */
static inline stmt cached_prep(stmt_cache *c, sqlite3 *db, const char *sql)
{
    for (size_t i = 0; i < c->n; i++)
        if (!c->e[i].busy && !strcmp(sqlite3_sql(c->e[i].st), sql)) {
            c->e[i].busy = true;
            return (stmt){c->e[i].st, 1};
        }
    stmt q = prep(db, sql);
    if (q.ok && c->n < STMT_CACHE_MAX) {
        c->e[c->n].st = q.st;
        c->e[c->n++].busy = true;
    }
    return q;
}

static inline void cached_done(stmt_cache *c, stmt *q)
{
    for (size_t i = 0; q->st && i < c->n; i++)
        if (c->e[i].st == q->st) {
            sqlite3_reset(q->st);
            sqlite3_clear_bindings(q->st);
            c->e[i].busy = false;
            return;
        }
    done(q);
}

/* Finalizes every cached statement (before closing the handle). */
static inline void stmt_cache_clear(stmt_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        sqlite3_finalize(c->e[i].st);
    c->n = 0;
}

/* Writers taking turns. SQLite lets one writer in at a time; another waits in
 * its busy handler, which sleeps a millisecond or more between looks while a
 * commit here takes a fraction of one (an fsync). The stores of one process
 * (one handle per server thread) take turns on a process-wide mutex instead,
 * and a waiting writer starts the moment the last one is done. The busy
 * handler still covers other processes. */
typedef struct {
    pthread_mutex_t *turn; /* the process's, shared by every handle of a store */
    bool in_txn;           /* between sql_txn_begin and sql_txn_end: holding *turn */
} sql_writer;

/* A statement without parameters or rows, from the cache: SQLITE_DONE or an error. */
static inline int sql_run_cached(stmt_cache *c, sqlite3 *db, const char *sql)
{
    stmt q = cached_prep(c, db, sql);
    int rc = step(&q);
    cached_done(c, &q);
    return rc;
}

/* BEGIN IMMEDIATE on our turn: SQLITE_DONE, or an error and no transaction.
 * Transactions do not nest (SQLITE_MISUSE): a second begin would wait on our
 * own turn forever. */
static inline int sql_txn_begin(sql_writer *w, stmt_cache *c, sqlite3 *db)
{
    if (w->in_txn)
        return SQLITE_MISUSE;
    pthread_mutex_lock(w->turn);
    int rc = sql_run_cached(c, db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_DONE)
        w->in_txn = true;
    else
        pthread_mutex_unlock(w->turn);
    return rc;
}

/* COMMIT (commit true) or ROLLBACK, then gives the turn back. A failed COMMIT
 * is rolled back here, so the transaction always ends; its error code is
 * returned and its message copied to `err` (before the ROLLBACK replaces it).
 * A no-op outside a transaction. */
static inline int sql_txn_end(sql_writer *w, stmt_cache *c, sqlite3 *db, bool commit,
                              char *err, size_t errcap)
{
    if (!w->in_txn)
        return SQLITE_DONE;
    int rc = sql_run_cached(c, db, commit ? "COMMIT" : "ROLLBACK");
    if (rc != SQLITE_DONE && err)
        snprintf(err, errcap, "%s", sqlite3_errmsg(db));
    if (rc != SQLITE_DONE && commit)
        (void)sql_run_cached(c, db, "ROLLBACK");
    /* Never give the turn back with a transaction still open on this handle
     * (a cached ROLLBACK that could not even be prepared): try once more. */
    if (!sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    w->in_txn = false;
    pthread_mutex_unlock(w->turn);
    return rc;
}

/* The three above as the stores use them: errors name the database `path`. */
static inline cella_res sql_begin(sql_writer *w, stmt_cache *c, sqlite3 *db, const char *path)
{
    int rc = sql_txn_begin(w, c, db);
    CELLA_ENSURE(rc != SQLITE_MISUSE, CELLA_E_INTERNAL, path, "a transaction is already open");
    CELLA_ENSURE(rc == SQLITE_DONE, CELLA_E_IO, path, "BEGIN: %s", sqlite3_errmsg(db));
    return CELLA_OK_RES;
}

/* Ends the transaction either way (a failed COMMIT is rolled back). */
static inline cella_res sql_commit(sql_writer *w, stmt_cache *c, sqlite3 *db, const char *path)
{
    char err[256] = "";
    CELLA_ENSURE(sql_txn_end(w, c, db, true, err, sizeof err) == SQLITE_DONE, CELLA_E_IO, path,
                 "COMMIT: %s", err);
    return CELLA_OK_RES;
}

/* Steps a writing statement: inside a transaction as is, else (autocommit)
 * on our turn. */
static inline int sql_write_step(sql_writer *w, stmt *q)
{
    if (w->in_txn)
        return step(q);
    pthread_mutex_lock(w->turn);
    int rc = step(q);
    pthread_mutex_unlock(w->turn);
    return rc;
}

/* Runs SQL without results; errors name `path`. */
static inline cella_res sql_exec(sqlite3 *db, const char *path, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        cella_res r = cella_fail(CELLA_E_IO, path, "database error: %s", err ? err : "?");
        sqlite3_free(err);
        return r;
    }
    return CELLA_OK_RES;
}

#endif
