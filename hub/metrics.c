#include "hub/metrics.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"

const char *const hub_routes[] = {
    "/",
    "/ui/*",
    "/v1/health",
    "/v1/challenge",
    "/v1/apps",
    "/v1/apps/count",
    "/v1/apps/:address",
    "/v1/apps/:address/transfer",
    "/v1/datasets",
    "/v1/datasets/count",
    "/v1/datasets/:address",
    "/v1/datasets/:address/transfer",
    "/v1/workerpools",
    "/v1/workerpools/count",
    "/v1/workerpools/:address",
    "/v1/workerpools/:address/transfer",
    "/v1/orders",
    "/v1/orders/cancel",
    "/v1/orders/:hash",
    "/v1/deals",
    "/v1/deals/:id",
    "/v1/tasks",
    "/v1/tasks/:id",
    "/v1/tasks/:id/lease",
    "/v1/tasks/:id/report",
    "/v1/tasks/:id/logs",
    "/v1/tasks/:id/contribute",
    "/v1/tasks/:id/contribute-and-finalize",
    "/v1/tasks/:id/reveal",
    "/v1/tasks/:id/finalize",
    "/v1/tasks/:id/reopen",
    "/v1/tasks/:id/claim",
    "/v1/events",
    "/v1/accounts/deposit",
    "/v1/accounts/withdraw",
    "/v1/accounts/:address",
    NULL,
};

/* PoCo's task states as the hub stores them; the label set is this list,
 * whatever the database holds. */
static const char *const states[] = {"ACTIVE", "REVEALING", "COMPLETED", "FAILED"};
#define NSTATES (sizeof states / sizeof states[0])

typedef struct {
    int64_t tasks[NSTATES];
    int64_t leases;
} census;

static bool count_rows(sqlite3 *db, const char *sql, int64_t now, census *c)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return false;
    if (sqlite3_bind_parameter_count(q) > 0)
        sqlite3_bind_int64(q, 1, now);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(q, 0);
        int64_t n = sqlite3_column_int64(q, 1);
        if (!state) {
            c->leases = n;
            continue;
        }
        for (size_t i = 0; i < NSTATES; i++)
            if (!strcmp(state, states[i]))
                c->tasks[i] = n;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE;
}

/* The counts, read on a connection of its own (read only: a scrape never
 * waits for the writer, WAL readers do not block it).
 * TODO(store backends): this is the one place outside lib/hub/store that
 * reads the hub's tables; it belongs in the store interface (a "task census"
 * call) once the store has a PostgreSQL backend. */
static bool read_census(const char *db_path, int64_t now, census *c)
{
    sqlite3 *db = NULL;
    bool ok = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) ==
              SQLITE_OK;
    if (ok) {
        sqlite3_busy_timeout(db, 2000);
        ok = count_rows(db, "SELECT status, count(*) FROM tasks GROUP BY status", now, c) &&
             count_rows(db,
                        "SELECT NULL, count(*) FROM tasks WHERE lease_holder IS NOT NULL"
                        " AND lease_until > ?1",
                        now, c);
    }
    if (!ok)
        cella_warn("metrics: cannot count the hub's tasks: %s",
                   db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return ok;
}

void hub_metrics_write(cella_buf *out, const char *db_path, int64_t now)
{
    census c;
    memset(&c, 0, sizeof c);
    if (read_census(db_path, now, &c)) {
        cella_metrics_family(out, "cella_hub_tasks", "gauge", "Tasks by PoCo state.");
        for (size_t i = 0; i < NSTATES; i++)
            cella_metrics_i64(out, "cella_hub_tasks", (const char *const[]){"state", states[i], NULL},
                              c.tasks[i]);
        cella_metrics_family(out, "cella_hub_leases_active", "gauge",
                             "Tasks leased to a worker whose lease has not run out.");
        cella_metrics_i64(out, "cella_hub_leases_active", NULL, c.leases);
    }
    cella_metrics_db_write(out);
}
