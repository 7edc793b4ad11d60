#include "runtime/manifest.h"

#include <stdlib.h>
#include <string.h>

void cella_manifest_limits(const cella_app_manifest *m, uint64_t cap_bytes,
                           cella_sandbox_spec *spec)
{
    uint64_t heap = (uint64_t)m->heap_mb << 20;
    spec->mem_bytes = cap_bytes && cap_bytes < heap ? cap_bytes : heap;
    spec->stack_bytes = (uint64_t)m->stack_kb << 10;
    spec->max_pids = CELLA_APP_MAX_PIDS;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool cella_manifest_env_lists(const cella_app_manifest *m, const char *name)
{
    /* m->env is sorted bytewise and unique (cella_app_manifest_parse) */
    return m->nenv && bsearch(&name, m->env, m->nenv, sizeof *m->env, cmp_name) != NULL;
}

cella_res cella_manifest_outcome(const cella_app_manifest *m, const cella_sandbox_spec *spec,
                                 const cella_sandbox_result *sr)
{
    if (sr->timed_out)
        return cella_fail(CELLA_E_POLICY, "app",
                          "time limit of %u s exceeded: the app was killed", spec->wall_seconds);
    if (sr->oom_killed)
        return cella_fail(CELLA_E_POLICY, "app",
                          "memory limit heap_mb=%u exceeded: the app was killed (cgroup memory "
                          "limit of %llu bytes)", m->heap_mb, (unsigned long long)spec->mem_bytes);
    if (sr->exit_code == 0)
        return CELLA_OK_RES;
    if (!sr->cgroup && spec->mem_bytes) /* rlimits cannot tell a failed allocation apart */
        return cella_fail(CELLA_E_POLICY, "app",
                          "the app exited with status %d (under its memory limit heap_mb=%u, an "
                          "address-space rlimit of %llu bytes: an allocation past it fails)",
                          sr->exit_code, m->heap_mb, (unsigned long long)spec->mem_bytes);
    return cella_fail(CELLA_E_POLICY, "app", "the app exited with status %d", sr->exit_code);
}
