#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
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

static bool put_u64(const char *dir, const char *file, uint64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%" PRIu64, v);
    return put(dir, file, t);
}

static int open_procs(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    return open(p, O_WRONLY | O_CLOEXEC);
}

/* Removes the empty leaves `prefix<pid>-…` under `dir` whose runtime died
 * before it could remove them (killed mid-run): a leaf's name holds the pid
 * of the process that made it, and rmdir refuses a leaf that holds tasks. */
static void sweep(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t n = strlen(prefix);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long pid = strncmp(e->d_name, prefix, n) == 0 ? strtol(e->d_name + n, &end, 10) : 0;
        if (pid <= 0 || *end != '-' || pid == (long)getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[512];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
            rmdir(p);
    }
    closedir(d);
}

static bool create_v2(cella_cgroup *cg, uint64_t mem_bytes, uint32_t max_pids, char *why,
                      size_t cap)
{
    static unsigned seq;
    struct statfs sf;
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
    sweep(CELLA_CGROUP_PARENT, "app-");
    snprintf(cg->path, sizeof cg->path, "%s/app-%ld-%u-%ld", CELLA_CGROUP_PARENT, (long)getpid(),
             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED), (long)time(NULL));
    if (mkdir(cg->path, 0755) != 0) {
        cg->path[0] = '\0';
        return fail(why, cap, "cannot create the app's cgroup");
    }
    bool ok = true;
    if (mem_bytes) {
        ok = put_u64(cg->path, "memory.max", mem_bytes);
        /* No swap to escape into; absent without swap accounting, which is fine. */
        if (ok && !put(cg->path, "memory.swap.max", "0") && errno != ENOENT)
            ok = false;
    }
    if (ok && max_pids)
        ok = put_u64(cg->path, "pids.max", max_pids);
    if (ok)
        ok = (cg->procs_fd = open_procs(cg->path)) >= 0;
    if (!ok) {
        cella_cgroup_destroy(cg);
        return fail(why, cap, "cannot set the app cgroup's limits");
    }
    cg->oom_counted = true;
    return true;
}

/* `ctl` is one of the comma-separated words of `list` (up to `end`). */
static bool in_list(const char *list, const char *end, const char *ctl)
{
    size_t n = strlen(ctl);
    for (const char *p = list; p < end;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        if (!c)
            c = end;
        if ((size_t)(c - p) == n && memcmp(p, ctl, n) == 0)
            return true;
        p = c + 1;
    }
    return false;
}

/* Where the v1 hierarchy of a controller is, and this process's place in it. */
typedef struct {
    const char *ctl;
    char mnt[256];  /* where it is mounted */
    char root[256]; /* which of its cgroups is mounted there */
    char own[256];  /* this process's cgroup in it */
} v1_where;

/* Calls `fn` on each line of `file` until it returns true. */
static bool scan_lines(const char *file, bool (*fn)(char *line, v1_where *w), v1_where *w)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return false;
    char *line = NULL;
    size_t lcap = 0;
    bool found = false;
    while (!found && getline(&line, &lcap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        found = fn(line, w);
    }
    free(line);
    fclose(f);
    return found;
}

/* A /proc/self/mountinfo line:
 * "id parent dev root mountpoint opts [optional...] - fstype source superopts". */
static bool mount_line(char *line, v1_where *w)
{
    char *sep = strstr(line, " - ");
    if (!sep)
        return false;
    *sep = '\0';
    char fstype[16], superopts[256];
    return sscanf(sep + 3, "%15s %*s %255s", fstype, superopts) == 2 &&
           strcmp(fstype, "cgroup") == 0 &&
           in_list(superopts, superopts + strlen(superopts), w->ctl) &&
           sscanf(line, "%*s %*s %*s %255s %255s", w->root, w->mnt) == 2 &&
           !strchr(w->mnt, '\\') && !strchr(w->root, '\\'); /* octal escapes: not ours */
}

/* A /proc/self/cgroup line: "id:controllers:path". */
static bool own_line(char *line, v1_where *w)
{
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    return b && in_list(a + 1, b, w->ctl) &&
           (size_t)snprintf(w->own, sizeof w->own, "%s", b + 1) < sizeof w->own;
}

/* Makes the leaf `name` under this process's cgroup of the v1 `ctl` hierarchy. */
static bool v1_leaf(const char *ctl, const char *name, char *out, size_t cap)
{
    v1_where w = {.ctl = ctl};
    if (!scan_lines("/proc/self/mountinfo", mount_line, &w) ||
        !scan_lines("/proc/self/cgroup", own_line, &w))
        return false;
    size_t rl = strcmp(w.root, "/") == 0 ? 0 : strlen(w.root);
    if (strncmp(w.own, w.root, rl) != 0 || (w.own[rl] != '/' && w.own[rl] != '\0'))
        return false; /* our cgroup is not below what is mounted */
    const char *rel = w.own + rl;
    if (strcmp(rel, "/") == 0)
        rel = "";
    if ((size_t)snprintf(out, cap, "%s%s", w.mnt, rel) >= cap)
        return false;
    sweep(out, "cella-");
    if ((size_t)snprintf(out, cap, "%s%s/%s", w.mnt, rel, name) >= cap || mkdir(out, 0755) != 0) {
        out[0] = '\0';
        return false;
    }
    return true;
}

static bool create_v1(cella_cgroup *cg, uint64_t mem_bytes, uint32_t max_pids, char *why,
                      size_t cap)
{
    static unsigned seq;
    char name[64], t[256];
    snprintf(name, sizeof name, "cella-%ld-%u", (long)getpid(),
             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    cg->v1 = true;
    if (!v1_leaf("memory", name, cg->path, sizeof cg->path))
        return fail(why, cap, "cannot create a leaf in the v1 memory hierarchy");
    bool ok = true;
    if (mem_bytes) {
        ok = put_u64(cg->path, "memory.limit_in_bytes", mem_bytes);
        /* memory plus swap: no swap beyond the limit; absent without swap
         * accounting, which is fine. After limit_in_bytes: it may not be lower. */
        if (ok && !put_u64(cg->path, "memory.memsw.limit_in_bytes", mem_bytes) && errno != ENOENT)
            ok = false;
    }
    /* Without a pids hierarchy there is no process limit for root either way
     * (RLIMIT_NPROC exempts it), so the memory limit alone is still worth it. */
    if (ok && max_pids && v1_leaf("pids", name, cg->pids_path, sizeof cg->pids_path))
        ok = put_u64(cg->pids_path, "pids.max", max_pids) &&
             (cg->pids_procs_fd = open_procs(cg->pids_path)) >= 0;
    if (ok)
        ok = (cg->procs_fd = open_procs(cg->path)) >= 0;
    cg->oom_counted = get(cg->path, "memory.oom_control", t, sizeof t) && strstr(t, "oom_kill ");
    if (!ok) {
        cella_cgroup_destroy(cg);
        return fail(why, cap, "cannot set the app's v1 cgroup limits");
    }
    return true;
}

bool cella_cgroup_create(cella_cgroup *cg, uint64_t mem_bytes, uint32_t max_pids, char *why,
                         size_t cap)
{
    memset(cg, 0, sizeof *cg);
    cg->procs_fd = cg->pids_procs_fd = -1;
    if (geteuid() != 0)
        return fail(why, cap, "not root");
    char v2[200], v1[200];
    if (create_v2(cg, mem_bytes, max_pids, v2, sizeof v2))
        return true;
    if (create_v1(cg, mem_bytes, max_pids, v1, sizeof v1))
        return true;
    if (why && cap)
        snprintf(why, cap, "cgroup v2: %s; v1: %s", v2, v1);
    return false;
}

bool cella_cgroup_enter(const cella_cgroup *cg)
{
    return cg->procs_fd >= 0 && write(cg->procs_fd, "0", 1) == 1 &&
           (!cg->pids_path[0] || (cg->pids_procs_fd >= 0 && write(cg->pids_procs_fd, "0", 1) == 1));
}

static uint64_t count_after(const char *dir, const char *file, const char *key)
{
    char t[1024];
    if (!get(dir, file, t, sizeof t))
        return 0;
    const char *p = strstr(t, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

uint64_t cella_cgroup_oom_kills(const cella_cgroup *cg)
{
    if (!cg->path[0])
        return 0;
    if (!cg->v1)
        return count_after(cg->path, "memory.events", "oom_kill ");
    if (cg->oom_counted)
        return count_after(cg->path, "memory.oom_control", "oom_kill ");
    return count_after(cg->path, "memory.failcnt", "");
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* v1 has no cgroup.kill: SIGKILL whatever cgroup.procs lists until the leaf
 * can go (bounded: a process that cannot die leaves the leaf behind). */
static void v1_remove(char *dir)
{
    if (!dir[0])
        return;
    for (int i = 0; i < 200 && rmdir(dir) != 0 && errno == EBUSY; i++) {
        char t[4096];
        if (get(dir, "cgroup.procs", t, sizeof t))
            for (char *p = t, *e; *p; p = e) {
                long pid = strtol(p, &e, 10);
                if (e == p)
                    break;
                if (pid > 0)
                    kill((pid_t)pid, SIGKILL);
            }
        pause_briefly();
    }
    dir[0] = '\0';
}

void cella_cgroup_destroy(cella_cgroup *cg)
{
    if (cg->procs_fd >= 0)
        close(cg->procs_fd);
    if (cg->pids_procs_fd >= 0)
        close(cg->pids_procs_fd);
    cg->procs_fd = cg->pids_procs_fd = -1;
    if (cg->v1) {
        v1_remove(cg->path);
        v1_remove(cg->pids_path);
        return;
    }
    if (!cg->path[0])
        return;
    /* cgroup.kill (Linux 5.14) ends every process left, then the leaf can go. */
    put(cg->path, "cgroup.kill", "1");
    for (int i = 0; i < 200 && rmdir(cg->path) != 0 && errno == EBUSY; i++)
        pause_briefly();
    cg->path[0] = '\0';
}
