/* Metrics in Prometheus' text exposition format, version 0.0.4
 * (docs/metrics.md lists every metric cella exports).
 *
 * Counters, gauges and latency histograms are plain structs of atomics,
 * updated without locks or allocation, so a request path can count freely;
 * only a scrape allocates (the text it writes). Label sets are fixed by the
 * code that writes them, never taken from a request, so an attacker cannot
 * grow them. */
#ifndef CELLA_CORE_METRICS_H
#define CELLA_CORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/slice.h"

/* The Content-Type of a scrape. */
#define CELLA_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct {
    _Atomic uint64_t n;
} cella_counter;

typedef struct {
    _Atomic int64_t n;
} cella_gauge;

static inline void cella_counter_add(cella_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->n, n, memory_order_relaxed);
}
static inline uint64_t cella_counter_get(const cella_counter *c)
{
    return atomic_load_explicit(&((cella_counter *)c)->n, memory_order_relaxed);
}
static inline void cella_gauge_add(cella_gauge *g, int64_t delta)
{
    atomic_fetch_add_explicit(&g->n, delta, memory_order_relaxed);
}
static inline void cella_gauge_set(cella_gauge *g, int64_t v)
{
    atomic_store_explicit(&g->n, v, memory_order_relaxed);
}
static inline int64_t cella_gauge_get(const cella_gauge *g)
{
    return atomic_load_explicit(&((cella_gauge *)g)->n, memory_order_relaxed);
}

/* Latency histograms share one set of upper bounds, in seconds, from half a
 * millisecond (a cached read) to a minute (a long poll waits up to 30 s). */
#define CELLA_HISTOGRAM_BOUNDS 16
extern const double cella_histogram_bounds[CELLA_HISTOGRAM_BOUNDS];

typedef struct {
    /* bucket[i]: observations in (bounds[i-1], bounds[i]]; the last one
     * those above every bound. Not cumulative: the writer adds them up. */
    _Atomic uint64_t bucket[CELLA_HISTOGRAM_BOUNDS + 1];
    _Atomic uint64_t sum_ns;
} cella_histogram;

void cella_histogram_observe(cella_histogram *h, uint64_t ns);
/* CLOCK_MONOTONIC in nanoseconds, for durations. */
uint64_t cella_monotonic_ns(void);

/* ---- the text format ----
 * Names (metric and label) are the caller's literals and must match
 * [a-zA-Z_][a-zA-Z0-9_]*. Labels are name/value pairs ending with NULL, or
 * NULL for none: {"route", "/v1/tasks/:id", "status", "200", NULL}. Values
 * are escaped as the format wants (backslash, double quote, newline). The
 * output is a cella_buf: an allocation failure latches its `failed`. */

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void cella_metrics_family(cella_buf *out, const char *name, const char *type, const char *help);
/* One sample: "name{labels} value". */
void cella_metrics_u64(cella_buf *out, const char *name, const char *const *labels, uint64_t v);
void cella_metrics_i64(cella_buf *out, const char *name, const char *const *labels, int64_t v);
/* name_bucket{labels,le="..."} for each bound and +Inf (cumulative),
 * name_sum{labels} (seconds) and name_count{labels} (== the +Inf bucket). */
void cella_metrics_histogram(cella_buf *out, const char *name, const char *const *labels,
                             const cella_histogram *h);

/* ---- the database layer (process-wide) ----
 * The store calls these; hub and cas scrapes show them as
 * cella_db_errors_total, cella_db_retries_total and cella_db_connections. */
void cella_metrics_db_error(void);                  /* a statement or transaction failed */
void cella_metrics_db_retry(void);                  /* a transaction is retried */
void cella_metrics_db_connections_add(int delta);   /* +1 opened, -1 closed */
void cella_metrics_db_write(cella_buf *out);

#endif
