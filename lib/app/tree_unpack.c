/* Tarballs unpacked without ever leaving the destination, staged and
 * published by rename (tree_publish_dir). libarchive is reached through
 * archive_lib.h (loaded on first use), so that cella-runtime, which links
 * this file for a task's cella-volume dataset, does not load libarchive and
 * its dependencies at every start. Packing is in tree.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/archive_lib.h"
#include "app/internal.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/safepath.h"
#include "core/secure.h"

#define IO_CHUNK CELLA_IO_CHUNK

/* A hidden, random sibling name for staging (packing uses it too). */
cella_res tree_temp_name(char *out, size_t cap, const char *base)
{
    uint8_t rnd[8];
    char hex[17];
    CELLA_TRY(cella_random(rnd, sizeof rnd));
    cella_hex_encode(hex, rnd, sizeof rnd, false);
    int n = snprintf(out, cap, ".%.200s.tmp-%s", base, hex);
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_PATH, base, "name too long");
    return CELLA_OK_RES;
}

cella_tree_limits cella_tree_default_limits(void)
{
    return (cella_tree_limits){.max_file = 4ull << 30, .max_total = 16ull << 30,
                               .max_entries = 100000};
}

static cella_res extract_file(const cella_archive_lib *L, struct archive *a, int stage,
                              const char *path, int64_t size, mode_t mode, uint64_t *total,
                              const cella_tree_limits *lim, uint8_t *buf)
{
    int fd = cella_open_beneath(stage, path,
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST)
        return cella_fail(CELLA_E_EXISTS, path, "duplicate entry in archive");
    if (fd < 0)
        return cella_fail(CELLA_E_PATH, path, "cannot create: %s", strerror(errno));
    cella_res r = CELLA_OK_RES;
    if (fchmod(fd, mode) != 0) /* not the umask's idea of it */
        r = cella_fail(CELLA_E_IO, path, "chmod: %s", strerror(errno));
    uint64_t got = 0;
    while (cella_ok(r)) {
        la_ssize_t k = L->archive_read_data(a, buf, IO_CHUNK);
        if (k < 0) {
            r = cella_fail(CELLA_E_PARSE, path, "tar: %s", L->archive_error_string(a));
            break;
        }
        if (k == 0)
            break;
        got += (uint64_t)k;
        *total += (uint64_t)k;
        if (got > (uint64_t)size || got > lim->max_file || *total > lim->max_total) {
            r = cella_fail(CELLA_E_TOOBIG, path, "archive content above the size limits");
            break;
        }
        r = cella_pwrite_full(fd, buf, (size_t)k, got - (uint64_t)k, path);
        if (!cella_ok(r))
            break;
    }
    if (cella_ok(r))
        r = cella_fsync_fd(fd, path);
    close(fd);
    return r;
}

/* A symbolic link, created (never followed) in its parent opened beneath the
 * stage without following any link on the way. */
static cella_res extract_link(int stage, char *p, const char *target)
{
    size_t tn = strlen(target);
    CELLA_ENSURE(tn > 0 && tn <= CELLA_APP_MAX_PATH, CELLA_E_PATH, p,
                 "symbolic link target empty or longer than %u bytes", CELLA_APP_MAX_PATH);
    char *slash = strrchr(p, '/');
    int dfd = stage;
    if (slash) {
        *slash = '\0';
        dfd = cella_open_beneath(stage, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        *slash = '/';
        CELLA_ENSURE(dfd >= 0, CELLA_E_PATH, p, "cannot open parent directory: %s",
                     strerror(errno));
    }
    int rc = symlinkat(target, dfd, slash ? slash + 1 : p);
    int err = errno;
    if (dfd != stage)
        close(dfd);
    CELLA_ENSURE(rc == 0 || err != EEXIST, CELLA_E_EXISTS, p, "duplicate entry in archive");
    CELLA_ENSURE(rc == 0, CELLA_E_PATH, p, "cannot create symbolic link: %s", strerror(err));
    return CELLA_OK_RES;
}

/* A directory entry with exact modes: its permission bits, set on the
 * directory itself (opened without following links). */
static cella_res chmod_dir(int stage, const char *p, mode_t perm)
{
    int fd = cella_open_beneath(stage, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    CELLA_ENSURE(fd >= 0, CELLA_E_PATH, p, "cannot open directory: %s", strerror(errno));
    int rc = fchmod(fd, tree_image_mode(perm, 'd'));
    int err = errno;
    close(fd);
    CELLA_ENSURE(rc == 0, CELLA_E_IO, p, "chmod: %s", strerror(err));
    return CELLA_OK_RES;
}

/* Whether `p` is strictly below the top-level directory `under`. */
static bool below(const char *p, const char *under)
{
    size_t n = under ? strlen(under) : 0;
    return under && !strncmp(p, under, n) && p[n] == '/';
}

static cella_res unpack_entries(const cella_archive_lib *L, struct archive *a, int stage,
                                const cella_tree_limits *lim, const char *links_under)
{
    struct archive_entry *ae;
    uint64_t total = 0;
    uint32_t count = 0;
    uint8_t *buf = malloc(IO_CHUNK);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, NULL, "out of memory");
    cella_res r = CELLA_OK_RES;
    char path[CELLA_APP_MAX_PATH + 8];
    for (;;) {
        int st = L->archive_read_next_header(a, &ae);
        if (st == ARCHIVE_EOF)
            break;
        if (st != ARCHIVE_OK) {
            r = cella_fail(CELLA_E_PARSE, "tar", "%s", L->archive_error_string(a));
            break;
        }
        const char *name = L->archive_entry_pathname(ae);
        if (!name) {
            r = cella_fail(CELLA_E_PARSE, "tar", "entry without a usable name");
            break;
        }
        size_t n = strlen(name);
        if (n >= sizeof path) {
            r = cella_fail(CELLA_E_PATH, "tar", "path longer than %u bytes", CELLA_APP_MAX_PATH);
            break;
        }
        memcpy(path, name, n + 1);
        char *p = path;
        if (p[0] == '.' && p[1] == '/')
            p += 2;
        mode_t type = L->archive_entry_filetype(ae);
        n = strlen(p);
        if (type == AE_IFDIR && n > 0 && p[n - 1] == '/')
            p[--n] = '\0';
        if (type == AE_IFDIR && (n == 0 || !strcmp(p, ".")))
            continue; /* the root itself */
        r = cella_app_check_relpath(p, name);
        if (!cella_ok(r))
            break;
        if (++count > lim->max_entries) {
            r = cella_fail(CELLA_E_TOOBIG, "tar", "more than %u entries", lim->max_entries);
            break;
        }
        bool is_link = L->archive_entry_symlink(ae) || type == AE_IFLNK;
        if (L->archive_entry_hardlink(ae) || (is_link && !below(p, links_under))) {
            r = cella_fail(CELLA_E_PATH, p, "links are not allowed in an archive%s",
                           links_under && is_link ? " outside " CELLA_APP_ROOTFS "/" : "");
            break;
        }
        /* Parents: created as needed, never through a symlink (none can exist). */
        char *slash = strrchr(p, '/');
        if (slash) {
            *slash = '\0';
            int rc = cella_mkdirs_beneath(stage, p, 0755);
            *slash = '/';
            if (rc != 0) {
                r = cella_fail(CELLA_E_PATH, p, "cannot create parent directory: %s",
                               strerror(errno));
                break;
            }
        }
        if (is_link) {
            const char *target = L->archive_entry_symlink(ae);
            r = extract_link(stage, p, target ? target : "");
            if (!cella_ok(r))
                break;
            continue;
        }
        if (type == AE_IFDIR) {
            if (cella_mkdirs_beneath(stage, p, 0755) != 0) {
                r = cella_fail(CELLA_E_PATH, p, "cannot create directory: %s", strerror(errno));
                break;
            }
            if (links_under)
                r = chmod_dir(stage, p, L->archive_entry_perm(ae));
            if (!cella_ok(r))
                break;
            continue;
        }
        if (type != AE_IFREG) {
            r = cella_fail(CELLA_E_PATH, p, "special files are not allowed in an archive");
            break;
        }
        int64_t size = L->archive_entry_size(ae);
        if (!L->archive_entry_size_is_set(ae) || size < 0 || (uint64_t)size > lim->max_file ||
            (uint64_t)size > lim->max_total - total) {
            r = cella_fail(CELLA_E_TOOBIG, p, "file above the size limits");
            break;
        }
        mode_t mode = links_under ? tree_image_mode(L->archive_entry_perm(ae), 'f')
                                  : ((L->archive_entry_perm(ae) & S_IXUSR) ? 0755 : 0644);
        r = extract_file(L, a, stage, p, size, mode, &total, lim, buf);
        if (!cella_ok(r))
            break;
    }
    free(buf);
    return r;
}

cella_res tree_publish_dir(const char *dir, tree_fill_fn fill, void *ud)
{
    int pfd = -1;
    char base[256], stage_name[300];
    CELLA_TRY(cella_open_parent(dir, &pfd, base, sizeof base));
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        close(pfd);
        return cella_fail(CELLA_E_EXISTS, dir, "destination already exists");
    }
    cella_res r = tree_temp_name(stage_name, sizeof stage_name, base);
    if (cella_ok(r) && mkdirat(pfd, stage_name, 0755) != 0)
        r = cella_fail(CELLA_E_IO, dir, "cannot create staging directory: %s", strerror(errno));
    if (!cella_ok(r)) {
        close(pfd);
        return r;
    }
    int stage = openat(pfd, stage_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (stage < 0)
        r = cella_fail(CELLA_E_IO, dir, "cannot open staging directory: %s", strerror(errno));
    if (cella_ok(r))
        r = fill(stage, ud);
    if (cella_ok(r))
        r = cella_fsync_fd(stage, dir);
    if (stage >= 0)
        close(stage);
    if (cella_ok(r) && renameat2(pfd, stage_name, pfd, base, RENAME_NOREPLACE) != 0)
        r = cella_fail(errno == EEXIST ? CELLA_E_EXISTS : CELLA_E_IO, dir, "rename: %s",
                       strerror(errno));
    if (cella_ok(r))
        r = cella_fsync_dir(pfd, ".", dir);
    if (!cella_ok(r))
        cella_rm_tree(pfd, stage_name);
    close(pfd);
    return r;
}

typedef struct {
    const cella_archive_lib *L;
    struct archive *a;
    const cella_tree_limits *lim;
    const char *links_under;
} unpack_job;

static cella_res unpack_fill(int stage, void *ud)
{
    unpack_job *j = ud;
    return unpack_entries(j->L, j->a, stage, j->lim, j->links_under);
}

static cella_res unpack_archive(const cella_archive_lib *L, struct archive *a, const char *dir,
                                const cella_tree_limits *lim0, const char *links_under)
{
    cella_tree_limits lim = lim0 ? *lim0 : cella_tree_default_limits();
    unpack_job j = {L, a, &lim, links_under};
    return tree_publish_dir(dir, unpack_fill, &j);
}

static struct archive *reader_new(const cella_archive_lib *L)
{
    struct archive *a = L->archive_read_new();
    if (a && (L->archive_read_support_format_tar(a) != ARCHIVE_OK ||
              L->archive_read_support_filter_none(a) != ARCHIVE_OK)) {
        L->archive_read_free(a);
        a = NULL;
    }
    return a;
}

cella_res cella_tree_unpack(const char *tarball, const char *dir, const cella_tree_limits *lim)
{
    return tree_unpack_links(tarball, dir, lim, NULL);
}

cella_res tree_unpack_links(const char *tarball, const char *dir, const cella_tree_limits *lim,
                            const char *links_under)
{
    const cella_archive_lib *L;
    CELLA_TRY(cella_archive_lib_get(&L)); /* before any file is opened */
    int fd = open(tarball, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    CELLA_ENSURE(fd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, tarball,
                 "cannot open: %s", strerror(errno));
    struct archive *a = reader_new(L);
    cella_res r = CELLA_OK_RES;
    if (!a)
        r = cella_fail(CELLA_E_NOMEM, tarball, "out of memory");
    else if (L->archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_PARSE, tarball, "tar: %s", L->archive_error_string(a));
    if (cella_ok(r)) {
        r = unpack_archive(L, a, dir, lim, links_under);
        if (!cella_ok(r) && cella_error_code() == CELLA_E_PARSE && !strcmp(cella_error_where(), "tar"))
            cella_error_set_where(tarball);
    }
    if (a)
        L->archive_read_free(a);
    close(fd);
    return r;
}

cella_res cella_tree_unpack_mem(cella_slice tar, const char *dir, const cella_tree_limits *lim)
{
    const cella_archive_lib *L;
    CELLA_TRY(cella_archive_lib_get(&L));
    struct archive *a = reader_new(L);
    CELLA_ENSURE(a, CELLA_E_NOMEM, "tar", "out of memory");
    cella_res r = CELLA_OK_RES;
    if (L->archive_read_open_memory(a, tar.p, tar.len) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_PARSE, "tar", "%s", L->archive_error_string(a));
    if (cella_ok(r))
        r = unpack_archive(L, a, dir, lim, NULL);
    L->archive_read_free(a);
    return r;
}
