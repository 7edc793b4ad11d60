#include "net/http_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statuses 100..599, one counter each: a route's table is a fixed 4 KB, and
 * counting is one atomic add at a known place. */
#define STATUS_MIN 100
#define STATUS_COUNT 500

typedef struct {
    const char *pattern;
    cella_counter status[STATUS_COUNT];
    cella_histogram duration;
} route_stats;

struct cella_http_metrics {
    const char *server;
    unsigned n; /* the caller's routes, then "/metrics", then "other" */
    route_stats route[];
};

cella_res cella_http_metrics_new(const char *server, const char *const *routes,
                                 cella_http_metrics **out)
{
    unsigned given = 0;
    while (routes && routes[given])
        given++;
    unsigned n = given + 2;
    cella_http_metrics *m = calloc(1, sizeof *m + n * sizeof m->route[0]);
    CELLA_ENSURE(m, CELLA_E_NOMEM, "metrics", "out of memory");
    m->server = server;
    m->n = n;
    for (unsigned i = 0; i < given; i++)
        m->route[i].pattern = routes[i];
    m->route[given].pattern = "/metrics";
    m->route[given + 1].pattern = "other";
    *out = m;
    return CELLA_OK_RES;
}

void cella_http_metrics_free(cella_http_metrics *m) { free(m); }

bool cella_http_route_matches(const char *pat, const char *path)
{
    while (*pat && *path) {
        if (*pat != '/' || *path != '/')
            return false;
        pat++;
        path++;
        size_t pl = strcspn(pat, "/"), sl = strcspn(path, "/");
        if (pl == 1 && pat[0] == '*' && !pat[1])
            return sl > 0; /* the rest, whatever it is */
        if (pat[0] == ':') {
            if (sl == 0)
                return false;
        } else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return false;
        }
        pat += pl;
        path += sl;
    }
    return !*pat && !*path;
}

unsigned cella_http_metrics_route(const cella_http_metrics *m, const char *path)
{
    unsigned other = m->n - 1;
    for (unsigned i = 0; path && i < other; i++)
        if (cella_http_route_matches(m->route[i].pattern, path))
            return i;
    return other;
}

void cella_http_metrics_observe(cella_http_metrics *m, unsigned route, int status, uint64_t ns)
{
    if (route >= m->n)
        route = m->n - 1;
    if (status < STATUS_MIN || status >= STATUS_MIN + STATUS_COUNT)
        status = 500; /* never sent by cella: counted as what it would be */
    cella_counter_add(&m->route[route].status[status - STATUS_MIN], 1);
    cella_histogram_observe(&m->route[route].duration, ns);
}

void cella_http_metrics_write(const cella_http_metrics *m, cella_buf *out)
{
    cella_metrics_family(out, "cella_http_requests_total", "counter",
                         "HTTP requests answered, by route pattern and status.");
    char st[8];
    for (unsigned i = 0; i < m->n; i++)
        for (int s = 0; s < STATUS_COUNT; s++) {
            uint64_t v = cella_counter_get(&m->route[i].status[s]);
            if (!v)
                continue;
            snprintf(st, sizeof st, "%d", s + STATUS_MIN);
            const char *labels[] = {"server", m->server, "route", m->route[i].pattern,
                                    "status", st, NULL};
            cella_metrics_u64(out, "cella_http_requests_total", labels, v);
        }
    cella_metrics_family(out, "cella_http_request_duration_seconds", "histogram",
                         "Time from a request's dispatch to its reply, by route pattern.");
    for (unsigned i = 0; i < m->n; i++) {
        const cella_histogram *h = &m->route[i].duration;
        bool seen = false;
        for (unsigned b = 0; b <= CELLA_HISTOGRAM_BOUNDS && !seen; b++)
            seen = atomic_load_explicit(&((cella_histogram *)h)->bucket[b],
                                        memory_order_relaxed) != 0;
        if (!seen)
            continue;
        const char *labels[] = {"server", m->server, "route", m->route[i].pattern, NULL};
        cella_metrics_histogram(out, "cella_http_request_duration_seconds", labels, h);
    }
}
