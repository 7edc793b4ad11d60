/* Deterministic tarballs of directory trees (pack), written with libarchive.
 * Unpacking is in tree_unpack.c (libarchive loaded on first use). */
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
#include "app/archive_lib.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "crypto/aead.h"

/* libarchive, through its table (app/archive_lib.h): loaded by the maker of
 * every archive object this file is handed. */
#define AR cella_archive_lib_loaded()

#define IO_CHUNK CELLA_IO_CHUNK
#define MAX_ENTRIES_WALK CELLA_MAX_ENTRIES_WALK

/* Walking a tree: app/tree_walk.c; the temporary names of staging:
 * tree_temp_name in tree_unpack.c (neither needs libarchive at start). */

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
    AR->archive_entry_clear(ae);
    AR->archive_entry_set_pathname(ae, e->path);
    AR->archive_entry_set_mtime(ae, 0, 0);
    AR->archive_entry_set_uid(ae, 0);
    AR->archive_entry_set_gid(ae, 0);
    AR->archive_entry_set_uname(ae, "");
    AR->archive_entry_set_gname(ae, "");
    if (e->type == 'd') {
        AR->archive_entry_set_filetype(ae, AE_IFDIR);
        AR->archive_entry_set_perm(ae, exact ? tree_image_mode(e->mode, 'd') : 0755);
        AR->archive_entry_set_size(ae, 0);
        CELLA_ENSURE(AR->archive_write_header(a, ae) == ARCHIVE_OK, CELLA_E_IO, e->path,
                     "tar: %s", AR->archive_error_string(a));
        return CELLA_OK_RES;
    }
    if (e->type == 'l') {
        CELLA_ENSURE(exact, CELLA_E_PATH, e->path, "symbolic links are not allowed");
        AR->archive_entry_set_filetype(ae, AE_IFLNK);
        AR->archive_entry_set_perm(ae, 0777);
        AR->archive_entry_set_size(ae, 0);
        AR->archive_entry_set_symlink(ae, e->target);
        CELLA_ENSURE(AR->archive_write_header(a, ae) == ARCHIVE_OK, CELLA_E_IO, e->path,
                     "tar: %s", AR->archive_error_string(a));
        return CELLA_OK_RES;
    }
    int fd;
    struct stat st;
    CELLA_TRY(tree_open_listed(rootfd, e->path, &fd, &st));
    AR->archive_entry_set_filetype(ae, AE_IFREG);
    AR->archive_entry_set_perm(ae, exact ? tree_image_mode(st.st_mode, 'f') : norm_mode(st.st_mode, 'f'));
    AR->archive_entry_set_size(ae, st.st_size);
    cella_res r = CELLA_OK_RES;
    if (AR->archive_write_header(a, ae) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_IO, e->path, "tar: %s", AR->archive_error_string(a));
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
        if (AR->archive_write_data(a, buf, (size_t)k) != k)
            r = cella_fail(CELLA_E_IO, e->path, "tar: %s", AR->archive_error_string(a));
    }
    if (cella_ok(r) && total != (uint64_t)st.st_size)
        r = cella_fail(CELLA_E_IO, e->path, "file changed while reading");
    close(fd);
    return r;
}

static cella_res write_tar(int rootfd, const tree_list *l, bool exact, pack_sink *s,
                           const char *out_path)
{
    const cella_archive_lib *L;
    CELLA_TRY(cella_archive_lib_get(&L)); /* before the first archive object */
    struct archive *a = L->archive_write_new();
    struct archive_entry *ae = L->archive_entry_new();
    uint8_t *buf = malloc(IO_CHUNK);
    cella_res r = CELLA_OK_RES;
    if (!a || !ae || !buf)
        r = cella_fail(CELLA_E_NOMEM, out_path, "out of memory");
    else if (AR->archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
             AR->archive_write_add_filter_none(a) != ARCHIVE_OK ||
             AR->archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
             AR->archive_write_open2(a, s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_IO, out_path, "tar: %s", AR->archive_error_string(a));
    for (size_t i = 0; cella_ok(r) && i < l->n; i++)
        r = pack_entry(a, ae, rootfd, &l->v[i], exact, buf);
    if (cella_ok(r) && AR->archive_write_close(a) != ARCHIVE_OK)
        r = cella_fail(CELLA_E_IO, out_path, "tar: %s%s%s", AR->archive_error_string(a),
                       s->err ? ": " : "", s->err ? strerror(s->err) : "");
    if (a)
        AR->archive_write_free(a);
    if (ae)
        AR->archive_entry_free(ae);
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
