/* Directory trees: a sorted walk that never follows links, and deterministic
 * tarballs (pack) unpacked without ever leaving the destination (unpack). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/internal.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "crypto/aead.h"

#define IO_CHUNK CELLA_IO_CHUNK
#define MAX_ENTRIES_WALK CELLA_MAX_ENTRIES_WALK

/* Walking a tree: app/tree_walk.c (no libarchive there, for cella-runtime). */

static uint32_t norm_mode(mode_t m, char type)
{
    return (type == 'd' || (m & S_IXUSR)) ? 0755u : 0644u;
}

/* ---- packing ------------------------------------------------------------------------------ */

typedef struct {
    int fd;
    EVP_MD_CTX *md;
    int err; /* errno of the first write failure */
} pack_sink;

static la_ssize_t sink_write(struct archive *a, void *ud, const void *buf, size_t n)
{
    (void)a;
    pack_sink *s = ud;
    const uint8_t *p = buf;
    size_t left = n;
    while (left) {
        ssize_t k = write(s->fd, p, left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            s->err = k < 0 ? errno : EIO;
            return -1;
        }
        p += k;
        left -= (size_t)k;
    }
    if (!EVP_DigestUpdate(s->md, buf, n)) {
        s->err = EIO;
        return -1;
    }
    return (la_ssize_t)n;
}

static cella_res pack_entry(struct archive *a, struct archive_entry *ae, int rootfd,
                            const tree_ent *e, bool exact, uint8_t *buf)
{
    archive_entry_clear(ae);
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_mtime(ae, 0, 0);
    archive_entry_set_uid(ae, 0);
    archive_entry_set_gid(ae, 0);
    archive_entry_set_uname(ae, "");
    archive_entry_set_gname(ae, "");
    if (e->type == 'd') {
        archive_entry_set_filetype(ae, AE_IFDIR);
        archive_entry_set_perm(ae, exact ? tree_image_mode(e->mode, 'd') : 0755);
        archive_entry_set_size(ae, 0);
        CELLA_ENSURE(archive_write_header(a, ae) == ARCHIVE_OK, CELLA_E_IO, e->path,
                     "tar: %s", archive_error_string(a));
        return CELLA_OK_RES;
    }
    if (e->type == 'l') {
        CELLA_ENSURE(exact, CELLA_E_PATH, e->path, "symbolic links are not allowed");
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_perm(ae, 0777);
        archive_entry_set_size(ae, 0);
        archive_entry_set_symlink(ae, e->target);
        CELLA_ENSURE(archive_write_header(a, ae) == ARCHIVE_OK, CELLA_E_IO, e->path,
                     "tar: %s", archive_error_string(a));
        return CELLA_OK_RES;
    }
    int fd;
    struct stat st;
    CELLA_TRY(tree_open_listed(rootfd, e->path, &fd, &st));
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, exact ? tree_image_mode(st.st_mode, 'f') : norm_mode(st.st_mode, 'f'));
    archive_entry_set_size(ae, st.st_size);
    cella_res r = CELLA_OK_RES;
    if (archive_write_header(a, ae) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_IO, e->path, "tar: %s", archive_error_string(a));
    uint64_t total = 0;
    while (cella_ok(r)) {
        ssize_t k = read(fd, buf, IO_CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = cella_fail(CELLA_E_IO, e->path, "read: %s", strerror(errno));
            break;
        }
        if (k == 0)
            break;
        total += (uint64_t)k;
        if (total > (uint64_t)st.st_size) {
            r = cella_fail(CELLA_E_IO, e->path, "file changed while reading");
            break;
        }
        if (archive_write_data(a, buf, (size_t)k) != k)
            r = cella_fail(CELLA_E_IO, e->path, "tar: %s", archive_error_string(a));
    }
    if (cella_ok(r) && total != (uint64_t)st.st_size)
        r = cella_fail(CELLA_E_IO, e->path, "file changed while reading");
    close(fd);
    return r;
}


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

static cella_res write_tar(int rootfd, const tree_list *l, bool exact, pack_sink *s,
                           const char *out_path)
{
    struct archive *a = archive_write_new();
    struct archive_entry *ae = archive_entry_new();
    uint8_t *buf = malloc(IO_CHUNK);
    cella_res r = CELLA_OK_RES;
    if (!a || !ae || !buf)
        r = cella_fail(CELLA_E_NOMEM, out_path, "out of memory");
    else if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
             archive_write_add_filter_none(a) != ARCHIVE_OK ||
             archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
             archive_write_open2(a, s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_IO, out_path, "tar: %s", archive_error_string(a));
    for (size_t i = 0; cella_ok(r) && i < l->n; i++)
        r = pack_entry(a, ae, rootfd, &l->v[i], exact, buf);
    if (cella_ok(r) && archive_write_close(a) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_IO, out_path, "tar: %s%s%s", archive_error_string(a),
                       s->err ? ": " : "", s->err ? strerror(s->err) : "");
    if (a)
        archive_write_free(a);
    if (ae)
        archive_entry_free(ae);
    free(buf);
    return r;
}

cella_res tree_pack_listed(int rootfd, const tree_list *l, bool exact, const char *out_path,
                           uint8_t checksum[static 32])
{
    int pfd = -1;
    char base[256], tmp[300];
    CELLA_TRY(cella_open_parent(out_path, &pfd, base, sizeof base));
    cella_res r = tree_temp_name(tmp, sizeof tmp, base);
    pack_sink s = {-1, EVP_MD_CTX_new(), 0};
    if (cella_ok(r) && (!s.md || !EVP_DigestInit_ex(s.md, cella_md_sha256(), NULL)))
        r = cella_fail(CELLA_E_CRYPTO, out_path, "SHA-256 unavailable");
    if (cella_ok(r)) {
        s.fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (s.fd < 0)
            r = cella_fail(CELLA_E_IO, out_path, "cannot create: %s", strerror(errno));
    }
    if (cella_ok(r))
        r = write_tar(rootfd, l, exact, &s, out_path);
    unsigned int dl = 0;
    if (cella_ok(r) && !EVP_DigestFinal_ex(s.md, checksum, &dl))
        r = cella_fail(CELLA_E_CRYPTO, out_path, "SHA-256 failed");
    if (cella_ok(r))
        r = cella_fsync_fd(s.fd, out_path);
    if (s.fd >= 0)
        close(s.fd);
    if (cella_ok(r) && renameat(pfd, tmp, pfd, base) != 0)
        r = cella_fail(CELLA_E_IO, out_path, "rename: %s", strerror(errno));
    if (cella_ok(r))
        r = cella_fsync_dir(pfd, ".", out_path);
    if (!cella_ok(r) && s.fd >= 0)
        unlinkat(pfd, tmp, 0);
    EVP_MD_CTX_free(s.md);
    close(pfd);
    return r;
}

cella_res cella_tree_pack(const char *dir, const char *out_path, uint8_t checksum[static 32])
{
    int rootfd;
    tree_list l;
    CELLA_TRY(tree_list_dir(dir, NULL, &rootfd, &l));
    cella_res r = tree_pack_listed(rootfd, &l, false, out_path, checksum);
    tree_free(&l);
    close(rootfd);
    return r;
}

/* ---- unpacking ------------------------------------------------------------------------------ */

cella_tree_limits cella_tree_default_limits(void)
{
    return (cella_tree_limits){.max_file = 4ull << 30, .max_total = 16ull << 30,
                               .max_entries = 100000};
}

static cella_res extract_file(struct archive *a, int stage, const char *path, int64_t size,
                              mode_t mode, uint64_t *total, const cella_tree_limits *lim,
                              uint8_t *buf)
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
        la_ssize_t k = archive_read_data(a, buf, IO_CHUNK);
        if (k < 0) {
            r = cella_fail(CELLA_E_PARSE, path, "tar: %s", archive_error_string(a));
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

static cella_res unpack_entries(struct archive *a, int stage, const cella_tree_limits *lim,
                                const char *links_under)
{
    struct archive_entry *ae;
    uint64_t total = 0;
    uint32_t count = 0;
    uint8_t *buf = malloc(IO_CHUNK);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, NULL, "out of memory");
    cella_res r = CELLA_OK_RES;
    char path[CELLA_APP_MAX_PATH + 8];
    for (;;) {
        int st = archive_read_next_header(a, &ae);
        if (st == ARCHIVE_EOF)
            break;
        if (st != ARCHIVE_OK) {
            r = cella_fail(CELLA_E_PARSE, "tar", "%s", archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname(ae);
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
        mode_t type = archive_entry_filetype(ae);
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
        bool is_link = archive_entry_symlink(ae) || type == AE_IFLNK;
        if (archive_entry_hardlink(ae) || (is_link && !below(p, links_under))) {
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
            const char *target = archive_entry_symlink(ae);
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
                r = chmod_dir(stage, p, archive_entry_perm(ae));
            if (!cella_ok(r))
                break;
            continue;
        }
        if (type != AE_IFREG) {
            r = cella_fail(CELLA_E_PATH, p, "special files are not allowed in an archive");
            break;
        }
        int64_t size = archive_entry_size(ae);
        if (!archive_entry_size_is_set(ae) || size < 0 || (uint64_t)size > lim->max_file ||
            (uint64_t)size > lim->max_total - total) {
            r = cella_fail(CELLA_E_TOOBIG, p, "file above the size limits");
            break;
        }
        mode_t mode = links_under ? tree_image_mode(archive_entry_perm(ae), 'f')
                                  : ((archive_entry_perm(ae) & S_IXUSR) ? 0755 : 0644);
        r = extract_file(a, stage, p, size, mode, &total, lim, buf);
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
    struct archive *a;
    const cella_tree_limits *lim;
    const char *links_under;
} unpack_job;

static cella_res unpack_fill(int stage, void *ud)
{
    unpack_job *j = ud;
    return unpack_entries(j->a, stage, j->lim, j->links_under);
}

static cella_res unpack_archive(struct archive *a, const char *dir, const cella_tree_limits *lim0,
                                const char *links_under)
{
    cella_tree_limits lim = lim0 ? *lim0 : cella_tree_default_limits();
    unpack_job j = {a, &lim, links_under};
    return tree_publish_dir(dir, unpack_fill, &j);
}

static struct archive *reader_new(void)
{
    struct archive *a = archive_read_new();
    if (a && (archive_read_support_format_tar(a) != ARCHIVE_OK ||
              archive_read_support_filter_none(a) != ARCHIVE_OK)) {
        archive_read_free(a);
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
    int fd = open(tarball, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    CELLA_ENSURE(fd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, tarball,
                 "cannot open: %s", strerror(errno));
    struct archive *a = reader_new();
    cella_res r = CELLA_OK_RES;
    if (!a)
        r = cella_fail(CELLA_E_NOMEM, tarball, "out of memory");
    else if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_PARSE, tarball, "tar: %s", archive_error_string(a));
    if (cella_ok(r)) {
        r = unpack_archive(a, dir, lim, links_under);
        if (!cella_ok(r) && cella_error_code() == CELLA_E_PARSE && !strcmp(cella_error_where(), "tar"))
            cella_error_set_where(tarball);
    }
    if (a)
        archive_read_free(a);
    close(fd);
    return r;
}

cella_res cella_tree_unpack_mem(cella_slice tar, const char *dir, const cella_tree_limits *lim)
{
    struct archive *a = reader_new();
    CELLA_ENSURE(a, CELLA_E_NOMEM, "tar", "out of memory");
    cella_res r = CELLA_OK_RES;
    if (archive_read_open_memory(a, tar.p, tar.len) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_PARSE, "tar", "%s", archive_error_string(a));
    if (cella_ok(r))
        r = unpack_archive(a, dir, lim, NULL);
    archive_read_free(a);
    return r;
}
