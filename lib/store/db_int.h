/* Private to lib/store/db.c and db_pg.c (store/db.h is the interface): the
 * connection's state, and the PostgreSQL half, which db_pg.c holds. */
#ifndef CELLA_STORE_DB_INT_H
#define CELLA_STORE_DB_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store/db.h"
#include "store/pq_lib.h"
#include "store/sql.h"

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
     * and prepared on it once run twice (see dbpg_statement) */
    stmt_text xlat[STMT_CACHE_MAX];
    size_t nxlat;
    unsigned prepared; /* statements prepared on this connection, to name the next */
};

static inline bool db_is_pg_url(const char *url)
{
    return !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13);
}

/* ---- db_pg.c ---- */
void dbpg_where(cella_db *db);
void dbpg_err_line(cella_db *db, const char *msg);
void dbpg_set_err(cella_db *db, const PGresult *res);
int dbpg_result_code(cella_db *db, PGresult *res);
int dbpg_simple(cella_db *db, const char *sql);
void dbpg_forget_prepared(cella_db *db);
void dbpg_reset(cella_db *db);
cella_res dbpg_connect(cella_db *db);
cella_res dbpg_open(cella_db *db, const char *url);
void dbpg_json_extract(char *out, size_t cap);
void dbpg_param(dbq *q, int i, const void *v, size_t n, int fmt, unsigned oid);
bool dbpg_uses_param(const char *sql, int n);
const char *dbpg_statement(cella_db *db, const char *sql, int n, const Oid *oids);
int dbpg_step(dbq *q);
bool dbpg_cell(dbq *q, int i, const char **v, int *n, Oid *oid);

#endif
