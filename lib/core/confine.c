#include "core/confine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Rights newer than the system's <linux/landlock.h> (Debian 12 ships ABI 2's). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels get its prefix. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

#define LL_FILE_RIGHTS                                                                    \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                           \
     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

static int ll_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

/* Every filesystem right the kernel's ABI knows: all of them are handled, so
 * what no rule grants is denied. */
static uint64_t ll_fs_rights(int abi)
{
    uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
    if (abi >= 2)
        r |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        r |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return r;
}

static cella_res ll_ruleset(int abi, int *fd)
{
    struct ll_ruleset_attr attr = {.handled_access_fs = ll_fs_rights(abi)};
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4)
        size = offsetof(struct ll_ruleset_attr, scoped);
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
        size = sizeof attr;
    }
    long r = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    CELLA_ENSURE(r >= 0, CELLA_E_IO, "landlock", "cannot create a ruleset: %s", strerror(errno));
    *fd = (int)r;
    return CELLA_OK_RES;
}

static cella_res ll_enforce(int ruleset)
{
    CELLA_ENSURE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, CELLA_E_IO, "landlock",
                 "no_new_privs: %s", strerror(errno));
    CELLA_ENSURE(syscall(SYS_landlock_restrict_self, ruleset, 0) == 0, CELLA_E_IO, "landlock",
                 "cannot enforce the ruleset: %s", strerror(errno));
    return CELLA_OK_RES;
}

typedef struct {
    dev_t dev;
    ino_t ino;
} file_id;

#define MAX_DEPTH 64
#define MAX_HIDDEN 32

typedef struct {
    int ruleset;
    uint64_t rights;
    file_id skip[MAX_DEPTH + MAX_HIDDEN]; /* the frozen folders and the hidden files */
    size_t nskip;
} hide_ctx;

static bool skipped(const hide_ctx *h, const struct stat *st)
{
    for (size_t i = 0; i < h->nskip; i++)
        if (h->skip[i].dev == st->st_dev && h->skip[i].ino == st->st_ino)
            return true;
    return false;
}

/* Grants one entry of a frozen folder: a folder with everything beneath it,
 * a file with the file rights. An entry that resolves (by a symbolic link) to
 * a frozen folder or a hidden file is not granted. */
static cella_res grant_entry(const hide_ctx *h, int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return CELLA_OK_RES; /* dangling link, or gone: nothing to grant */
    struct stat st;
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) == 0 && !skipped(h, &st)) {
        struct landlock_path_beneath_attr pb = {
            .allowed_access = S_ISDIR(st.st_mode) ? h->rights : (h->rights & LL_FILE_RIGHTS),
            .parent_fd = fd};
        if (syscall(SYS_landlock_add_rule, h->ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
            r = cella_fail(CELLA_E_IO, name, "landlock rule: %s", strerror(errno));
    }
    close(fd);
    return r;
}

/* Grants every entry of the frozen folder `path` except `next` (the next
 * folder down, granted entry by entry itself) and, in the last folder, the
 * hidden entries. */
static cella_res grant_folder(const hide_ctx *h, const char *path, const char *next,
                              bool (*hidden)(const char *name))
{
    DIR *d = opendir(path);
    if (!d && errno == EACCES)
        return CELLA_OK_RES; /* searchable, not listable: none of its entries is granted */
    CELLA_ENSURE(d, CELLA_E_IO, path, "cannot list: %s", strerror(errno));
    cella_res r = CELLA_OK_RES;
    struct dirent *e;
    while (cella_ok(r) && (e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || (next && !strcmp(n, next)) ||
            (!next && hidden(n)))
            continue;
        r = grant_entry(h, dirfd(d), n);
    }
    closedir(d);
    return r;
}

static cella_res hide_rules(hide_ctx *h, const char *real, bool (*hidden)(const char *name))
{
    /* The frozen folders: "/", then each prefix of `real` ending before a '/'. */
    char path[PATH_MAX];
    size_t len = strlen(real), starts[MAX_DEPTH];
    size_t n = 0;
    for (size_t i = 0; i <= len && n < MAX_DEPTH; i++)
        if (i == len || real[i] == '/')
            starts[n++] = i; /* folder k is real[0 .. starts[k]) ("" is "/") */
    CELLA_ENSURE(n < MAX_DEPTH, CELLA_E_PATH, real, "too deep");
    for (size_t k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%.*s", (int)starts[k], real);
        struct stat st;
        CELLA_ENSURE(stat(path[0] ? path : "/", &st) == 0, CELLA_E_IO, real, "stat: %s",
                     strerror(errno));
        h->skip[h->nskip++] = (file_id){st.st_dev, st.st_ino};
    }
    DIR *d = opendir(real);
    CELLA_ENSURE(d, CELLA_E_IO, real, "cannot list: %s", strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) && h->nskip < MAX_DEPTH + MAX_HIDDEN) {
        struct stat st;
        if (hidden(e->d_name) && fstatat(dirfd(d), e->d_name, &st, 0) == 0)
            h->skip[h->nskip++] = (file_id){st.st_dev, st.st_ino};
    }
    closedir(d);
    for (size_t k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%.*s", (int)starts[k], real);
        const char *next = k + 1 < n ? real + starts[k] + 1 : NULL;
        char nextname[NAME_MAX + 1] = "";
        if (next)
            snprintf(nextname, sizeof nextname, "%.*s", (int)(starts[k + 1] - starts[k] - 1),
                     next);
        CELLA_TRY(grant_folder(h, path[0] ? path : "/", next ? nextname : NULL, hidden));
    }
    return CELLA_OK_RES;
}

CELLA_RESULT cella_landlock_hide(const char *dir, bool (*hidden)(const char *name), int *abi)
{
    *abi = ll_abi();
    if (*abi == 0)
        return CELLA_OK_RES;
    char real[PATH_MAX];
    CELLA_ENSURE(realpath(dir, real), CELLA_E_IO, dir, "realpath: %s", strerror(errno));
    hide_ctx h = {.rights = ll_fs_rights(*abi)};
    CELLA_TRY(ll_ruleset(*abi, &h.ruleset));
    cella_res r = hide_rules(&h, strcmp(real, "/") ? real : "", hidden);
    if (cella_ok(r))
        r = ll_enforce(h.ruleset);
    close(h.ruleset);
    return r;
}

CELLA_RESULT cella_landlock_no_files(int *abi)
{
    *abi = ll_abi();
    if (*abi == 0)
        return CELLA_OK_RES;
    int fd;
    CELLA_TRY(ll_ruleset(*abi, &fd));
    cella_res r = ll_enforce(fd);
    close(fd);
    return r;
}

CELLA_RESULT cella_seccomp_deny(bool no_sockets)
{
    static const int denied[] = {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
                                 SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev)};
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    CELLA_ENSURE(ctx, CELLA_E_NOMEM, "seccomp", "cannot make a filter");
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof denied / sizeof denied[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    if (!rc && no_sockets)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 0);
    if (!rc)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    CELLA_ENSURE(!rc, CELLA_E_IO, "seccomp", "cannot load the filter: %s", strerror(-rc));
    return CELLA_OK_RES;
}
