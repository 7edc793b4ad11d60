/* The on-disk blob store. */
#include "blobs/store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"
#include "crypto/aead.h"

cella_res cella_blob_store_open(const char *dir, cella_blob_store *st)
{
    st->dirfd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, dir, "cannot create directory: %s", strerror(errno));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    if (mkdirat(fd, "sha256", 0700) != 0 && errno != EEXIST) {
        close(fd);
        return cella_fail(CELLA_E_IO, dir, "cannot create sha256/: %s", strerror(errno));
    }
    st->dirfd = openat(fd, "sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(fd);
    CELLA_ENSURE(st->dirfd >= 0, CELLA_E_IO, dir, "cannot open sha256/: %s", strerror(errno));
    return CELLA_OK_RES;
}

void cella_blob_store_close(cella_blob_store *st)
{
    if (st->dirfd >= 0)
        close(st->dirfd);
    st->dirfd = -1;
}

cella_res cella_blob_parse_id(const char *hex, uint8_t sha[static 32])
{
    size_t n = strlen(hex);
    CELLA_ENSURE(n == 64, CELLA_E_PARSE, "sha256", "expected 64 hex digits");
    for (size_t i = 0; i < n; i++)
        CELLA_ENSURE((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'),
                     CELLA_E_PARSE, "sha256", "expected 64 lowercase hex digits");
    return cella_hex_decode(sha, 32, hex, n, "sha256");
}

static cella_res write_iov(int fd, const struct iovec *iov, size_t niov, const char *what)
{
    uint64_t off = 0;
    for (size_t i = 0; i < niov; i++) {
        CELLA_TRY(cella_pwrite_full(fd, iov[i].iov_base, iov[i].iov_len, off, what));
        off += iov[i].iov_len;
    }
    return CELLA_OK_RES;
}

cella_res cella_blob_store_put(cella_blob_store *st, const uint8_t sha[static 32],
                               const struct iovec *iov, size_t niov, bool *created)
{
    char name[65];
    cella_hex_encode(name, sha, 32, false);
    *created = false;
    /* Hash first: a mismatch writes nothing. */
    uint8_t got[32];
    unsigned int dl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, cella_md_sha256(), NULL);
    for (size_t i = 0; ok && i < niov; i++)
        ok = EVP_DigestUpdate(md, iov[i].iov_base, iov[i].iov_len);
    ok = ok && EVP_DigestFinal_ex(md, got, &dl);
    EVP_MD_CTX_free(md);
    CELLA_ENSURE(ok, CELLA_E_CRYPTO, name, "SHA-256 failed");
    CELLA_ENSURE(cella_ct_eq(got, sha, 32), CELLA_E_AUTH, name,
                 "content does not match its SHA-256");
    struct stat sb;
    if (fstatat(st->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
        return CELLA_OK_RES;
    uint8_t rnd[8];
    char tmp[96], rh[17];
    CELLA_TRY(cella_random(rnd, sizeof rnd));
    cella_hex_encode(rh, rnd, sizeof rnd, false);
    snprintf(tmp, sizeof tmp, ".tmp-%s", rh);
    int fd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, name, "cannot create: %s", strerror(errno));
    cella_res r = write_iov(fd, iov, niov, name);
    if (!cella_ok(r)) {
        close(fd);
        unlinkat(st->dirfd, tmp, 0);
        return r;
    }
    return cella_blob_store_adopt(st, sha, sha, tmp, fd, created);
}

cella_res cella_blob_store_adopt(cella_blob_store *st, const uint8_t sha[static 32],
                                 const uint8_t got[static 32], const char *tmp, int fd,
                                 bool *created)
{
    char name[65];
    cella_hex_encode(name, sha, 32, false);
    *created = false;
    cella_res r = CELLA_OK_RES;
    if (!cella_ct_eq(got, sha, 32))
        r = cella_fail(CELLA_E_AUTH, name, "content does not match its SHA-256");
    struct stat sb;
    bool exists = cella_ok(r) && fstatat(st->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
    if (cella_ok(r) && !exists)
        r = cella_fsync_fd(fd, name);
    close(fd);
    if (cella_ok(r) && !exists) {
        if (renameat2(st->dirfd, tmp, st->dirfd, name, RENAME_NOREPLACE) == 0)
            *created = true;
        else if (errno != EEXIST) /* EEXIST: a concurrent put of the same blob won */
            r = cella_fail(CELLA_E_IO, name, "rename: %s", strerror(errno));
    }
    if (!*created)
        unlinkat(st->dirfd, tmp, 0);
    if (cella_ok(r) && *created)
        r = cella_fsync_dir(st->dirfd, ".", name);
    return r;
}

cella_res cella_blob_store_open_blob(cella_blob_store *st, const uint8_t sha[static 32], int *fd,
                                     uint64_t *size)
{
    char name[65];
    cella_hex_encode(name, sha, 32, false);
    *fd = openat(st->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0 && errno == ENOENT)
        return cella_fail(CELLA_E_NOTFOUND, name, "no such blob");
    if (*fd < 0)
        return cella_fail(CELLA_E_IO, name, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(*fd);
        *fd = -1;
        return cella_fail(CELLA_E_IO, name, "not a regular file");
    }
    *size = (uint64_t)sb.st_size;
    return CELLA_OK_RES;
}
