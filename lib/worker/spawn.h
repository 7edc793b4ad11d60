/* The worker's enclave process: started without copying the worker's
 * address space (vfork), and waited for by a pidfd (core/child.h), so the worker learns of its end
 * at once instead of at the next tick of a polling loop (issue 18: the
 * 20 ms `waitpid(WNOHANG)` loop cost 10 ms per task on average, and fork()
 * of the threaded worker copied its page tables for every task). */
#ifndef CELLA_WORKER_SPAWN_H
#define CELLA_WORKER_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/child.h"
#include "core/error.h"

/* Starts argv[0] with argv: stdin /dev/null, stdout and stderr to log_fd,
 * no signal blocked, SIGINT ignored: a terminal's Ctrl-C reaches the
 * worker's whole foreground group, and the worker then finishes its current
 * tasks, so their enclaves must not die of it. It stays in the worker's
 * process group: killing that group (a supervisor, `kill -9 -PGID`) stops
 * the enclaves with the worker. */
CELLA_RESULT cella_child_spawn(const char *const *argv, int log_fd, const char *where,
                               cella_child *c);

/* The same with stdin from `in` (the caller keeps and closes its own copy). */
CELLA_RESULT cella_child_spawn_in(const char *const *argv, int in, int log_fd, const char *where,
                                  cella_child *c);

/* User and system CPU time, in ms, of this process (children false) or of
 * its children it waited for (true: the enclaves, with their sandboxes and
 * apps): the profile of a worker's run. */
double cella_cpu_ms(bool children);

#endif
