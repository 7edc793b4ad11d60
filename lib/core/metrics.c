#include "core/metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const double cella_histogram_bounds[CELLA_HISTOGRAM_BOUNDS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30,    60};
/* The same bounds as compared (nanoseconds) and as written (le="..."):
 * exact text, never a float printed back. */
static const uint64_t bounds_ns[CELLA_HISTOGRAM_BOUNDS] = {
    500000,     1000000,    2500000,    5000000,     10000000,    25000000,
    50000000,   100000000,  250000000,  500000000,   1000000000,  2500000000,
    5000000000, 10000000000, 30000000000, 60000000000};
static const char *const bounds_text[CELLA_HISTOGRAM_BOUNDS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "30",   "60"};

void cella_histogram_observe(cella_histogram *h, uint64_t ns)
{
    size_t i = 0;
    while (i < CELLA_HISTOGRAM_BOUNDS && ns > bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

uint64_t cella_monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- the text format ---- */

static void put(cella_buf *o, const char *s) { cella_buf_append(o, s, strlen(s)); }

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(cella_buf *o, const char *s, bool label)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(o, "\\\\");
        else if (*s == '\n')
            put(o, "\\n");
        else if (*s == '"' && label)
            put(o, "\\\"");
        else
            cella_buf_append(o, s, 1);
    }
}

static void put_labels(cella_buf *o, const char *const *labels, const char *le)
{
    bool any = labels && labels[0];
    if (!any && !le)
        return;
    put(o, "{");
    for (size_t i = 0; any && labels[i] && labels[i + 1]; i += 2) {
        if (i)
            put(o, ",");
        put(o, labels[i]);
        put(o, "=\"");
        put_escaped(o, labels[i + 1], true);
        put(o, "\"");
    }
    if (le) {
        put(o, any ? ",le=\"" : "le=\"");
        put(o, le);
        put(o, "\"");
    }
    put(o, "}");
}

static void sample(cella_buf *o, const char *name, const char *suffix, const char *const *labels,
                   const char *le, const char *value)
{
    put(o, name);
    put(o, suffix);
    put_labels(o, labels, le);
    put(o, " ");
    put(o, value);
    put(o, "\n");
}

void cella_metrics_family(cella_buf *out, const char *name, const char *type, const char *help)
{
    put(out, "# HELP ");
    put(out, name);
    put(out, " ");
    put_escaped(out, help, false);
    put(out, "\n# TYPE ");
    put(out, name);
    put(out, " ");
    put(out, type);
    put(out, "\n");
}

void cella_metrics_u64(cella_buf *out, const char *name, const char *const *labels, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRIu64, v);
    sample(out, name, "", labels, NULL, t);
}

void cella_metrics_i64(cella_buf *out, const char *name, const char *const *labels, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, v);
    sample(out, name, "", labels, NULL, t);
}

void cella_metrics_histogram(cella_buf *out, const char *name, const char *const *labels,
                             const cella_histogram *h)
{
    cella_histogram *m = (cella_histogram *)h;
    /* One read of each bucket: the cumulative counts of a scrape agree with
     * its _count even while requests are observed meanwhile. */
    uint64_t total = 0;
    char t[48];
    for (size_t i = 0; i <= CELLA_HISTOGRAM_BOUNDS; i++) {
        total += atomic_load_explicit(&m->bucket[i], memory_order_relaxed);
        snprintf(t, sizeof t, "%" PRIu64, total);
        sample(out, name, "_bucket", labels,
               i < CELLA_HISTOGRAM_BOUNDS ? bounds_text[i] : "+Inf", t);
    }
    uint64_t ns = atomic_load_explicit(&m->sum_ns, memory_order_relaxed);
    snprintf(t, sizeof t, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
    sample(out, name, "_sum", labels, NULL, t);
    snprintf(t, sizeof t, "%" PRIu64, total);
    sample(out, name, "_count", labels, NULL, t);
}

/* ---- the database layer ---- */

static cella_counter g_db_errors, g_db_retries;
static cella_gauge g_db_connections;

void cella_metrics_db_error(void) { cella_counter_add(&g_db_errors, 1); }
void cella_metrics_db_retry(void) { cella_counter_add(&g_db_retries, 1); }
void cella_metrics_db_connections_add(int delta) { cella_gauge_add(&g_db_connections, delta); }

void cella_metrics_db_write(cella_buf *out)
{
    cella_metrics_family(out, "cella_db_errors_total", "counter",
                         "Database statements or transactions that failed.");
    cella_metrics_u64(out, "cella_db_errors_total", NULL, cella_counter_get(&g_db_errors));
    cella_metrics_family(out, "cella_db_retries_total", "counter",
                         "Database transactions retried (serialization failures, busy).");
    cella_metrics_u64(out, "cella_db_retries_total", NULL, cella_counter_get(&g_db_retries));
    cella_metrics_family(out, "cella_db_connections", "gauge",
                         "Database connections open in this process.");
    cella_metrics_i64(out, "cella_db_connections", NULL, cella_gauge_get(&g_db_connections));
}
