#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MIN_BYTES (64ull << 20)

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress *p, const char *label)
{
    p->label = label;
    p->start = mono();
    p->active = false;
    /* CELLA_PROGRESS=1 forces it on (tests), =0 off. */
    const char *force = getenv("CELLA_PROGRESS");
    p->enabled = force ? force[0] == '1' : isatty(STDERR_FILENO);
}

void cli_progress_update(uint64_t done, uint64_t total, void *ctx)
{
    cli_progress *p = ctx;
    if (!p->enabled || total < PROGRESS_MIN_BYTES)
        return;
    double el = mono() - p->start;
    double rate = el > 0 ? (double)done / el / 1e6 : 0;
    fprintf(stderr, "\r%s %.1f/%.1f MiB %3.0f%% %.0f MB/s ", p->label,
            (double)done / 1048576.0, (double)total / 1048576.0,
            total ? 100.0 * (double)done / (double)total : 100.0, rate);
    p->active = true;
}

void cli_progress_end(cli_progress *p)
{
    if (p->active)
        fputc('\n', stderr);
    p->active = false;
}
