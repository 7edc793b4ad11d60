#include "runtime/sandbox.h"

#include "app/app.h"
#include "core/child.h"
#include "core/log.h"
#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BWRAP CELLA_BWRAP
#define MAX_ARGS 4096

/* System directories the app may see, read-only. Host data (/home, /root,
 * /work, /srv, /var, /tmp, ...) is never bound. */
static const char *const SYSTEM_DIRS[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32",
                                          "/etc/alternatives", "/etc/ld.so.cache",
                                          "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                                          "/etc/localtime", "/etc/ssl/certs"};

bool cella_sandbox_check(char *why, size_t cap)
{
    if (why && cap)
        why[0] = '\0';
    if (access(BWRAP, X_OK) != 0) {
        if (why && cap)
            snprintf(why, cap, "%s is not installed", BWRAP);
        return false;
    }
    int err[2];
    if (pipe2(err, O_CLOEXEC) != 0)
        return false;
    pid_t p = fork();
    if (p == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(err[1], 2);
        execl(BWRAP, "bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
              "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--unshare-all",
              "--die-with-parent", "/usr/bin/true", (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    /* bwrap's complaint, for the caller to show: its first line is the reason */
    char text[512];
    size_t n = 0;
    while (p > 0 && n < sizeof text - 1) {
        ssize_t got = read(err[0], text + n, sizeof text - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(err[0]);
    text[n] = '\0';
    text[strcspn(text, "\n")] = '\0';
    int st;
    bool ok = p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && why && cap)
        snprintf(why, cap, "%s", text[0] ? text : "bubblewrap did not run /usr/bin/true");
    return ok;
}

bool cella_sandbox_available(void) { return cella_sandbox_check(NULL, 0); }

typedef struct {
    const char *v[MAX_ARGS];
    int n;
    bool overflow;
    char *own[MAX_ARGS]; /* strings made here (link targets, paths), freed with the vector */
    int nown;
} argvec;

static void add(argvec *a, const char *s)
{
    if (a->n >= MAX_ARGS - 1) {
        a->overflow = true;
        return;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

/* Adds a string of its own (malloc'd, or NULL when out of memory). */
static void add_own(argvec *a, char *s)
{
    if (!s || a->nown >= MAX_ARGS) {
        free(s);
        a->overflow = true;
        return;
    }
    a->own[a->nown++] = s;
    add(a, s);
}

static void argvec_free(argvec *a)
{
    for (int i = 0; i < a->nown; i++)
        free(a->own[i]);
    free(a);
}

static void add_u32(argvec *a, uint32_t v)
{
    char *t = malloc(12);
    if (t)
        snprintf(t, 12, "%" PRIu32, v);
    add_own(a, t);
}

/* A symbolic link recreated in the sandbox, its target verbatim. */
static void add_symlink(argvec *a, int dirfd, const char *name, const char *dest)
{
    char t[4096];
    ssize_t n = readlinkat(dirfd, name, t, sizeof t - 1);
    if (n <= 0)
        return;
    t[n] = '\0';
    add(a, "--symlink");
    add_own(a, strdup(t));
    add_own(a, strdup(dest));
}

/* The host's system directories (a directory bundle's root). */
static void system_dirs(argvec *a)
{
    for (size_t i = 0; i < sizeof SYSTEM_DIRS / sizeof *SYSTEM_DIRS; i++) {
        struct stat st;
        if (lstat(SYSTEM_DIRS[i], &st) != 0)
            continue;
        /* /lib, /bin ... are symlinks into /usr on merged-/usr systems. */
        if (S_ISLNK(st.st_mode)) {
            add_symlink(a, AT_FDCWD, SYSTEM_DIRS[i], SYSTEM_DIRS[i]);
        } else {
            add(a, "--ro-bind");
            add(a, SYSTEM_DIRS[i]);
            add(a, SYSTEM_DIRS[i]);
        }
    }
}

/* `p` lies strictly beneath the sandbox directory `dir` ("/" for the root). */
static bool beneath(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1)
        return p[1] != '\0';
    return !strncmp(p, dir, n) && p[n] == '/';
}

/* An image's root filesystem as the sandbox's /. bwrap (0.8 here: no overlay)
 * builds the new root on a tmpfs of its own. Binding rootfs itself at / would
 * leave no way to make the mount points the image lacks (/proc, /iexec_in, a
 * volume's path): bwrap makes them with mkdir, which fails on a read-only bind
 * (and on a writable one would write into the measured bundle). So the tmpfs
 * root stays, each entry of rootfs/ is bound onto it read-only (directories
 * and files) or recreated (symbolic links, target verbatim: resolved inside
 * only, never on the host); a directory of the image that holds a mount point
 * is made on the tmpfs instead and its entries are bound the same way, one
 * level down; an entry that is itself a mount point is left to its mount. The
 * tmpfs root is remounted read-only once every mount is in place (build_args).
 * `dir` is the sandbox path ("/" first), `mp` the mount points. */
static cella_res bind_tree(argvec *a, const char *rootfs, const char *dir, const char *const *mp,
                           size_t nmp)
{
    char host[4200];
    CELLA_ENSURE((size_t)snprintf(host, sizeof host, "%s%s", rootfs, dir) < sizeof host,
                 CELLA_E_TOOBIG, dir, "image path too long");
    int fd = open(host, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, dir, "cannot open the image's directory: %s", strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, dir, "cannot read the image's directory: %s", strerror(errno));
    }
    cella_res r = CELLA_OK_RES;
    struct dirent *e;
    while (cella_ok(r) && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char in[4200];
        if ((size_t)snprintf(in, sizeof in, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name) >=
            sizeof in) {
            r = cella_fail(CELLA_E_TOOBIG, dir, "image path too long");
            break;
        }
        bool is_mp = false, holds = false;
        for (size_t i = 0; i < nmp; i++) {
            is_mp |= !strcmp(mp[i], in);
            holds |= beneath(mp[i], in);
        }
        struct stat st;
        if (is_mp || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (holds) {
            /* a link would take the mount somewhere else than its path says */
            if (!S_ISDIR(st.st_mode)) {
                r = cella_fail(CELLA_E_PATH, in,
                               "a mount point lies beneath this symbolic link or file of the image");
                break;
            }
            add(a, "--dir");
            add_own(a, strdup(in));
            r = bind_tree(a, rootfs, in, mp, nmp);
        } else if (S_ISLNK(st.st_mode)) {
            add_symlink(a, dirfd(d), e->d_name, in);
        } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
            /* never a link here: bwrap would follow it on the host */
            add(a, "--ro-bind");
            char *src = malloc(strlen(rootfs) + strlen(in) + 1);
            if (src)
                sprintf(src, "%s%s", rootfs, in);
            add_own(a, src);
            add_own(a, strdup(in));
        } /* else: an image bundle holds no special files (lib/app refuses them) */
    }
    closedir(d);
    return r;
}

static cella_res image_root(const cella_sandbox_spec *s, argvec *a)
{
    CELLA_ENSURE(!s->app_dir, CELLA_E_USAGE, "sandbox", "an image app has no bundle at /app");
    struct stat st;
    CELLA_ENSURE(lstat(s->rootfs, &st) == 0 && S_ISDIR(st.st_mode), CELLA_E_NOTFOUND, s->rootfs,
                 "the image's root filesystem is not a directory");
    const char *mp[3 + 64] = {"/proc", "/dev", "/tmp"};
    size_t nmp = 3;
    CELLA_ENSURE(s->nbinds <= 64, CELLA_E_TOOBIG, "sandbox", "more than 64 volumes");
    for (size_t i = 0; i < s->nbinds; i++) {
        /* compared as strings with the image's paths: one spelling only */
        CELLA_TRY(cella_app_check_relpath(s->binds[i].dest + (s->binds[i].dest[0] == '/'),
                                          s->binds[i].dest));
        mp[nmp++] = s->binds[i].dest;
    }
    return bind_tree(a, s->rootfs, "/", mp, nmp);
}

static cella_res build_args(const cella_sandbox_spec *s, argvec *a)
{
    add(a, "bwrap");
    for (size_t i = 0; i < s->nbinds; i++) {
        const char *d = s->binds[i].dest;
        CELLA_ENSURE(d[0] == '/' && !strstr(d, "..") && strcmp(d, "/"), CELLA_E_PATH, d,
                     "volume mount path must be absolute, without '..'");
    }
    if (s->rootfs)
        CELLA_TRY(image_root(s, a));
    else
        system_dirs(a);
    add(a, "--proc");
    add(a, "/proc");
    add(a, "--dev");
    add(a, "/dev");
    add(a, "--tmpfs");
    add(a, "/tmp");
    if (s->app_dir) {
        add(a, "--ro-bind");
        add(a, s->app_dir);
        add(a, "/app");
    }
    for (size_t i = 0; i < s->nbinds; i++) {
        const cella_bind *b = &s->binds[i];
        add(a, b->writable ? "--bind" : "--ro-bind");
        add(a, b->source);
        add(a, b->dest);
    }
    if (s->rootfs) { /* every mount point is made: now nothing can write to / */
        add(a, "--remount-ro");
        add(a, "/");
    }
    /* No network, no IPC, no PIDs, no UTS or cgroup sharing with the host. */
    add(a, "--unshare-all");
    if (s->set_user) {
        /* a user namespace of its own maps uid:gid inside to this process's user */
        add(a, "--unshare-user");
        add(a, "--uid");
        add_u32(a, s->uid);
        add(a, "--gid");
        add_u32(a, s->gid);
    }
    add(a, "--die-with-parent");
    add(a, "--new-session");
    add(a, "--cap-drop");
    add(a, "ALL");
    add(a, "--hostname");
    add(a, "cella-enclave");
    add(a, "--chdir");
    add(a, s->cwd ? s->cwd : "/");
    add(a, "--");
    for (const char *const *p = s->argv; p && *p; p++)
        add(a, *p);
    CELLA_ENSURE(!a->overflow, CELLA_E_TOOBIG, "sandbox", "too many sandbox arguments");
    CELLA_ENSURE(s->argv && s->argv[0], CELLA_E_USAGE, "command", "no command to run");
    return CELLA_OK_RES;
}

/* The tasks (threads) the user `uid` runs, from /proc: what RLIMIT_NPROC counts. */
static unsigned long user_tasks(uid_t uid)
{
    unsigned long n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char p[64], line[256];
        snprintf(p, sizeof p, "/proc/%.20s/status", e->d_name);
        FILE *f = fopen(p, "re");
        unsigned long real = (unsigned long)-1, threads = 0;
        while (f && fgets(line, sizeof line, f)) {
            if (!strncmp(line, "Uid:", 4))
                real = strtoul(line + 4, NULL, 10);
            else if (!strncmp(line, "Threads:", 8))
                threads = strtoul(line + 8, NULL, 10);
        }
        if (f)
            fclose(f);
        if (real == (unsigned long)uid)
            n += threads;
    }
    if (d)
        closedir(d);
    return n;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cella_res cella_sandbox_run(const cella_sandbox_spec *s, cella_sandbox_result *out)
{
    memset(out, 0, sizeof *out);
    argvec *ap = calloc(1, sizeof *ap);
    CELLA_ENSURE(ap, CELLA_E_NOMEM, "sandbox", "out of memory");
    cella_res br = build_args(s, ap);
    if (!cella_ok(br)) {
        argvec_free(ap);
        return br;
    }
    /* ap->v points into ap->own: ap lives until the child has exec'd. */
    if (access(BWRAP, X_OK) != 0) {
        argvec_free(ap);
        return cella_fail(CELLA_E_UNSUPPORTED, BWRAP,
                          "bubblewrap is not installed (apt-get install bubblewrap)");
    }
    /* The memory and process limits: a cgroup of the app's own when this host
     * allows one, else rlimits in the child (cgroup.h says when). */
    cella_cgroup cg = CELLA_CGROUP_NONE;
    char why[200] = "";
    out->cgroup = (s->mem_bytes || s->max_pids) &&
                  cella_cgroup_create(&cg, s->mem_bytes, s->max_pids, why, sizeof why);
    if ((s->mem_bytes || s->max_pids) && !out->cgroup)
        cella_debug("app limits as rlimits, no cgroup: %s", why);
    int joined[2] = {-1, -1}; /* the child says here when it could not join its cgroup */
    if (out->cgroup && pipe2(joined, O_CLOEXEC) != 0) {
        cella_cgroup_destroy(&cg);
        argvec_free(ap);
        return cella_fail(CELLA_E_IO, "sandbox", "pipe failed: %s", strerror(errno));
    }
    /* RLIMIT_NPROC counts every task of the real user (root is exempt): the
     * app may have max_pids more than the user runs now. */
    rlim_t nproc = s->max_pids && !out->cgroup && getuid() != 0
                       ? (rlim_t)(user_tasks(getuid()) + s->max_pids)
                       : 0;
    /* The environment goes to execve as it is: the vfork child shares this
     * process's memory and must not touch its environ (nor malloc). */
    static const char *const no_env[] = {NULL};
    char *const *envp = (char *const *)(s->env ? s->env : no_env);
    /* vfork: no copy of this process's page tables (its libraries, the
     * shield's threads, locked buffers) for a child that only sets limits
     * and execs; this thread waits until the exec. */
    pid_t pid = vfork();
    if (pid < 0) {
        cella_cgroup_destroy(&cg);
        argvec_free(ap);
        return cella_fail(CELLA_E_IO, "sandbox", "fork failed: %s", strerror(errno));
    }
    if (pid == 0) {
        /* Child: own process group (so a timeout kills everything), limits,
         * exactly the session's environment, then exec bwrap. System calls
         * only (vfork). */
        setpgid(0, 0);
        if (s->stdout_fd >= 0)
            dup2(s->stdout_fd, 1);
        if (s->stderr_fd >= 0)
            dup2(s->stderr_fd, 2);
        if (out->cgroup && !cella_cgroup_enter(&cg)) {
            (void)!write(joined[1], "x", 1);
            _exit(127);
        }
        if (s->mem_bytes && !out->cgroup) {
            struct rlimit rl = {s->mem_bytes, s->mem_bytes};
            setrlimit(RLIMIT_AS, &rl);
        }
        if (nproc) {
            struct rlimit rl = {nproc, nproc};
            setrlimit(RLIMIT_NPROC, &rl);
        }
        if (s->stack_bytes) {
            struct rlimit rl = {s->stack_bytes, s->stack_bytes};
            setrlimit(RLIMIT_STACK, &rl);
        }
        if (s->cpu_seconds) {
            struct rlimit rl = {s->cpu_seconds, s->cpu_seconds + 1};
            setrlimit(RLIMIT_CPU, &rl);
        }
        struct rlimit core = {0, 0};
        setrlimit(RLIMIT_CORE, &core);
        /* The app inherits stdin, stdout and stderr only: no descriptor the
         * runtime (or whoever started it) left open reaches it. */
        if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        execve(BWRAP, (char *const *)ap->v, envp);
        _exit(127);
    }
    argvec_free(ap);
    setpgid(pid, pid);
    bool outside = false;
    if (out->cgroup) {
        char b;
        close(joined[1]);
        outside = read(joined[0], &b, 1) == 1; /* EOF once bwrap is exec'd */
        close(joined[0]);
    }
    double deadline = s->wall_seconds ? mono() + s->wall_seconds : 0;
    int st = 0;
    /* Woken by the exit itself (a pidfd), not by polling every millisecond;
     * where the kernel has no pidfd_open, the polling. */
    cella_child child = cella_child_watch(pid);
    for (;;) {
        int ms = -1; /* after the deadline (and the kill): until it ends */
        if (deadline && !out->timed_out) {
            double left = deadline - mono();
            ms = left > 0 ? (int)(left * 1000) + 1 : 0;
        }
        if (cella_child_wait(&child, ms, &st))
            break;
        if (deadline && mono() > deadline && !out->timed_out) {
            out->timed_out = true;
            kill(-pid, SIGKILL);
        }
    }
    if (st == -1) {
        cella_cgroup_destroy(&cg);
        return cella_fail(CELLA_E_IO, "sandbox", "waitpid failed: %s", strerror(errno));
    }
    if (WIFEXITED(st))
        out->exit_code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        out->exit_code = 128 + WTERMSIG(st);
    /* Where the kernel does not count OOM kills, a hit limit and a SIGKILL death. */
    out->oom_killed = out->cgroup && cella_cgroup_oom_kills(&cg) > 0 &&
                      (cg.oom_counted || out->exit_code == 128 + SIGKILL);
    cella_cgroup_destroy(&cg); /* and whatever the app left running in it */
    CELLA_ENSURE(!outside, CELLA_E_IO, "sandbox", "the app could not join its cgroup");
    CELLA_ENSURE(out->exit_code != 127 || !WIFEXITED(st) || access(BWRAP, X_OK) == 0,
                 CELLA_E_IO, BWRAP, "cannot start bubblewrap");
    return CELLA_OK_RES;
}
