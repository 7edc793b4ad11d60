/* The worker's metrics (docs/metrics.md), served on `worker start --metrics
 * ADDR:PORT` by the same HTTP server as the other cella servers. */
#ifndef CELLA_WORKER_METRICS_H
#define CELLA_WORKER_METRICS_H

#include "core/error.h"
#include "core/metrics.h"
#include "net/http_server.h"

typedef struct {
    cella_counter started, succeeded, failed; /* tasks leased and run, and how they ended */
    cella_gauge busy;                         /* slots running a task */
    cella_histogram duration;                 /* of a task, lease to contribution or failure */
    unsigned slots;
    int fd;
    cella_http_config cfg;
    cella_http_server *server;
} worker_metrics;

/* Counts from zero; with `listen` ("ADDR:PORT"), serves GET /metrics there
 * (one thread) and prints "worker metrics on http://ADDR:PORT". */
CELLA_RESULT worker_metrics_start(worker_metrics *m, const char *listen, unsigned slots);
void worker_metrics_stop(worker_metrics *m);

#endif
