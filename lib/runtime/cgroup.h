/* A cgroup v2 of its own for one sandboxed app: memory.max (and
 * memory.swap.max = 0) so the app's whole process tree cannot use more memory
 * than its manifest's heap_mb, pids.max so it cannot fork without bound, and
 * memory.events' oom_kill to tell a memory kill from any other death.
 *
 * Only where this process can make one: root, cgroup2 mounted at
 * /sys/fs/cgroup, and the memory and pids controllers delegable to
 * /sys/fs/cgroup/cella (created if missing; each app gets a leaf under it).
 * Elsewhere cella_cgroup_create says why not and the sandbox falls back to
 * rlimits (sandbox.c). */
#ifndef CELLA_RUNTIME_CGROUP_H
#define CELLA_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CELLA_CGROUP_ROOT "/sys/fs/cgroup"
#define CELLA_CGROUP_PARENT CELLA_CGROUP_ROOT "/cella"

typedef struct {
    char path[256]; /* the leaf, empty when none */
    int procs_fd;   /* its cgroup.procs, open for the child to join */
} cella_cgroup;

/* Makes the leaf with its limits (0: no limit of that kind). False, with the
 * reason in `why`, when cgroup v2 cannot be used here; nothing is left then. */
bool cella_cgroup_create(cella_cgroup *cg, uint64_t mem_bytes, uint32_t max_pids, char *why,
                         size_t cap);

/* In the forked child, before exec: moves the calling process into the leaf. */
bool cella_cgroup_enter(const cella_cgroup *cg);

/* How many times the kernel's OOM killer killed a process of the leaf. */
uint64_t cella_cgroup_oom_kills(const cella_cgroup *cg);

/* Kills whatever is left in the leaf and removes it. */
void cella_cgroup_destroy(cella_cgroup *cg);

#endif
