/* One database connection behind a backend-neutral interface, so the hub's
 * and the cas's logic is written once over SQLite (the embedded default, one
 * process) and PostgreSQL (libpq: several replicas sharing one database).
 *
 * SQL is written once, in the dialect both engines share: `?` parameters
 * (numbered $1.. for PostgreSQL), ON CONFLICT, RETURNING. A statement ending
 * in " FOR UPDATE" (or " FOR UPDATE SKIP LOCKED") locks the rows it reads on
 * PostgreSQL; on SQLite, whose BEGIN IMMEDIATE already lets one writer in,
 * the suffix is dropped.
 *
 * Concurrency. SQLite: writers take turns on a process-wide mutex (the one
 * passed to open) and BEGIN IMMEDIATE. PostgreSQL: READ COMMITTED, with the
 * rows a transaction reads and then writes locked FOR UPDATE, so concurrent
 * replicas wait for each other on the rows they share and on nothing else. A
 * transaction that fails because of another one (a deadlock, a serialization
 * failure) or because the connection was lost is marked retryable: the caller
 * runs it again from the start (CELLA_DB_RETRY), at most a few times.
 *
 * One connection per thread. */
#ifndef CELLA_STORE_DB_H
#define CELLA_STORE_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cella_db cella_db;

typedef enum { CELLA_DB_SQLITE, CELLA_DB_POSTGRES } cella_db_kind;

/* What a store needs created in a new database, per engine. `migrate` (may
 * be NULL) runs after the schema, inside the same transaction, under the
 * migration lock: it brings an older database up to date. */
typedef struct {
    const char *name;    /* "hub", "cas": the schema's key in cella_schema */
    int version;         /* recorded in cella_schema(name, version) */
    const char *sqlite;  /* CREATE ... IF NOT EXISTS statements */
    const char *postgres;
    cella_res (*migrate)(cella_db *db, int from_version, void *ctx);
} cella_db_schema;

/* url: "sqlite:PATH", a bare PATH (SQLite), or "postgres://..." /
 * "postgresql://..." (libpq; a password in the URL is refused, see
 * cella_db_url_check: libpq reads it from PGPASSFILE). SQLite handles of one store share `turn` (a process-wide mutex).
 * The schema is created or migrated under a lock (PostgreSQL: an advisory
 * lock, so replicas starting together migrate once). */
CELLA_RESULT cella_db_open(const char *url, const cella_db_schema *schema, void *migrate_ctx,
                           pthread_mutex_t *turn, cella_db **out);
void cella_db_close(cella_db *db);

cella_db_kind cella_db_kind_of(const cella_db *db);
/* For messages: the SQLite path, or "postgres://HOST/DB" (never a password). */
const char *cella_db_where(const cella_db *db);
/* Parses a --db value without connecting: CELLA_E_USAGE with the reason. A
 * PostgreSQL URL with a password is refused (it would sit in argv): libpq
 * reads it from PGPASSFILE. */
CELLA_RESULT cella_db_url_check(const char *url);

/* ---- statements ---- */
enum { DB_ROW = 1, DB_DONE = 2, DB_CONSTRAINT = 3, DB_ERROR = 4 };

#define DB_PARAMS_MAX 16

typedef struct {
    cella_db *db;
    void *st;    /* SQLite: the sqlite3_stmt */
    void *res;   /* PostgreSQL: the PGresult, once run */
    int row, rows; /* PostgreSQL: the current row, and how many */
    int ok;      /* 0 once a binding failed */
    int nparams; /* PostgreSQL: bound so far (the highest index) */
    const char *sql;
    char *own;   /* PostgreSQL: the statement's text, owned */
    struct {
        const char *val; /* owned copy */
        int len, fmt;
        unsigned oid;
        bool bound;
    } p[DB_PARAMS_MAX];
} dbq;

/* A statement (from the connection's cache). Bind, step, read columns,
 * then db_done. Column and parameter indexes: parameters from 1, columns
 * from 0, as SQLite numbers them. */
dbq db_prep(cella_db *db, const char *sql);
void db_bt(dbq *q, int i, const char *v);
void db_btn(dbq *q, int i, const char *v, size_t n); /* n bytes of text */
void db_bb(dbq *q, int i, const void *v, size_t n);
void db_bbn(dbq *q, int i, const void *v, size_t n); /* a blob, or NULL when v is NULL */
void db_bi(dbq *q, int i, int64_t v);
void db_bnull(dbq *q, int i);
/* DB_ROW, DB_DONE, DB_CONSTRAINT (a unique or check constraint) or DB_ERROR
 * (db_errmsg tells; a failed bind is one). */
int db_step(dbq *q);
bool db_col_null(dbq *q, int i);
int64_t db_col_int(dbq *q, int i);
const char *db_col_text(dbq *q, int i); /* NULL for SQL NULL */
size_t db_col_len(dbq *q, int i);       /* bytes of a text or blob column */
const void *db_col_blob(dbq *q, int i, size_t *n);
/* Copies a blob column of exactly n bytes, or zeros if it has another size. */
void db_col_bytes(dbq *q, int i, uint8_t *out, size_t n);
void db_done(dbq *q);
/* Runs the statement again (after new bindings), as db_prep gave it. */
void db_reset(dbq *q);

/* The last error's message (for the stores' error texts). */
const char *db_errmsg(cella_db *db);
/* The failure of the last statement, as the stores report it: "what: the
 * database's message" at the database's place; CELLA_E_UNAVAILABLE when the
 * database is down or kept refusing (retryable), else CELLA_E_IO. */
cella_res db_failure(cella_db *db, const char *what);

/* Runs SQL without parameters or rows (several statements allowed). */
CELLA_RESULT db_exec(cella_db *db, const char *sql);

/* ---- transactions ---- */
CELLA_RESULT db_begin(cella_db *db);
/* Ends the transaction either way (a failed COMMIT is rolled back). */
CELLA_RESULT db_commit(cella_db *db);
void db_rollback(cella_db *db); /* a no-op outside a transaction */
bool db_in_txn(const cella_db *db);
/* Steps a writing statement outside a transaction on SQLite's writer turn
 * (inside one, or on PostgreSQL, as db_step). */
int db_write_step(dbq *q);

/* The database's clock (PostgreSQL: the server's, shared by every replica,
 * asked at most once a second per connection and moved on by this host's
 * monotonic clock in between; SQLite: this host's), in Unix seconds. */
CELLA_RESULT db_now(cella_db *db, int64_t *now);

/* Whether the last failure on this connection was one to retry: another
 * transaction's (deadlock, serialization failure) or a lost connection. */
bool db_retryable(const cella_db *db);
/* After a failed attempt: whether to run it again (retryable, attempt below
 * the limit), after a short random backoff. Reconnects a lost connection. */
bool db_retry(cella_db *db, int attempt);

/* Runs `expr` (a cella_res expression that does one whole transaction) until
 * it succeeds, fails for good, or runs out of attempts. */
#define CELLA_DB_RETRY(db, r, expr)                                                                \
    for (int attempt_ = 0;; attempt_++) {                                                          \
        (r) = (expr);                                                                              \
        if (cella_ok(r) || !db_retry((db), attempt_))                                              \
            break;                                                                                 \
    }

/* PostgreSQL: NOTIFY `channel` with `payload` when the transaction commits
 * (a no-op on SQLite, whose readers share one process). */
CELLA_RESULT db_notify(cella_db *db, const char *channel, const char *payload);

/* A connection that waits for NOTIFYs on `channel` (PostgreSQL only;
 * CELLA_E_UNSUPPORTED on SQLite). db_listen_fd is its socket, to poll;
 * db_listen_drain reads what arrived and says how many notifications. */
CELLA_RESULT db_listen(const char *url, const char *channel, cella_db **out);
int db_listen_fd(cella_db *db);
CELLA_RESULT db_listen_drain(cella_db *db, unsigned *count);

#endif
