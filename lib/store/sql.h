/* SQLite plumbing shared by the stores (store/cas_store.c, hub/store.c): a
 * prepared statement that latches the first binding error, so a call site
 * binds everything and checks once, at step. */
#ifndef CELLA_STORE_SQL_H
#define CELLA_STORE_SQL_H

#include <sqlite3.h>
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
