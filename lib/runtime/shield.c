/* The FUSE shield: a read-only libfuse3 low-level file system over an open
 * cella volume. See shield.h and docs/architecture.md ("The FUSE shield").
 *
 * Inodes are fixed for the life of the mount: the root is 1 and metadata entry
 * i is i + 2, so lookup is a binary search over the sorted entry paths and
 * forget has nothing to do. Each open file owns (fast path) a descriptor of its
 * ciphertext file and a one-chunk cache in secure memory. A read takes a reply
 * buffer from a small pool (secure plaintext room, ciphertext room and a cipher
 * context that stays keyed for the file it last served), preads the touched
 * chunks in one call and decrypts whole chunks straight into the reply. Reads of
 * one file run in parallel: only the cache is under a lock.
 *
 * This file mounts, serves from its own threads and unmounts; shield_fs.c is
 * the tree and the FUSE operations, shield_read.c the reply buffers and the
 * reading of chunks, shield_store.c the page cache stores (shield_int.h).
 */
#include "runtime/shield_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

extern char **environ;

#define THREADS_DEFAULT_MIN 2 /* one may store chunks while the other answers */
#define THREADS_DEFAULT_MAX 8
#define THREADS_MAX 32
#define READAHEAD_KB_DEFAULT 1024
#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6

/* ==== libfuse's log lines into cella's logger ============================= */

__attribute__((format(printf, 2, 0))) static void fuse_log_to_cella(enum fuse_log_level level,
                                                                    const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    /* libfuse's errors become warnings: the caller reports the failure itself
     * as one error line, and these lines say why. */
    cella_log_level l = level <= FUSE_LOG_WARNING ? CELLA_LOG_WARN
                        : level <= FUSE_LOG_INFO  ? CELLA_LOG_INFO
                                                  : CELLA_LOG_DEBUG;
    const char *p = strncmp(line, "fuse: ", 6) ? line : line + 6;
    cella_log(l, "fuse: %s", p);
}

static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;
static void install_fuse_log(void) { fuse_set_log_func(fuse_log_to_cella); }

/* ==== availability ======================================================== */

static bool has_cap_sys_admin(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return false;
    char line[256];
    unsigned long long caps = 0;
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            found = true;
            break;
        }
    fclose(f);
    return found && (caps & (1ull << 21)); /* CAP_SYS_ADMIN */
}

static bool setuid_fusermount(void)
{
    const char *cands[] = {"/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        struct stat st;
        if (stat(cands[i], &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_ISUID) &&
            st.st_uid == 0)
            return true;
    }
    return false;
}

bool cella_shield_available(const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT   ? "no /dev/fuse (the fuse module is not loaded or not in this container)"
               : errno == EACCES ? "no permission to open /dev/fuse"
               : errno == EPERM  ? "opening /dev/fuse is not permitted here"
                                 : "cannot open /dev/fuse";
        return false;
    }
    close(fd);
    if (has_cap_sys_admin() || setuid_fusermount()) {
        *why = "available";
        return true;
    }
    *why = "not privileged (no CAP_SYS_ADMIN) and no setuid-root fusermount3";
    return false;
}

/* ==== mount / unmount ===================================================== */

static void *loop_main(void *arg)
{
    cella_shield *s = arg;
    /* Signals belong to the application, never to FUSE workers (which
     * inherit this mask). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    fuse_session_loop_mt(s->se, s->cfg);
    atomic_store(&s->loop_done, true);
    return NULL;
}

/* Returns 0 or an errno. */
static int run_fusermount(const char *mp, bool lazy)
{
    char *argv[] = {"fusermount3", "-u", "-q", lazy ? "-z" : NULL, NULL, NULL};
    argv[lazy ? 4 : 3] = (char *)mp;
    pid_t pid;
    int rc = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
    if (rc != 0)
        return rc;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EBUSY;
}

static int do_umount(const char *mp, bool lazy)
{
    if (geteuid() == 0) {
        if (umount2(mp, lazy ? MNT_DETACH : 0) == 0)
            return 0;
        if (errno != EPERM)
            return errno;
    }
    return run_fusermount(mp, lazy);
}

/* Undoes the octal escapes of /proc/self/mounts ("\040" for a space) in place. */
static void unescape_mount_field(char *p)
{
    char *w = p;
    for (char *r = p; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* True if a file system of type `type` (NULL: any) is mounted exactly at `abs`. */
static bool is_mounted_at(const char *abs, const char *want)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *save = NULL;
        char *src = strtok_r(line, " ", &save);
        char *dir = src ? strtok_r(NULL, " ", &save) : NULL;
        char *type = dir ? strtok_r(NULL, " ", &save) : NULL;
        if (!type)
            continue;
        unescape_mount_field(dir);
        found = !strcmp(dir, abs) && (!want || !strcmp(type, want));
    }
    fclose(f);
    return found;
}

/* Before any mount: FUSE is usable, libfuse logs through cella, and the
 * mount point's absolute path (*abs, malloc'd). */
static cella_res mount_point(const char *dir, char **abs)
{
    const char *why;
    CELLA_ENSURE(cella_shield_available(&why), CELLA_E_UNSUPPORTED, dir,
                 "FUSE is not available: %s", why);
    pthread_once(&g_log_once, install_fuse_log);
    *abs = realpath(dir, NULL);
    CELLA_ENSURE(*abs, CELLA_E_IO, dir, "cannot resolve mount point: %s", strerror(errno));
    return CELLA_OK_RES;
}

cella_res cella_shield_try_mount(const char *dir)
{
    char *abs;
    CELLA_TRY(mount_point(dir, &abs));
    static const struct fuse_lowlevel_ops none;
    char *argv[] = {"cella-probe", "-o", "ro,nosuid,nodev,fsname=cella,subtype=cella-probe", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *se = fuse_session_new(&args, &none, sizeof none, NULL);
    fuse_opt_free_args(&args);
    int rc = se ? fuse_session_mount(se, abs) : -1;
    /* never served: nothing may look into it before it goes */
    if (rc == 0)
        fuse_session_unmount(se);
    if (se)
        fuse_session_destroy(se);
    bool left = rc == 0 && is_mounted_at(abs, NULL);
    free(abs);
    CELLA_ENSURE(se, CELLA_E_IO, dir, "cannot create a FUSE session");
    CELLA_ENSURE(rc == 0, CELLA_E_UNSUPPORTED, dir,
                 "cannot mount a FUSE file system (see the 'fuse:' warning above)");
    CELLA_ENSURE(!left, CELLA_E_IO, dir, "the test mount could not be removed");
    return CELLA_OK_RES;
}

cella_res cella_shield_umount_path(const char *mountpoint, bool lazy)
{
    char *abs = realpath(mountpoint, NULL);
    CELLA_ENSURE(abs, CELLA_E_NOTFOUND, mountpoint, "cannot resolve mount point: %s",
                 strerror(errno));
    bool ours = is_mounted_at(abs, "fuse.cella");
    free(abs);
    CELLA_ENSURE(ours, CELLA_E_NOTFOUND, mountpoint, "no cella shield is mounted here");
    int err = do_umount(mountpoint, lazy);
    if (err == 0)
        return CELLA_OK_RES;
    if (err == EBUSY)
        return cella_fail(CELLA_E_IO, mountpoint,
                          "cannot unmount: busy (files are open in it, or a process uses it as "
                          "its directory)");
    if (err == EINVAL)
        return cella_fail(CELLA_E_NOTFOUND, mountpoint, "not a mount point");
    return cella_fail(CELLA_E_IO, mountpoint, "cannot unmount: %s", strerror(err));
}

/* Severs the connection through fusectl, so that a detached but busy mount
 * stops being served (its open files then read ENOTCONN). */
static void abort_conn(cella_shield *s)
{
    if (!s->have_conn)
        return;
    char p[96];
    snprintf(p, sizeof p, "/sys/fs/fuse/connections/%u/abort", s->conn_id);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && geteuid() == 0) {
        /* fusectl is not mounted here: mount it (as systemd does at boot). */
        if (mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL) == 0)
            fd = open(p, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return;
    if (write(fd, "1", 1) != 1) {
        /* nothing more to try */
    }
    close(fd);
}

static void shield_free(cella_shield *s)
{
    if (s->cfg)
        fuse_loop_cfg_destroy(s->cfg);
    if (s->vol_dirfd >= 0)
        close(s->vol_dirfd);
    /* Files still open when the connection was severed get no release. */
    while (s->files) {
        shield_file *h = s->files;
        s->files = h->next;
        shield_file_free(h);
    }
    shield_pool_free(s);
    shield_store_queue_free(s);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->store_lock);
    free(s->parent);
    free(s->child_start);
    free(s->children);
    free(s->nlink);
    free(s->mountpoint);
    free(s);
}

/* The kernel reads ahead 128 KiB on a FUSE mount by default, so streaming
 * reads arrive as 128 KiB requests; a larger window means fewer, larger
 * requests (the mount's own bdi; needs root; best effort). A request fails
 * whole when one of its chunks does not authenticate, so a larger window also
 * widens what a tampered chunk takes down for page-cache readers. */
static void set_readahead(dev_t dev, unsigned kb)
{
    char p[96], v[32];
    snprintf(p, sizeof p, "/sys/class/bdi/%u:%u/read_ahead_kb", major(dev), minor(dev));
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    int len = snprintf(v, sizeof v, "%u", kb);
    if (write(fd, v, (size_t)len) != len)
        cella_debug("shield: cannot set read_ahead_kb: %s", strerror(errno));
    close(fd);
}

/* One worker per CPU, at least 2 and at most 8. The kernel hands each request
 * to the worker that has waited longest, so idle workers beyond the CPUs only
 * make every request wake a colder thread: on 2 shared cores, a random 4 KiB
 * read that missed the page cache took 79 to 99 us (median of 5000) with 8
 * workers, 62 to 64 us with 2, in the same runs (bench/shield.sh's reads). */
static unsigned threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < THREADS_DEFAULT_MIN)
        return THREADS_DEFAULT_MIN;
    return n > THREADS_DEFAULT_MAX ? THREADS_DEFAULT_MAX : (unsigned)n;
}

static bool join_within(cella_shield *s, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return pthread_timedjoin_np(s->loop, NULL, &ts) == 0;
}

cella_res cella_shield_unmount(cella_shield *s)
{
    if (!s)
        return CELLA_OK_RES;
    cella_res r = CELLA_OK_RES;
    if (s->loop_started) {
        bool joined = false;
        if (!atomic_load(&s->loop_done)) {
            int err = do_umount(s->mountpoint, false);
            if (err == EBUSY) {
                /* Open files keep it busy: detach it from the tree now and
                 * sever the connection so that the threads can stop. */
                err = do_umount(s->mountpoint, true);
                abort_conn(s);
            }
            if (err != 0 && err != EINVAL)
                r = cella_fail(CELLA_E_IO, s->mountpoint, "cannot unmount: %s", strerror(err));
        }
        joined = join_within(s, 5);
        if (!joined) {
            abort_conn(s);
            fuse_session_exit(s->se);
            joined = join_within(s, 5);
        }
        if (!joined) {
            /* Still served for files that stay open: the threads use `s`,
             * which must therefore stay allocated. */
            cella_warn("shield: %s: detached, but still in use; leaving it to its last reader",
                       s->mountpoint);
            return cella_fail(CELLA_E_IO, s->mountpoint,
                              "file system still in use after unmount (its connection could not "
                              "be aborted)");
        }
    }
    if (s->se) {
        fuse_session_unmount(s->se); /* closes the channel; no-op if already gone */
        fuse_session_destroy(s->se);
    }
    shield_free(s);
    return r;
}

bool cella_shield_mounted(const cella_shield *s)
{
    return s && s->loop_started && !atomic_load(&s->loop_done);
}

const char *cella_shield_mountpoint(const cella_shield *s) { return s->mountpoint; }

cella_res cella_shield_mount(cella_volume *v, const char *mountpoint, const cella_shield_opts *o,
                             cella_shield **out)
{
    *out = NULL;
    cella_shield_opts defaults = {0};
    if (!o)
        o = &defaults;
    char *abs;
    CELLA_TRY(mount_point(mountpoint, &abs));
    struct stat st;
    if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(abs);
        return cella_fail(CELLA_E_USAGE, mountpoint, "mount point is not a directory");
    }
    if (is_mounted_at(abs, NULL)) {
        free(abs);
        return cella_fail(CELLA_E_EXISTS, mountpoint,
                          "something is already mounted here (unmount it first)");
    }
    cella_shield *s = calloc(1, sizeof *s);
    if (!s) {
        free(abs);
        return cella_fail(CELLA_E_NOMEM, mountpoint, "out of memory");
    }
    s->mountpoint = abs;
    s->v = v;
    s->m = cella_vol_meta_of(v);
    s->vol_dirfd = -1;
    s->uid = getuid();
    s->gid = getgid();
    clock_gettime(CLOCK_REALTIME, &s->t0);
    s->t0.tv_nsec = 0;
    pthread_mutex_init(&s->pool_lock, NULL);
    atomic_init(&s->loop_done, false);
    pthread_mutex_init(&s->store_lock, NULL);
    cella_res r = shield_build_tree(s);
    if (cella_ok(r) && o->vol_dir) {
        s->vol_dirfd = open(o->vol_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->vol_dirfd < 0)
            r = cella_fail(CELLA_E_IO, o->vol_dir, "cannot open volume directory: %s",
                           strerror(errno));
    }
    if (!cella_ok(r)) {
        shield_free(s);
        return r;
    }

    char mopts[256];
    snprintf(mopts, sizeof mopts,
             "ro,default_permissions,nosuid,nodev,noatime,fsname=cella,subtype=cella%s",
             o->allow_other ? ",allow_other" : "");
    char *argv[] = {"cella-shield", "-o", mopts, o->debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
    s->se = fuse_session_new(&args, &shield_ops, sizeof shield_ops, s);
    fuse_opt_free_args(&args);
    if (!s->se) {
        shield_free(s);
        return cella_fail(CELLA_E_IO, mountpoint, "cannot create the FUSE session");
    }
    if (fuse_session_mount(s->se, s->mountpoint) != 0) {
        fuse_session_destroy(s->se);
        shield_free(s);
        return cella_fail(CELLA_E_UNSUPPORTED, mountpoint,
                          "cannot mount the FUSE file system (see the 'fuse:' warning above)");
    }
    unsigned threads = o->max_threads ? o->max_threads : threads_default();
    if (threads > THREADS_MAX)
        threads = THREADS_MAX;
    s->cfg = fuse_loop_cfg_create();
    if (s->cfg) {
        fuse_loop_cfg_set_clone_fd(s->cfg, 1);
        fuse_loop_cfg_set_max_threads(s->cfg, threads);
        fuse_loop_cfg_set_idle_threads(s->cfg, threads);
    }
    s->store_max = o->no_chunk_store ? 0 : threads - 1;
    if (!s->cfg || pthread_create(&s->loop, NULL, loop_main, s) != 0) {
        fuse_session_unmount(s->se);
        fuse_session_destroy(s->se);
        shield_free(s);
        return cella_fail(CELLA_E_NOMEM, mountpoint, "cannot start the FUSE threads");
    }
    s->loop_started = true;
    /* The first stat waits for the kernel's INIT to be served: once it
     * answers, the mount is ready. Its device names the connection. */
    if (stat(s->mountpoint, &st) != 0 || st.st_ino != ROOT_INO) {
        int e = errno;
        r = cella_fail(CELLA_E_IO, mountpoint, "the mounted file system does not answer: %s",
                       strerror(e));
        cella_res u = cella_shield_unmount(s);
        (void)u;
        return r;
    }
    if (major(st.st_dev) == 0) {
        s->have_conn = true;
        s->conn_id = minor(st.st_dev);
        set_readahead(st.st_dev, o->readahead_kb ? o->readahead_kb : READAHEAD_KB_DEFAULT);
    }
    *out = s;
    return CELLA_OK_RES;
}

/* ==== the fallback ======================================================== */

cella_res cella_shield_stage_tmpfs(cella_volume *v, const char *dir)
{
    struct statfs sf;
    CELLA_ENSURE(statfs(dir, &sf) == 0, CELLA_E_IO, dir, "cannot inspect staging directory: %s",
                 strerror(errno));
    CELLA_ENSURE((unsigned long)sf.f_type == TMPFS_MAGIC_ ||
                     (unsigned long)sf.f_type == RAMFS_MAGIC_,
                 CELLA_E_POLICY, dir,
                 "staging directory is not on a tmpfs: plaintext would reach a disk");
    cella_info("shield: FUSE unavailable; staging the volume's plaintext in tmpfs %s", dir);
    return cella_vol_decrypt_private(v, dir, NULL);
}
