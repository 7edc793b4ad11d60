#include "core/stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"

/* The destination's name as it appears inside staging names (kept short
 * enough that prefix, pid and random suffix fit in NAME_MAX). */
#define STAGE_BASE_MAX 160

/* ==== the registry of live staging entries ================================ */

/* Every live staging entry, for the signal thread. The lock is held while an
 * entry is created, published or removed, and the signal thread never
 * releases it: once a signal is taken, nothing is published any more. */
#define MAX_LIVE 16
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool used;
    int parent;
    char name[NAME_MAX + 1];
} g_live[MAX_LIVE];

static int live_add(int parent, const char *name)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (!g_live[i].used) {
            g_live[i].used = true;
            g_live[i].parent = parent;
            snprintf(g_live[i].name, sizeof g_live[i].name, "%s", name);
            return i;
        }
    return -1;
}

static bool live_has(const char *name)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (g_live[i].used && !strcmp(g_live[i].name, name))
            return true;
    return false;
}

/* Removes an entry, retrying while another thread of this process may still
 * be creating files inside it (each pass gets further; writers fail once
 * their directory is gone). */
static void remove_entry(int parent, const char *name)
{
    struct stat st;
    for (int pass = 0; pass < 100 && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0; pass++)
        cella_rm_tree(parent, name);
}

/* ==== the signal thread ==================================================== */

static sigset_t g_sigs;

static void *trap_thread(void *arg)
{
    (void)arg;
    int sig = 0;
    while (sigwait(&g_sigs, &sig) != 0) {
    }
    pthread_mutex_lock(&g_lock); /* never released: the process ends here */
    for (int i = 0; i < MAX_LIVE; i++)
        if (g_live[i].used)
            remove_entry(g_live[i].parent, g_live[i].name);
    /* Die of the signal, as without the trap (the shell sees 128+sig). */
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig);
}

cella_res cella_stage_trap_signals(void)
{
    static bool trapped;
    if (trapped)
        return CELLA_OK_RES;
    sigemptyset(&g_sigs);
    sigaddset(&g_sigs, SIGINT);
    sigaddset(&g_sigs, SIGTERM);
    sigaddset(&g_sigs, SIGHUP);
    int rc = pthread_sigmask(SIG_BLOCK, &g_sigs, NULL);
    CELLA_ENSURE(rc == 0, CELLA_E_INTERNAL, "signals", "cannot block signals: %s", strerror(rc));
    pthread_attr_t at;
    pthread_t th;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &at, trap_thread, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        pthread_sigmask(SIG_UNBLOCK, &g_sigs, NULL);
        return cella_fail(CELLA_E_INTERNAL, "signals", "cannot start the signal thread: %s",
                          strerror(rc));
    }
    trapped = true;
    return CELLA_OK_RES;
}

/* ==== destinations ========================================================= */

/* Copies `dest` without trailing slashes into `out`; for a directory that is
 * a symbolic link (relative to the working directory), its target instead. */
static cella_res normalize(int dirfd, const char *dest, bool is_dir, char *out, size_t cap)
{
    size_t n = strlen(dest);
    while (n > 1 && dest[n - 1] == '/')
        n--;
    CELLA_ENSURE(n > 0 && n < cap, CELLA_E_PATH, dest, "not a usable output path");
    memcpy(out, dest, n);
    out[n] = '\0';
    struct stat st;
    if (is_dir && dirfd == AT_FDCWD && lstat(out, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(out, NULL);
        CELLA_ENSURE(real, CELLA_E_IO, dest, "cannot resolve the symbolic link: %s",
                     strerror(errno));
        bool fits = strlen(real) < cap;
        if (fits)
            strcpy(out, real);
        free(real);
        CELLA_ENSURE(fits, CELLA_E_PATH, dest, "path too long");
    }
    return CELLA_OK_RES;
}

/* Opens the directory holding `path` and copies its last component. */
static cella_res open_parent_at(int dirfd, const char *path, int *pfd, char *base, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    CELLA_ENSURE(*name && strcmp(name, ".") && strcmp(name, "..") && strlen(name) < cap,
                 CELLA_E_PATH, path, "not a file name (name the output itself)");
    snprintf(base, cap, "%s", name);
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    *pfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(*pfd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    return CELLA_OK_RES;
}

static bool dir_is_empty(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)) != NULL)
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

cella_res cella_stage_check_new(int dirfd, const char *dest, bool is_dir)
{
    char path[PATH_MAX];
    CELLA_TRY(normalize(dirfd, dest, is_dir, path, sizeof path));
    struct stat st;
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return CELLA_OK_RES;
    CELLA_ENSURE(is_dir && S_ISDIR(st.st_mode), CELLA_E_EXISTS, dest,
                 "output already exists (not overwritten)");
    CELLA_ENSURE(dir_is_empty(dirfd, path), CELLA_E_EXISTS, dest,
                 "output directory already exists and is not empty (not overwritten)");
    return CELLA_OK_RES;
}

/* ==== stale staging entries ================================================ */

/* Parses ".cella-staging-<base>-<pid>-<hex>"; true if `base` matches. */
static bool stale_name_of(const char *name, const char *base, pid_t *pid)
{
    size_t pl = strlen(CELLA_STAGE_PREFIX);
    if (strncmp(name, CELLA_STAGE_PREFIX, pl) != 0)
        return false;
    const char *rnd = strrchr(name, '-');
    if (!rnd || rnd <= name + pl || strlen(rnd + 1) != 16)
        return false;
    const char *p = rnd - 1;
    while (p > name + pl && *p >= '0' && *p <= '9')
        p--;
    if (*p != '-' || p + 1 == rnd)
        return false;
    size_t bl = (size_t)(p - (name + pl));
    if (bl != strlen(base) || strncmp(name + pl, base, bl) != 0)
        return false;
    *pid = (pid_t)strtol(p + 1, NULL, 10);
    return *pid > 0;
}

/* Alive as seen from here. Our own pid on an entry we do not hold means a
 * previous process that had our pid. */
static bool owner_alive(pid_t pid, const char *name)
{
    if (pid == getpid())
        return live_has(name);
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* Removes the staging entries left for `base` by dead processes. The lock
 * decides too: a process in another pid namespace still holds its own. */
static void remove_stale(int parent, const char *base)
{
    int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    pid_t pid;
    while ((de = readdir(d)) != NULL) {
        pthread_mutex_lock(&g_lock);
        bool stale = stale_name_of(de->d_name, base, &pid) && !owner_alive(pid, de->d_name);
        pthread_mutex_unlock(&g_lock);
        if (!stale)
            continue;
        int efd = openat(parent, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (efd < 0)
            continue;
        struct stat st;
        if (fstat(efd, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) &&
            flock(efd, LOCK_EX | LOCK_NB) == 0) {
            cella_rm_tree(parent, de->d_name);
            cella_info("removed %s, left by an interrupted run", de->d_name);
        }
        close(efd);
    }
    closedir(d);
}

/* ==== staging ============================================================== */

static void stage_close(cella_stage *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->parent >= 0)
        close(s->parent);
    s->fd = s->parent = -1;
    s->done = true;
}

/* Creates and locks the entry; called with g_lock held. */
static cella_res stage_create(cella_stage *s, mode_t mode)
{
    if (s->is_dir) {
        CELLA_ENSURE(mkdirat(s->parent, s->name, 0700) == 0, CELLA_E_IO, s->where,
                     "cannot create a staging directory beside the output: %s", strerror(errno));
        s->fd = openat(s->parent, s->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } else {
        s->fd = openat(s->parent, s->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
        CELLA_ENSURE(s->fd >= 0, CELLA_E_IO, s->where, "cannot create file: %s", strerror(errno));
    }
    if (s->fd < 0) {
        cella_rm_tree(s->parent, s->name);
        return cella_fail(CELLA_E_IO, s->where, "cannot open the staging entry");
    }
    /* Past MAX_LIVE entries at once, a signal leaves this one to the next run. */
    s->slot = live_add(s->parent, s->name);
    /* umask must not widen or narrow what the caller asked for (key files: 0600). */
    CELLA_ENSURE(fchmod(s->fd, mode) == 0, CELLA_E_IO, s->where, "cannot set mode: %s",
                 strerror(errno));
    CELLA_ENSURE(flock(s->fd, LOCK_EX | LOCK_NB) == 0, CELLA_E_IO, s->where,
                 "cannot lock the staging entry: %s", strerror(errno));
    return CELLA_OK_RES;
}

/* True if `name` in `parent` is the root of a mount (a mount point cannot be
 * renamed over or swapped). */
static bool is_mount_root(int parent, const char *name)
{
    struct statx sx;
    if (statx(parent, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0)
        return false;
    if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
        return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    struct stat up;
    return fstat(parent, &up) == 0 && makedev(sx.stx_dev_major, sx.stx_dev_minor) != up.st_dev;
}

cella_res cella_stage_open(cella_stage *s, int dirfd, const char *dest, bool is_dir, mode_t mode)
{
    memset(s, 0, sizeof *s);
    s->fd = s->parent = s->slot = -1;
    s->is_dir = is_dir;
    snprintf(s->where, sizeof s->where, "%s", dest);
    char path[PATH_MAX];
    cella_res r = normalize(dirfd, dest, is_dir, path, sizeof path);
    if (cella_ok(r))
        r = open_parent_at(dirfd, path, &s->parent, s->base, sizeof s->base);
    if (cella_ok(r) && is_dir && is_mount_root(s->parent, s->base))
        r = cella_fail(CELLA_E_UNSUPPORTED, dest,
                       "output directory is a mount point, which cannot be replaced in one "
                       "step: name a directory inside it");
    uint8_t rnd[8];
    char rh[17];
    if (cella_ok(r))
        r = cella_random(rnd, sizeof rnd);
    if (!cella_ok(r)) {
        stage_close(s);
        return r;
    }
    cella_hex_encode(rh, rnd, sizeof rnd, false);
    char cut[STAGE_BASE_MAX + 1];
    size_t bl = strnlen(s->base, STAGE_BASE_MAX);
    memcpy(cut, s->base, bl);
    cut[bl] = '\0';
    remove_stale(s->parent, cut);
    snprintf(s->name, sizeof s->name, CELLA_STAGE_PREFIX "%s-%ld-%s", cut, (long)getpid(), rh);
    pthread_mutex_lock(&g_lock);
    r = stage_create(s, mode);
    pthread_mutex_unlock(&g_lock);
    if (!cella_ok(r))
        cella_stage_abort(s);
    return r;
}

/* Forgets a published entry; called with g_lock held. */
static void stage_forget(cella_stage *s)
{
    if (s->slot >= 0)
        g_live[s->slot].used = false;
    s->slot = -1;
}

/* A small tree beneath a staging directory: at most this many entries are
 * synced one by one; a larger one is synced with the whole filesystem. */
#define SYNC_EACH_MAX 64

/* fsyncs every file and directory beneath `dirfd` (not itself), while
 * *budget lasts; false when the tree is larger than that (or unreadable). */
static bool sync_each(int dirfd, int *budget)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    bool ok = true;
    struct dirent *e;
    /* errno tells a readdir failure from the end: an entry missed is not synced */
    while (ok && (errno = 0, e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (--*budget < 0) {
            ok = false;
            break;
        }
        int cfd = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (cfd < 0) {
            ok = errno == ELOOP; /* a symbolic link: its entry is the directory's */
            continue;
        }
        struct stat st;
        ok = fstat(cfd, &st) == 0 && (!S_ISDIR(st.st_mode) || sync_each(cfd, budget)) &&
             fsync(cfd) == 0;
        close(cfd);
    }
    if (ok && errno != 0)
        ok = false;
    closedir(d);
    return ok;
}

static cella_res sync_entry(cella_stage *s)
{
    /* A directory: everything written beneath it, not only its entries. A
     * small tree (an enclave's output volume) file by file, which waits for
     * nothing but its own blocks; a large one with syncfs, one flush for all,
     * which also waits for whatever else the filesystem has dirty. */
    int budget = SYNC_EACH_MAX;
    if (s->is_dir && !sync_each(s->fd, &budget) && syncfs(s->fd) != 0)
        return cella_fail(CELLA_E_IO, s->where, "sync failed: %s", strerror(errno));
    return cella_fsync_fd(s->fd, s->where);
}

/* Renames the staging entry onto the destination; called with g_lock held. */
static cella_res rename_new(cella_stage *s, bool replace)
{
    if (!s->is_dir && replace) {
        CELLA_ENSURE(renameat(s->parent, s->name, s->parent, s->base) == 0, CELLA_E_IO, s->where,
                     "rename failed: %s", strerror(errno));
        return CELLA_OK_RES;
    }
    if (renameat2(s->parent, s->name, s->parent, s->base, RENAME_NOREPLACE) == 0)
        return CELLA_OK_RES;
    CELLA_ENSURE(errno == EEXIST, CELLA_E_IO, s->where, "cannot move the output into place: %s",
                 strerror(errno));
    struct stat st;
    CELLA_ENSURE(s->is_dir && fstatat(s->parent, s->base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                     S_ISDIR(st.st_mode),
                 CELLA_E_EXISTS, s->where, "output already exists (not overwritten)");
    /* An empty directory is replaced in the same single step; it keeps its mode. */
    CELLA_ENSURE(fchmod(s->fd, st.st_mode & 07777) == 0, CELLA_E_IO, s->where,
                 "cannot set mode: %s", strerror(errno));
    if (renameat(s->parent, s->name, s->parent, s->base) == 0)
        return CELLA_OK_RES;
    if (errno == ENOTEMPTY || errno == EEXIST)
        return cella_fail(CELLA_E_EXISTS, s->where,
                          "output directory already exists and is not empty (not overwritten)");
    return cella_fail(CELLA_E_IO, s->where, "cannot move the output into place: %s",
                      strerror(errno));
}

cella_res cella_stage_publish(cella_stage *s, bool replace)
{
    CELLA_ENSURE(!s->done, CELLA_E_INTERNAL, s->where, "staging entry already closed");
    CELLA_ENSURE(!(s->is_dir && replace), CELLA_E_INTERNAL, s->where,
                 "directories are replaced by exchange");
    cella_res r = sync_entry(s);
    if (cella_ok(r)) {
        pthread_mutex_lock(&g_lock);
        r = rename_new(s, replace);
        s->published = cella_ok(r);
        if (cella_ok(r))
            stage_forget(s);
        pthread_mutex_unlock(&g_lock);
    }
    if (!cella_ok(r)) {
        cella_stage_abort(s);
        return r;
    }
    r = cella_fsync_fd(s->parent, s->where);
    stage_close(s);
    return r;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Swaps staging and destination; called with g_lock held. */
static cella_res exchange(cella_stage *s, const struct stat *old)
{
    struct stat st;
    CELLA_ENSURE(fstatat(s->parent, s->base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                     same_file(&st, old),
                 CELLA_E_EXISTS, s->where, "output was replaced by someone else meanwhile");
    CELLA_ENSURE(fchmod(s->fd, st.st_mode & 07777) == 0, CELLA_E_IO, s->where,
                 "cannot set mode: %s", strerror(errno));
    CELLA_ENSURE(renameat2(s->parent, s->name, s->parent, s->base, RENAME_EXCHANGE) == 0,
                 CELLA_E_IO, s->where, "cannot swap the output into place: %s", strerror(errno));
    /* Between the check and the swap, another process could have swapped in
     * its own: then swap back and leave its result alone. */
    if (fstatat(s->parent, s->name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !same_file(&st, old)) {
        if (renameat2(s->parent, s->name, s->parent, s->base, RENAME_EXCHANGE) != 0)
            cella_warn("could not swap back %s: %s", s->where, strerror(errno));
        return cella_fail(CELLA_E_EXISTS, s->where,
                          "output was replaced by someone else meanwhile");
    }
    return CELLA_OK_RES;
}

cella_res cella_stage_publish_exchange(cella_stage *s, const struct stat *old)
{
    CELLA_ENSURE(!s->done && s->is_dir, CELLA_E_INTERNAL, s->where, "not a staging directory");
    cella_res r = sync_entry(s);
    if (cella_ok(r)) {
        pthread_mutex_lock(&g_lock);
        r = exchange(s, old);
        s->published = cella_ok(r);
        pthread_mutex_unlock(&g_lock);
    }
    if (cella_ok(r))
        r = cella_fsync_fd(s->parent, s->where);
    /* The staging name now holds the old tree (or, on failure, our own). */
    cella_stage_abort(s);
    return r;
}

void cella_stage_abort(cella_stage *s)
{
    if (s->done)
        return;
    pthread_mutex_lock(&g_lock);
    if (s->fd >= 0)
        remove_entry(s->parent, s->name);
    stage_forget(s);
    pthread_mutex_unlock(&g_lock);
    stage_close(s);
}
