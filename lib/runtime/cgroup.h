/* A cgroup of its own for one sandboxed app, so that its whole process tree
 * cannot use more memory than its manifest's heap_mb (no swap beyond it) nor
 * fork without bound, and so that a memory kill can be told from any other
 * death. Only where this process can make one (root); tried in this order:
 *
 *  - cgroup v2 at /sys/fs/cgroup, memory and pids delegable to
 *    /sys/fs/cgroup/cella (created if missing; each app gets a leaf under it):
 *    memory.max, memory.swap.max = 0, pids.max; memory.events' oom_kill.
 *  - else cgroup v1: a leaf under this process's own cgroup
 *    of the memory hierarchy (found in /proc/self/cgroup and mountinfo):
 *    memory.limit_in_bytes and memory.memsw.limit_in_bytes (when swap is
 *    accounted) = the limit; memory.oom_control's oom_kill (kernels before
 *    4.13: memory.failcnt with a SIGKILL death). In the pids hierarchy, when
 *    mounted, a leaf of the same name with pids.max.
 *
 * A leaf is named cella-<pid namespace inode>-<pid>-<n>. A runtime killed
 * mid-run cannot remove its leaf: the next one to make a leaf there removes
 * the empty leaves of its own pid namespace whose pid is gone.
 *
 * Elsewhere cella_cgroup_create says why not and the sandbox falls back to
 * rlimits (sandbox.c), which cannot say that an exit was the memory limit. */
#ifndef CELLA_RUNTIME_CGROUP_H
#define CELLA_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CELLA_CGROUP_ROOT "/sys/fs/cgroup"
#define CELLA_CGROUP_PARENT CELLA_CGROUP_ROOT "/cella"

typedef struct {
    char path[256];      /* the leaf (v1: of the memory hierarchy), empty when none */
    char pids_path[256]; /* v1: the leaf of the pids hierarchy, empty when none */
    int procs_fd;        /* path's cgroup.procs, open for the child to join */
    int pids_procs_fd;   /* v1: pids_path's cgroup.procs */
    bool v1;
    bool oom_counted; /* the kernel counts OOM kills (else: times the limit was hit) */
} cella_cgroup;

#define CELLA_CGROUP_NONE {.procs_fd = -1, .pids_procs_fd = -1}

/* Makes the leaf with its limits (0: no limit of that kind). False, with the
 * reason in `why`, when no cgroup can be used here; nothing is left then. */
bool cella_cgroup_create(cella_cgroup *cg, uint64_t mem_bytes, uint32_t max_pids, char *why,
                         size_t cap);

/* In the forked child, before exec: moves the calling process into the leaf
 * (v1: both leaves). */
bool cella_cgroup_enter(const cella_cgroup *cg);

/* How many times the kernel's OOM killer killed a process of the leaf; when
 * !oom_counted, how many times an allocation hit the limit (a memory kill
 * then needs a SIGKILL death too). */
uint64_t cella_cgroup_oom_kills(const cella_cgroup *cg);

/* Kills whatever is left in the leaf (leaves) and removes it. */
void cella_cgroup_destroy(cella_cgroup *cg);

#endif
