/* Request metrics of one HTTP server (docs/metrics.md):
 *   cella_http_requests_total{server,route,status}          counter
 *   cella_http_request_duration_seconds{server,route}       histogram
 *
 * "route" is one of the server's route patterns, never the path a client
 * sent: a path that matches none counts as "other", so however many
 * distinct paths are requested, the label sets stay the server's routes
 * times the statuses it answers. A pattern is a path whose segments are
 * literal, ":name" (any one non-empty segment) or, last, "*" (one or more
 * segments); the first matching pattern wins. Every server also has the
 * route "/metrics". Counting takes no lock and allocates nothing. */
#ifndef CELLA_NET_HTTP_METRICS_H
#define CELLA_NET_HTTP_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/metrics.h"

typedef struct cella_http_metrics cella_http_metrics;

/* `server` and `routes` (NULL-terminated, may be NULL) are borrowed: they
 * must outlive the metrics (string literals). */
CELLA_RESULT cella_http_metrics_new(const char *server, const char *const *routes,
                                    cella_http_metrics **out);
void cella_http_metrics_free(cella_http_metrics *m);

/* Whether `path` (no query) matches the route pattern `pattern`. */
bool cella_http_route_matches(const char *pattern, const char *path);
/* The route index of `path` (NULL: "other"). */
unsigned cella_http_metrics_route(const cella_http_metrics *m, const char *path);
/* One answered request: its route index, status and time to the reply. */
void cella_http_metrics_observe(cella_http_metrics *m, unsigned route, int status, uint64_t ns);
/* Both families, for the routes and statuses seen so far. */
void cella_http_metrics_write(const cella_http_metrics *m, cella_buf *out);

#endif
