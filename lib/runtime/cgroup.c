#include "runtime/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static bool put(const char *dir, const char *file, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

static bool get(const char *dir, const char *file, char *out, size_t cap)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return n >= 0;
}

static bool has_word(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

/* memory and pids enabled for the children of `dir`, enabling them if needed
 * (refused by the kernel when `dir` holds processes and is not the root). */
static bool delegate(const char *dir)
{
    char t[512];
    if (get(dir, "cgroup.subtree_control", t, sizeof t) && has_word(t, "memory") &&
        has_word(t, "pids"))
        return true;
    return put(dir, "cgroup.subtree_control", "+memory +pids");
}

static bool fail(char *why, size_t cap, const char *what)
{
    if (why && cap)
        snprintf(why, cap, "%s", what);
    return false;
}

bool cella_cgroup_create(cella_cgroup *cg, uint64_t mem_bytes, uint32_t max_pids, char *why,
                         size_t cap)
{
    static unsigned seq;
    memset(cg, 0, sizeof *cg);
    cg->procs_fd = -1;
    struct statfs sf;
    if (geteuid() != 0)
        return fail(why, cap, "not root");
    if (statfs(CELLA_CGROUP_ROOT, &sf) != 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
        return fail(why, cap, CELLA_CGROUP_ROOT " is not a cgroup2 mount");
    char t[512];
    if (!get(CELLA_CGROUP_ROOT, "cgroup.controllers", t, sizeof t) || !has_word(t, "memory") ||
        !has_word(t, "pids"))
        return fail(why, cap, "the memory and pids controllers are not available");
    if (!delegate(CELLA_CGROUP_ROOT))
        return fail(why, cap, "cannot enable memory and pids below " CELLA_CGROUP_ROOT);
    if (mkdir(CELLA_CGROUP_PARENT, 0755) != 0 && errno != EEXIST)
        return fail(why, cap, "cannot create " CELLA_CGROUP_PARENT);
    if (!delegate(CELLA_CGROUP_PARENT))
        return fail(why, cap, "cannot enable memory and pids below " CELLA_CGROUP_PARENT);
    snprintf(cg->path, sizeof cg->path, "%s/app-%ld-%u-%ld", CELLA_CGROUP_PARENT, (long)getpid(),
             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), (long)time(NULL));
    if (mkdir(cg->path, 0755) != 0) {
        cg->path[0] = '\0';
        return fail(why, cap, "cannot create the app's cgroup");
    }
    char v[32];
    bool ok = true;
    if (mem_bytes) {
        snprintf(v, sizeof v, "%" PRIu64, mem_bytes);
        ok = put(cg->path, "memory.max", v);
        /* No swap to escape into; absent without swap accounting, which is fine. */
        if (ok && !put(cg->path, "memory.swap.max", "0") && errno != ENOENT)
            ok = false;
    }
    if (ok && max_pids) {
        snprintf(v, sizeof v, "%" PRIu32, max_pids);
        ok = put(cg->path, "pids.max", v);
    }
    snprintf(t, sizeof t, "%s/cgroup.procs", cg->path);
    if (ok)
        ok = (cg->procs_fd = open(t, O_WRONLY | O_CLOEXEC)) >= 0;
    if (!ok) {
        cella_cgroup_destroy(cg);
        return fail(why, cap, "cannot set the app cgroup's limits");
    }
    return true;
}

bool cella_cgroup_enter(const cella_cgroup *cg)
{
    return cg->procs_fd >= 0 && write(cg->procs_fd, "0", 1) == 1;
}

uint64_t cella_cgroup_oom_kills(const cella_cgroup *cg)
{
    char t[1024];
    if (!cg->path[0] || !get(cg->path, "memory.events", t, sizeof t))
        return 0;
    const char *p = strstr(t, "oom_kill ");
    return p ? strtoull(p + 9, NULL, 10) : 0;
}

void cella_cgroup_destroy(cella_cgroup *cg)
{
    if (cg->procs_fd >= 0)
        close(cg->procs_fd);
    cg->procs_fd = -1;
    if (!cg->path[0])
        return;
    /* cgroup.kill (Linux 5.14) ends every process left, then the leaf can go. */
    put(cg->path, "cgroup.kill", "1");
    for (int i = 0; i < 200 && rmdir(cg->path) != 0 && errno == EBUSY; i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cg->path[0] = '\0';
}
