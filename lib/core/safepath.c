#include "core/safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int walk_open(int dirfd, const char *path, int flags, mode_t mode)
{
    /* Fallback for kernels without openat2: walk each component with
     * O_NOFOLLOW so that no symlink is ever traversed. */
    char buf[4097];
    if (strlen(path) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, path);
    int cur = dirfd;
    char *comp = buf;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (!slash)
            break;
        *slash = '\0';
        if (!strcmp(comp, "..") || !strcmp(comp, ".") || !*comp) {
            errno = EXDEV;
            goto fail;
        }
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur != dirfd)
            close(cur);
        cur = next;
        if (cur < 0)
            return -1;
        comp = slash + 1;
    }
    if (!strcmp(comp, "..") || !strcmp(comp, ".")) {
        errno = EXDEV;
        goto fail;
    }
    int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int saved = errno;
    if (cur != dirfd)
        close(cur);
    errno = saved;
    return fd;
fail:
    if (cur != dirfd)
        close(cur);
    return -1;
}

int cella_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    static bool no_openat2;
    if (!no_openat2) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
            .mode = (flags & O_CREAT) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
            return (int)fd;
        no_openat2 = true; /* seccomp or old kernel: fall back */
    }
    return walk_open(dirfd, path, flags, mode);
}

int cella_mkdirs_beneath(int dirfd, const char *path, mode_t mode)
{
    char buf[4097];
    if (strlen(path) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, path);
    for (char *s = buf;; s++) {
        bool end = *s == '\0';
        if (*s == '/' || end) {
            char saved = *s;
            *s = '\0';
            int dfd = cella_open_beneath(dirfd, buf, O_RDONLY | O_DIRECTORY, 0);
            if (dfd < 0) {
                if (errno != ENOENT)
                    return -1;
                /* Create the last component through its (already safe) parent. */
                char *slash = strrchr(buf, '/');
                int pfd = dirfd;
                const char *name = buf;
                if (slash) {
                    *slash = '\0';
                    pfd = cella_open_beneath(dirfd, buf, O_RDONLY | O_DIRECTORY, 0);
                    *slash = '/';
                    name = slash + 1;
                    if (pfd < 0)
                        return -1;
                }
                int rc = mkdirat(pfd, name, mode);
                int err = errno;
                if (pfd != dirfd)
                    close(pfd);
                if (rc != 0 && err != EEXIST) {
                    errno = err;
                    return -1;
                }
            } else {
                close(dfd);
            }
            *s = saved;
        }
        if (end)
            break;
    }
    return 0;
}
