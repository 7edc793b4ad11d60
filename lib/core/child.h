/* Waiting for a child process with a time limit: woken by its end itself
 * (a pidfd), so the caller goes on the moment it exits instead of at the
 * next tick of a polling loop; where the kernel has no pidfd_open (or under
 * valgrind), by looking every millisecond. Used for the worker's enclaves
 * (worker/spawn.h) and the runtime's sandboxes (runtime/sandbox.c). */
#ifndef CELLA_CORE_CHILD_H
#define CELLA_CORE_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int pidfd; /* -1 when the kernel has no pidfd_open (then: short waits) */
} cella_child;

/* The child pid, not yet reaped (so the pid cannot name another process),
 * with its pidfd. */
cella_child cella_child_watch(pid_t pid);

/* Waits at most timeout_ms (-1: without limit) for the child to end: true
 * when it has (its wait status in *status, -1 if it could not be waited
 * for; the pidfd closed), false when the time ran out or a signal came. */
bool cella_child_wait(cella_child *c, int timeout_ms, int *status);

#endif
