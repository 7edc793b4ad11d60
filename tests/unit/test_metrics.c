/* core/metrics (the Prometheus text format) and net/http_metrics (bounded
 * route labels). */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "net/http_metrics.h"

/* The buffer as a NUL-terminated string (freed with the buffer). */
static const char *text(cella_buf *b)
{
    cella_buf_append(b, "", 1);
    assert_false(b->failed);
    b->len--;
    return (const char *)b->p;
}

static void counter_and_gauge(void **state)
{
    (void)state;
    cella_buf b;
    cella_buf_init(&b, false);
    cella_counter c = {0};
    cella_counter_add(&c, 3);
    cella_counter_add(&c, 1);
    cella_gauge g = {0};
    cella_gauge_add(&g, 2);
    cella_gauge_add(&g, -5);
    cella_metrics_family(&b, "x_total", "counter", "Things.");
    cella_metrics_u64(&b, "x_total", (const char *const[]){"a", "1", "b", "two", NULL},
                      cella_counter_get(&c));
    cella_metrics_family(&b, "y", "gauge", "Level.");
    cella_metrics_i64(&b, "y", NULL, cella_gauge_get(&g));
    assert_string_equal(text(&b), "# HELP x_total Things.\n"
                                  "# TYPE x_total counter\n"
                                  "x_total{a=\"1\",b=\"two\"} 4\n"
                                  "# HELP y Level.\n"
                                  "# TYPE y gauge\n"
                                  "y -3\n");
    cella_buf_free(&b);
}

static void escaping(void **state)
{
    (void)state;
    cella_buf b;
    cella_buf_init(&b, false);
    cella_metrics_family(&b, "z", "counter", "a \\ b\nc \"d\"");
    cella_metrics_u64(&b, "z", (const char *const[]){"v", "q\"\\\nx", NULL}, 7);
    /* HELP keeps the double quote; a label value escapes all three. */
    assert_string_equal(text(&b), "# HELP z a \\\\ b\\nc \"d\"\n"
                                  "# TYPE z counter\n"
                                  "z{v=\"q\\\"\\\\\\nx\"} 7\n");
    cella_buf_free(&b);
}

static void histogram(void **state)
{
    (void)state;
    cella_histogram h;
    memset(&h, 0, sizeof h);
    cella_histogram_observe(&h, 400000);      /* 0.0004 s: first bucket */
    cella_histogram_observe(&h, 500000);      /* 0.0005 s: on a bound, still in it */
    cella_histogram_observe(&h, 3000000);     /* 0.003 s */
    cella_histogram_observe(&h, 75000000000); /* 75 s: above every bound */
    cella_buf b;
    cella_buf_init(&b, false);
    cella_metrics_histogram(&b, "d_seconds", (const char *const[]){"r", "/x", NULL}, &h);
    const char *want =
        "d_seconds_bucket{r=\"/x\",le=\"0.0005\"} 2\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.001\"} 2\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.0025\"} 2\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.005\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.01\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.025\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.05\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.1\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.25\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"0.5\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"1\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"2.5\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"5\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"10\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"30\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"60\"} 3\n"
        "d_seconds_bucket{r=\"/x\",le=\"+Inf\"} 4\n"
        "d_seconds_sum{r=\"/x\"} 75.003900000\n"
        "d_seconds_count{r=\"/x\"} 4\n";
    assert_string_equal(text(&b), want);
    cella_buf_free(&b);
    /* No labels: le alone. */
    cella_buf_init(&b, false);
    cella_metrics_histogram(&b, "e", NULL, &h);
    assert_non_null(strstr(text(&b), "e_bucket{le=\"+Inf\"} 4\ne_sum 75.003900000\ne_count 4\n"));
    cella_buf_free(&b);
}

static void route_patterns(void **state)
{
    (void)state;
    assert_true(cella_http_route_matches("/", "/"));
    assert_false(cella_http_route_matches("/", "/x"));
    assert_true(cella_http_route_matches("/v1/tasks", "/v1/tasks"));
    assert_false(cella_http_route_matches("/v1/tasks", "/v1/tasks/"));
    assert_false(cella_http_route_matches("/v1/tasks", "/v1/task"));
    assert_false(cella_http_route_matches("/v1/tasks", "/v1/tasksx"));
    assert_true(cella_http_route_matches("/v1/tasks/:id", "/v1/tasks/0xab"));
    assert_false(cella_http_route_matches("/v1/tasks/:id", "/v1/tasks/"));
    assert_false(cella_http_route_matches("/v1/tasks/:id", "/v1/tasks/0xab/lease"));
    assert_true(cella_http_route_matches("/v1/tasks/:id/lease", "/v1/tasks/0xab/lease"));
    assert_true(cella_http_route_matches("/ui/*", "/ui/app.js"));
    assert_true(cella_http_route_matches("/ui/*", "/ui/a/b/c"));
    assert_false(cella_http_route_matches("/ui/*", "/ui/"));
    assert_false(cella_http_route_matches("/ui/*", "/uix/a"));
}

/* Many distinct paths add no label set: they are "other", one series per status. */
static void bounded_labels(void **state)
{
    (void)state;
    static const char *const routes[] = {"/v1/tasks/:id", "/v1/health", NULL};
    cella_http_metrics *m;
    assert_succeeds(cella_http_metrics_new("t", routes, &m));
    for (int i = 0; i < 1000; i++) {
        char p[64];
        snprintf(p, sizeof p, "/junk/%d/%x", i, (unsigned)rand());
        cella_http_metrics_observe(m, cella_http_metrics_route(m, p), 404, 1000);
    }
    cella_http_metrics_observe(m, cella_http_metrics_route(m, "/v1/tasks/0x1"), 200, 1000);
    cella_http_metrics_observe(m, cella_http_metrics_route(m, "/v1/tasks/0x2"), 200, 1000);
    cella_http_metrics_observe(m, cella_http_metrics_route(m, "/metrics"), 200, 1000);
    cella_http_metrics_observe(m, cella_http_metrics_route(m, NULL), 400, 1000);
    cella_buf b;
    cella_buf_init(&b, false);
    cella_http_metrics_write(m, &b);
    const char *t = text(&b);
    assert_non_null(strstr(t, "cella_http_requests_total{server=\"t\",route=\"other\",status=\"404\"} 1000\n"));
    assert_non_null(strstr(t, "cella_http_requests_total{server=\"t\",route=\"other\",status=\"400\"} 1\n"));
    assert_non_null(strstr(t, "cella_http_requests_total{server=\"t\",route=\"/v1/tasks/:id\",status=\"200\"} 2\n"));
    assert_non_null(strstr(t, "cella_http_requests_total{server=\"t\",route=\"/metrics\",status=\"200\"} 1\n"));
    assert_null(strstr(t, "junk"));
    assert_null(strstr(t, "/v1/health")); /* never requested: no series */
    int series = 0;
    for (const char *l = t; (l = strstr(l, "cella_http_requests_total{")); l++)
        series++;
    assert_int_equal(series, 4);
    assert_non_null(strstr(t, "cella_http_request_duration_seconds_count{server=\"t\",route=\"other\"} 1001\n"));
    cella_buf_free(&b);
    cella_http_metrics_free(m);
}

/* Concurrent counting loses nothing. */
static void *count_many(void *arg)
{
    cella_http_metrics *m = arg;
    for (int i = 0; i < 100000; i++)
        cella_http_metrics_observe(m, 0, 200, 1);
    return NULL;
}

static void concurrent(void **state)
{
    (void)state;
    static const char *const routes[] = {"/a", NULL};
    cella_http_metrics *m;
    assert_succeeds(cella_http_metrics_new("c", routes, &m));
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, count_many, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cella_buf b;
    cella_buf_init(&b, false);
    cella_http_metrics_write(m, &b);
    assert_non_null(strstr(text(&b), "route=\"/a\",status=\"200\"} 400000\n"));
    cella_buf_free(&b);
    cella_http_metrics_free(m);
}

static void db_metrics(void **state)
{
    (void)state;
    cella_metrics_db_error();
    cella_metrics_db_retry();
    cella_metrics_db_retry();
    cella_metrics_db_connections_add(3);
    cella_metrics_db_connections_add(-1);
    cella_buf b;
    cella_buf_init(&b, false);
    cella_metrics_db_write(&b);
    const char *t = text(&b);
    assert_non_null(strstr(t, "\ncella_db_errors_total 1\n"));
    assert_non_null(strstr(t, "\ncella_db_retries_total 2\n"));
    assert_non_null(strstr(t, "# TYPE cella_db_connections gauge\ncella_db_connections 2\n"));
    cella_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_and_gauge), cmocka_unit_test(escaping),
        cmocka_unit_test(histogram),         cmocka_unit_test(route_patterns),
        cmocka_unit_test(bounded_labels),    cmocka_unit_test(concurrent),
        cmocka_unit_test(db_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
