/* The hub's metrics (docs/metrics.md): its route patterns, for the request
 * metrics every cella server has, and what only the hub knows. */
#ifndef CELLA_HUB_METRICS_H
#define CELLA_HUB_METRICS_H

#include <stdint.h>

#include "core/slice.h"

/* Every route of hub/server.c and hub/web.c, as patterns
 * (lib/net/http_metrics.h), NULL-terminated. */
extern const char *const hub_routes[];

/* cella_hub_tasks{state} and cella_hub_leases_active, read from the
 * database (the thread's store) when scraped, and the database layer's counters. */
typedef struct hub_store hub_store;
void hub_metrics_write(cella_buf *out, hub_store *st, int64_t now);

#endif
