/* The worker's side of the standby runtime (runtime/standby.h): one
 * `cella-runtime run-task --standby` started ahead per slot, handed one task
 * and never another. */
#ifndef CELLA_WORKER_STANDBY_H
#define CELLA_WORKER_STANDBY_H

#include <stdbool.h>

#include "core/child.h"
#include "core/error.h"

typedef struct {
    cella_child child; /* pid -1: none */
    int fd;            /* the worker's end of its stdin, -1: none */
} cella_standby;

#define CELLA_STANDBY_NONE ((cella_standby){{-1, -1}, -1})

/* Starts `exe run-task --standby` with stdin one end of a socket pair (the
 * runtime's stdout and stderr go to log_fd until it gets its task). */
CELLA_RESULT cella_standby_start(const char *exe, int log_fd, cella_standby *sb);

/* Hands the standby its task (the enclave's log file and the arguments of
 * `run-task`) and gives up the process: *child is the enclave to wait for,
 * and *sb is empty again, whatever happens, so no second task can ever be
 * handed to the same process. Fails when the standby is gone (then nothing
 * runs: the caller starts an enclave the classic way). */
CELLA_RESULT cella_standby_hand(cella_standby *sb, const char *log_path, const char *const *args,
                                cella_child *child);

/* Stops an unused standby: the end of its stdin, which it takes as "no task"
 * and exits; then waits for it. */
void cella_standby_stop(cella_standby *sb);

#endif
