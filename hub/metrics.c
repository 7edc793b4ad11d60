#include "hub/metrics.h"

#include <stdbool.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "hub/store.h"

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
    "/v1/tasks/lease-next",
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

void hub_metrics_write(cella_buf *out, hub_store *st, int64_t now)
{
    int64_t tasks[NSTATES], leases;
    cella_res r = hub_store_census(st, states, NSTATES, now, tasks, &leases);
    if (!cella_ok(r))
        cella_warn("metrics: cannot count the hub's tasks: %s", cella_error_what());
    if (cella_ok(r)) {
        cella_metrics_family(out, "cella_hub_tasks", "gauge", "Tasks by PoCo state.");
        for (size_t i = 0; i < NSTATES; i++)
            cella_metrics_i64(out, "cella_hub_tasks", (const char *const[]){"state", states[i], NULL},
                              tasks[i]);
        cella_metrics_family(out, "cella_hub_leases_active", "gauge",
                             "Tasks leased to a worker whose lease has not run out.");
        cella_metrics_i64(out, "cella_hub_leases_active", NULL, leases);
    }
    cella_metrics_db_write(out);
}
