/* The sandbox alone (no cas, no volumes): a directory bundle and an image
 * bundle of the same program run in turn through cella_sandbox_run with
 * their manifests' limits, as run-task runs them. Prints the median
 * microseconds of each: "dir US image US".
 * usage: bench_sandbox DIR_BUNDLE IMAGE_BUNDLE RUNS   (the program at /app/t) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "app/app.h"
#include "runtime/image.h"
#include "runtime/manifest.h"
#include "runtime/sandbox.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run of `bundle`; its wall time, or -1 when it did not exit 0. */
static double run_once(const char *bundle, const cella_app_manifest *m)
{
    static const char *const cmd[] = {"/app/t", NULL};
    const char *const env[] = {"IEXEC_IN=/iexec_in", NULL};
    cella_sandbox_spec spec = {.argv = cmd, .env = env, .cwd = "/", .app_dir = bundle,
                               .wall_seconds = 20, .stdout_fd = -1, .stderr_fd = -1};
    cella_image_run ir = {0};
    double t0 = now_us();
    if (m->image && !cella_ok(cella_image_prepare(m, bundle, cmd, 1, env, &ir, &spec)))
        return -1;
    cella_manifest_limits(m, 0, &spec);
    cella_sandbox_result r;
    bool ok = cella_ok(cella_sandbox_run(&spec, &r)) && r.exit_code == 0;
    double t = now_us() - t0;
    cella_image_run_free(&ir);
    return ok ? t : -1;
}

int main(int argc, char **argv)
{
    int runs = argc == 4 ? atoi(argv[3]) : 0;
    if (runs < 1) {
        fprintf(stderr, "usage: bench_sandbox DIR_BUNDLE IMAGE_BUNDLE RUNS\n");
        return 2;
    }
    cella_app_manifest m[2];
    for (int k = 0; k < 2; k++)
        if (!cella_ok(cella_app_load(argv[1 + k], &m[k]))) {
            fprintf(stderr, "%s: %s\n", argv[1 + k], cella_error_what());
            return 1;
        }
    double *t[2] = {calloc((size_t)runs, sizeof(double)), calloc((size_t)runs, sizeof(double))};
    for (int i = 0; i < runs; i++)
        for (int k = 0; k < 2; k++)
            if ((t[k][i] = run_once(argv[1 + k], &m[k])) < 0) {
                fprintf(stderr, "%s did not run\n", argv[1 + k]);
                return 1;
            }
    for (int k = 0; k < 2; k++)
        qsort(t[k], (size_t)runs, sizeof(double), by_value);
    printf("dir %.0f image %.0f\n", t[0][runs / 2], t[1][runs / 2]);
    for (int k = 0; k < 2; k++) {
        free(t[k]);
        cella_app_manifest_free(&m[k]);
    }
    return 0;
}
