#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/secure.h"
#include "core/stage.h"

cella_res cella_fsync_fd(int fd, const char *what)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR)
            return cella_fail(CELLA_E_IO, what, "fsync failed: %s", strerror(errno));
    }
    return CELLA_OK_RES;
}

cella_res cella_mkdir_private(const char *path)
{
    CELLA_ENSURE(mkdir(path, 0700) == 0 || errno == EEXIST, CELLA_E_IO, path,
                 "cannot create the directory: %s", strerror(errno));
    return CELLA_OK_RES;
}

cella_res cella_fsync_dir(int dirfd, const char *path, const char *what)
{
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, what, "cannot open directory: %s", strerror(errno));
    cella_res r = cella_fsync_fd(fd, what);
    close(fd);
    return r;
}

cella_res cella_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, const char *what)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return cella_fail(CELLA_E_IO, what, "write failed: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return CELLA_OK_RES;
}

cella_res cella_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *what)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return cella_fail(CELLA_E_IO, what, "read failed: %s", strerror(errno));
        }
        CELLA_ENSURE(r > 0, CELLA_E_PARSE, what, "file truncated at byte %llu",
                     (unsigned long long)off);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return CELLA_OK_RES;
}

cella_res cella_write_file_atomic(int dirfd, const char *path, const void *data, size_t n,
                                  mode_t mode, bool exclusive)
{
    cella_stage s;
    CELLA_TRY(cella_stage_open(&s, dirfd, path, false, mode));
    cella_res r = cella_pwrite_full(s.fd, data, n, 0, path);
    if (cella_ok(r))
        r = cella_stage_publish(&s, !exclusive);
    cella_stage_abort(&s);
    return r;
}

cella_res cella_read_file(int dirfd, const char *path, size_t max, bool secret, uint8_t **out,
                          size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        cella_code c = errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO;
        return cella_fail(c, path, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) != 0)
        r = cella_fail(CELLA_E_IO, path, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        r = cella_fail(CELLA_E_PARSE, path, "not a regular file");
    else if ((uint64_t)st.st_size > max)
        r = cella_fail(CELLA_E_TOOBIG, path, "file larger than %zu bytes", max);
    if (!cella_ok(r)) {
        close(fd);
        return r;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = secret ? cella_secure_alloc(n + 1) : malloc(n + 1);
    if (!buf) {
        close(fd);
        return cella_fail(CELLA_E_NOMEM, path, "out of memory reading file");
    }
    r = cella_pread_full(fd, buf, n, 0, path);
    close(fd);
    if (!cella_ok(r)) {
        if (secret)
            cella_secure_free(buf, n + 1);
        else
            free(buf);
        return r;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return CELLA_OK_RES;
}

cella_res cella_open_parent(const char *path, int *dfd, char *base, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    CELLA_ENSURE(*name && strcmp(name, ".") && strcmp(name, "..") && strlen(name) < cap,
                 CELLA_E_PATH, path, "not a file name");
    strcpy(base, name);
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        CELLA_ENSURE(n < sizeof dir, CELLA_E_PATH, path, "path too long");
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(*dfd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    return CELLA_OK_RES;
}

void cella_rm_tree(int parent, const char *path)
{
    int fd = openat(parent, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        unlinkat(parent, path, 0);
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        bool is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            is_dir = S_ISDIR(st.st_mode);
        if (is_dir)
            cella_rm_tree(dirfd(d), e->d_name);
        else
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    unlinkat(parent, path, AT_REMOVEDIR);
}
