/* SQLite plumbing shared by the stores (store/cas_store.c, hub/store.c): a
 * prepared statement that latches the first binding error, so a call site
 * binds everything and checks once, at step. */
#ifndef CELLA_STORE_SQL_H
#define CELLA_STORE_SQL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
