/* libpq, loaded when a postgres:// database is first named (core/dl.h).
 * Private to lib/store.
 *
 * Why not linked: libpq brings Kerberos, LDAP, SASL and their chains (about
 * 15 shared libraries), loaded at every `cella` start, while only a hub or cas
 * on PostgreSQL talks to it. */
#ifndef CELLA_STORE_PQ_LIB_H
#define CELLA_STORE_PQ_LIB_H

#include <libpq-fe.h>

#include "core/dl.h"
#include "core/error.h"

#define CELLA_PQ_FUNCS(X)                                                                       \
    X(PQclear)                                                                                  \
    X(PQconnectdb)                                                                              \
    X(PQconninfoFree)                                                                           \
    X(PQconninfoParse)                                                                          \
    X(PQconsumeInput)                                                                           \
    X(PQdb)                                                                                     \
    X(PQerrorMessage)                                                                           \
    X(PQescapeIdentifier)                                                                       \
    X(PQexec)                                                                                   \
    X(PQexecParams)                                                                             \
    X(PQexecPrepared)                                                                           \
    X(PQfinish)                                                                                 \
    X(PQfreemem)                                                                                \
    X(PQftype)                                                                                  \
    X(PQgetisnull)                                                                              \
    X(PQgetlength)                                                                              \
    X(PQgetvalue)                                                                               \
    X(PQhost)                                                                                   \
    X(PQnfields)                                                                                \
    X(PQnotifies)                                                                               \
    X(PQntuples)                                                                                \
    X(PQport)                                                                                   \
    X(PQprepare)                                                                                \
    X(PQreset)                                                                                  \
    X(PQresultErrorField)                                                                       \
    X(PQresultErrorMessage)                                                                     \
    X(PQresultStatus)                                                                           \
    X(PQsocket)                                                                                 \
    X(PQstatus)                                                                                 \
    X(PQtransactionStatus)

typedef struct {
    CELLA_PQ_FUNCS(CELLA_DL_FIELD)
} cella_pq_lib;

/* The process's table, loaded on first use (thread-safe, never unloaded).
 * Fails with CELLA_E_UNSUPPORTED naming the library when it cannot be loaded
 * or lacks a function. cella_db_url_check calls it for every postgres:// URL,
 * before any connection exists. */
CELLA_RESULT cella_pq_lib_get(const cella_pq_lib **lib);

/* The table once cella_pq_lib_get has succeeded in this process: for code
 * handed a connection, whose URL was checked. */
const cella_pq_lib *cella_pq_lib_loaded(void);

/* Loads `soname` into `lib` (no caching): for tests. */
CELLA_RESULT cella_pq_lib_load(const char *soname, cella_pq_lib *lib);

/* libpq's calls in lib/store: through the table. */
#define PG cella_pq_lib_loaded()

#endif
