/* A progress line on stderr for long work, only when stderr is a terminal and
 * the work is large enough to be worth watching. */
#ifndef CELLA_CLI_PROGRESS_H
#define CELLA_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *label;
    double start;
    bool active;  /* a line has been drawn and must be ended */
    bool enabled;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label);
/* Matches cella_vol_progress_fn. */
void cli_progress_update(uint64_t done, uint64_t total, void *ctx);
void cli_progress_end(cli_progress *p);

#endif
