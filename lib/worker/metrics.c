#include "worker/metrics.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void not_found(cella_http_req *req, void *tctx)
{
    (void)tctx;
    cella_http_error(req, 404, "not_found", "the worker serves GET /metrics only");
}

static void write_metrics(cella_buf *out, void *app, void *tctx)
{
    (void)tctx;
    worker_metrics *m = app;
    cella_metrics_family(out, "cella_worker_tasks_started_total", "counter",
                         "Tasks this worker leased and began to run.");
    cella_metrics_u64(out, "cella_worker_tasks_started_total", NULL,
                      cella_counter_get(&m->started));
    cella_metrics_family(out, "cella_worker_tasks_total", "counter",
                         "Tasks this worker finished, by outcome (succeeded: contributed; "
                         "failed: reported to the hub as failed).");
    cella_metrics_u64(out, "cella_worker_tasks_total",
                      (const char *const[]){"outcome", "succeeded", NULL},
                      cella_counter_get(&m->succeeded));
    cella_metrics_u64(out, "cella_worker_tasks_total",
                      (const char *const[]){"outcome", "failed", NULL},
                      cella_counter_get(&m->failed));
    cella_metrics_family(out, "cella_worker_task_duration_seconds", "histogram",
                         "Time from a task's lease to its contribution or failure report.");
    cella_metrics_histogram(out, "cella_worker_task_duration_seconds", NULL, &m->duration);
    cella_metrics_family(out, "cella_worker_slots_busy", "gauge", "Slots running a task.");
    cella_metrics_i64(out, "cella_worker_slots_busy", NULL, cella_gauge_get(&m->busy));
    cella_metrics_family(out, "cella_worker_slots", "gauge", "Slots (tasks run at once).");
    cella_metrics_u64(out, "cella_worker_slots", NULL, m->slots);
}

cella_res worker_metrics_start(worker_metrics *m, const char *listen, unsigned slots)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->slots = slots;
    if (!listen)
        return CELLA_OK_RES;
    char bound[64];
    CELLA_TRY(cella_http_listen(listen, "worker start --metrics", &m->fd, bound));
    m->cfg = (cella_http_config){
        .fd = m->fd,
        .max_body = 0,
        .threads = 1,
        .handler = not_found,
        .app = m,
        .name = "worker",
        .metrics = write_metrics,
    };
    cella_res r = cella_http_start(&m->cfg, &m->server);
    if (!cella_ok(r)) {
        close(m->fd);
        m->fd = -1;
        return r;
    }
    printf("worker metrics on http://%s/metrics\n", bound);
    fflush(stdout);
    return CELLA_OK_RES;
}

void worker_metrics_stop(worker_metrics *m)
{
    cella_http_stop(m->server);
    m->server = NULL;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}
