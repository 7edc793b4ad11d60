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

/* `word` is one of the `sep`-separated words of `list` (up to `end`). */
static bool in_list(const char *list, const char *end, char sep, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p < end;) {
        const char *c = memchr(p, sep, (size_t)(end - p));
        if (!c)
            c = end;
        if ((size_t)(c - p) == n && memcmp(p, word, n) == 0)
            return true;
        p = c + 1;
    }
    return false;
}

/* The memory and pids controllers are in the space-separated line `t`. */
static bool memory_and_pids(const char *t)
{
    const char *end = t + strcspn(t, "\n");
    return in_list(t, end, ' ', "memory") && in_list(t, end, ' ', "pids");
}

/* memory and pids enabled for the children of `dir`, enabling them if needed
 * (refused by the kernel when `dir` holds processes and is not the root). */
static bool delegate(const char *dir)
{
    char t[512];
    if (get(dir, "cgroup.subtree_control", t, sizeof t) && memory_and_pids(t))
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

/* A leaf's name, "cella-<pid namespace>-<pid>-<n>": the namespace (the inode
 * of /proc/self/ns/pid) says in which namespace the pid means a process, so a
 * sweep only judges the leaves of its own (a runtime in a container that
 * shares the hierarchy has other pids); <n> counts this process's leaves. */
static bool leaf_name(char *out, size_t cap, unsigned long *ns)
{
    static unsigned seq;
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) != 0)
        return false;
    *ns = (unsigned long)st.st_ino;
    snprintf(out, cap, "cella-%lu-%ld-%u", *ns, (long)getpid(),
             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    return true;
}

/* Removes the empty leaves under `dir` that a runtime of pid namespace `ns`
 * left when it died before it could (killed mid-run): their pid is gone.
 * rmdir refuses a leaf that holds tasks; this process's own leaves are
 * skipped (another thread's may not be joined yet). */
static void sweep(const char *dir, unsigned long ns)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        unsigned long lns;
        long pid;
        int end = 0;
        if (sscanf(e->d_name, "cella-%lu-%ld-%*u%n", &lns, &pid, &end) != 2 || !end ||
            e->d_name[end] || lns != ns || pid <= 0 || pid == (long)getpid() ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[512];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
            rmdir(p);
    }
    closedir(d);
}

/* Makes the leaf `dir`/`name` (its path in `out`). One that exists already
 * is a dead process's: the name holds this pid and this process never makes
 * a name twice, so the pid was reused; it goes first when empty. */
static bool make_leaf(const char *dir, const char *name, unsigned long ns, char *out, size_t cap)
{
    sweep(dir, ns);
    if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap ||
        (mkdir(out, 0755) != 0 && (errno != EEXIST || rmdir(out) != 0 || mkdir(out, 0755) != 0))) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* The memory limit, with no swap to escape into: v2 counts swap apart
 * (memory.swap.max 0), v1 memory plus swap (memsw, set after limit_in_bytes:
 * it may not be lower). Either swap file is absent without swap accounting,
 * which is fine. */
static bool limit_memory(const char *leaf, bool v1, uint64_t bytes)
{
    return put_u64(leaf, v1 ? "memory.limit_in_bytes" : "memory.max", bytes) &&
           (put_u64(leaf, v1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max", v1 ? bytes : 0) ||
            errno == ENOENT);
}

static bool create_v2(cella_cgroup *cg, const char *name, unsigned long ns, uint64_t mem_bytes,
                      uint32_t max_pids, char *why, size_t cap)
{
    struct statfs sf;
    if (statfs(CELLA_CGROUP_ROOT, &sf) != 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
        return fail(why, cap, CELLA_CGROUP_ROOT " is not a cgroup2 mount");
    char t[512];
    if (!get(CELLA_CGROUP_ROOT, "cgroup.controllers", t, sizeof t) || !memory_and_pids(t))
        return fail(why, cap, "the memory and pids controllers are not available");
    if (!delegate(CELLA_CGROUP_ROOT))
        return fail(why, cap, "cannot enable memory and pids below " CELLA_CGROUP_ROOT);
    if (mkdir(CELLA_CGROUP_PARENT, 0755) != 0 && errno != EEXIST)
        return fail(why, cap, "cannot create " CELLA_CGROUP_PARENT);
    if (!delegate(CELLA_CGROUP_PARENT))
        return fail(why, cap, "cannot enable memory and pids below " CELLA_CGROUP_PARENT);
    if (!make_leaf(CELLA_CGROUP_PARENT, name, ns, cg->path, sizeof cg->path))
        return fail(why, cap, "cannot create the app's cgroup");
    bool ok = (!mem_bytes || limit_memory(cg->path, false, mem_bytes)) &&
              (!max_pids || put_u64(cg->path, "pids.max", max_pids)) &&
              (cg->procs_fd = open_procs(cg->path)) >= 0;
    if (!ok) {
        cella_cgroup_destroy(cg);
        return fail(why, cap, "cannot set the app cgroup's limits");
    }
    cg->oom_counted = true;
    return true;
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
           in_list(superopts, superopts + strlen(superopts), ',', w->ctl) &&
           sscanf(line, "%*s %*s %*s %255s %255s", w->root, w->mnt) == 2 &&
           !strchr(w->mnt, '\\') && !strchr(w->root, '\\'); /* octal escapes: not ours */
}

/* A /proc/self/cgroup line: "id:controllers:path". */
static bool own_line(char *line, v1_where *w)
{
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    return b && in_list(a + 1, b, ',', w->ctl) &&
           (size_t)snprintf(w->own, sizeof w->own, "%s", b + 1) < sizeof w->own;
}

/* Makes the leaf `name` under this process's cgroup of the v1 `ctl` hierarchy. */
static bool v1_leaf(const char *ctl, const char *name, unsigned long ns, char *out, size_t cap)
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
    char dir[512];
    return (size_t)snprintf(dir, sizeof dir, "%s%s", w.mnt, rel) < sizeof dir &&
           make_leaf(dir, name, ns, out, cap);
}

static bool create_v1(cella_cgroup *cg, const char *name, unsigned long ns, uint64_t mem_bytes,
                      uint32_t max_pids, char *why, size_t cap)
{
    char t[256];
    cg->v1 = true;
    if (!v1_leaf("memory", name, ns, cg->path, sizeof cg->path))
        return fail(why, cap, "cannot create a leaf in the v1 memory hierarchy");
    bool ok = (!mem_bytes || limit_memory(cg->path, true, mem_bytes)) &&
              (cg->procs_fd = open_procs(cg->path)) >= 0;
    /* Without a pids hierarchy there is no process limit for root either way
     * (RLIMIT_NPROC exempts it), so the memory limit alone is still worth it. */
    if (ok && max_pids && v1_leaf("pids", name, ns, cg->pids_path, sizeof cg->pids_path))
        ok = put_u64(cg->pids_path, "pids.max", max_pids) &&
             (cg->pids_procs_fd = open_procs(cg->pids_path)) >= 0;
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
    char name[80], v2[200], v1[200];
    unsigned long ns;
    if (!leaf_name(name, sizeof name, &ns))
        return fail(why, cap, "no /proc/self/ns/pid: the leaves' pids could not be judged");
    if (create_v2(cg, name, ns, mem_bytes, max_pids, v2, sizeof v2))
        return true;
    if (create_v1(cg, name, ns, mem_bytes, max_pids, v1, sizeof v1))
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

/* The i-th pause of a retry: 0.1 ms doubling up to 5 ms. What is left of
 * an app is most often gone within a fraction of a millisecond. */
static void pause_briefly(int i)
{
    long ns = i < 6 ? 100000L << i : 5000000L;
    struct timespec ts = {0, ns > 5000000L ? 5000000L : ns};
    nanosleep(&ts, NULL);
}

/* Ends whatever is left in the leaf and removes it: cgroup.kill where the
 * kernel has one (v2, Linux 5.14), and SIGKILL to what cgroup.procs lists
 * until the leaf can go (bounded: a process that cannot die leaves the leaf
 * behind). */
static void remove_leaf(char *dir)
{
    if (!dir[0])
        return;
    put(dir, "cgroup.kill", "1");
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
        pause_briefly(i);
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
    remove_leaf(cg->path);
    remove_leaf(cg->pids_path);
}
