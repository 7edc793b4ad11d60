/* Members of an image, from a directory or a tar archive (app/oci_src.h). */
#include "app/oci_src.h"
#include "app/archive_lib.h"

/* libarchive, through its table (app/archive_lib.h): loaded by the maker of
 * every archive object this file is handed. */
#define AR cella_archive_lib_loaded()

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/internal.h"
#include "core/safepath.h"
#include "crypto/aead.h"

#define NAME_MAX_LEN 511u
#define MAX_HOPS 8

/* Joins `base` (a directory, "" for the root) and `rel` into a normalised
 * path of the archive: "." dropped, ".." pops; false if it climbs above the
 * root or does not fit. */
static bool join_norm(const char *base, const char *rel, char *out, size_t cap)
{
    char tmp[2 * NAME_MAX_LEN + 4];
    if (rel[0] == '/')
        base = "";
    int n = snprintf(tmp, sizeof tmp, "%s/%s", base, rel);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return false;
    size_t len = 0;
    out[0] = '\0';
    for (char *save = NULL, *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            if (len == 0)
                return false;
            char *s = strrchr(out, '/');
            len = s ? (size_t)(s - out) : 0;
            out[len] = '\0';
            continue;
        }
        size_t cl = strlen(c);
        if (len + cl + 2 > cap)
            return false;
        if (len)
            out[len++] = '/';
        memcpy(out + len, c, cl + 1);
        len += cl;
    }
    return len > 0;
}

static struct archive *outer_open(oci_src *s)
{
    struct archive *a = AR->archive_read_new();
    if (!a)
        return NULL;
    AR->archive_read_support_format_tar(a);
    AR->archive_read_support_filter_none(a);
    AR->archive_read_support_filter_gzip(a); /* docker save | gzip */
    int rc = s->path ? AR->archive_read_open_filename(a, s->path, 64 * 1024)
                     : AR->archive_read_open_memory(a, s->mem.p, s->mem.len);
    if (rc != ARCHIVE_OK) {
        cella_res r = cella_fail(CELLA_E_PARSE, s->path ? s->path : "image", "tar: %s",
                                 AR->archive_error_string(a));
        (void)r;
        AR->archive_read_free(a);
        return NULL;
    }
    return a;
}

static cella_res add_member(oci_src *s, struct archive_entry *ae, uint32_t max)
{
    const char *name = AR->archive_entry_pathname(ae);
    char norm[NAME_MAX_LEN + 1], target[NAME_MAX_LEN + 1];
    mode_t type = AR->archive_entry_filetype(ae);
    const char *hl = AR->archive_entry_hardlink(ae), *sl = AR->archive_entry_symlink(ae);
    if (!name || !join_norm("", name, norm, sizeof norm))
        return CELLA_OK_RES; /* not a name the image's JSON can refer to */
    if (hl) {
        if (!join_norm("", hl, target, sizeof target))
            return CELLA_OK_RES;
    } else if (type == AE_IFLNK && sl) {
        char dir[NAME_MAX_LEN + 1];
        snprintf(dir, sizeof dir, "%s", norm);
        char *slash = strrchr(dir, '/');
        *(slash ? slash : dir) = '\0';
        if (!join_norm(dir, sl, target, sizeof target))
            return CELLA_OK_RES; /* points outside the archive: never used */
    } else if (type != AE_IFREG) {
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(s->n < max, CELLA_E_TOOBIG, s->path ? s->path : "image",
                 "more than %u members in the archive", max);
    src_member *nm = realloc(s->m, (s->n + 1) * sizeof *nm);
    CELLA_ENSURE(nm, CELLA_E_NOMEM, "image", "out of memory");
    s->m = nm;
    src_member *m = &s->m[s->n];
    m->name = cella_xstrdup(norm);
    m->link = (hl || type == AE_IFLNK) ? cella_xstrdup(target) : NULL;
    m->size = (uint64_t)AR->archive_entry_size(ae);
    m->ordinal = s->ordinal;
    s->n++;
    CELLA_ENSURE(m->name && (m->link || !(hl || type == AE_IFLNK)), CELLA_E_NOMEM, "image",
                 "out of memory");
    return CELLA_OK_RES;
}

static cella_res index_archive(oci_src *s, uint32_t max)
{
    struct archive *a = outer_open(s);
    if (!a)
        return (cella_res){.code = cella_error_code() ? cella_error_code() : CELLA_E_NOMEM};
    cella_res r = CELLA_OK_RES;
    s->ordinal = 0;
    for (;; s->ordinal++) {
        struct archive_entry *ae;
        int rc = AR->archive_read_next_header(a, &ae);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            r = cella_fail(CELLA_E_PARSE, s->path ? s->path : "image", "tar: %s",
                           AR->archive_error_string(a));
            break;
        }
        r = add_member(s, ae, max);
        if (!cella_ok(r))
            break;
    }
    AR->archive_read_free(a);
    return r;
}

cella_res src_open(oci_src *s, const char *image, uint32_t max)
{
    memset(s, 0, sizeof *s);
    s->dirfd = -1;
    s->label = image;
    struct stat st;
    CELLA_ENSURE(stat(image, &st) == 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, image,
                 "cannot open the image: %s", strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        s->dirfd = open(image, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CELLA_ENSURE(s->dirfd >= 0, CELLA_E_IO, image, "cannot open directory: %s",
                     strerror(errno));
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(S_ISREG(st.st_mode), CELLA_E_PARSE, image,
                 "neither an OCI layout directory nor a tar archive");
    s->path = image;
    const cella_archive_lib *L;
    CELLA_TRY(cella_archive_lib_get(&L)); /* before the first archive object */
    return index_archive(s, max);
}

cella_res src_open_mem(oci_src *s, cella_slice tar, uint32_t max)
{
    memset(s, 0, sizeof *s);
    s->dirfd = -1;
    s->label = "image";
    s->mem = tar;
    const cella_archive_lib *L;
    CELLA_TRY(cella_archive_lib_get(&L)); /* before the first archive object */
    return index_archive(s, max);
}

void src_close(oci_src *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->m[i].name);
        free(s->m[i].link);
    }
    free(s->m);
    if (s->dirfd >= 0)
        close(s->dirfd);
    memset(s, 0, sizeof *s);
    s->dirfd = -1;
}

/* The member `name` names, after links; NULL if none. */
static const src_member *find(const oci_src *s, const char *name)
{
    char cur[NAME_MAX_LEN + 1];
    if (!join_norm("", name, cur, sizeof cur))
        return NULL;
    for (int hop = 0; hop <= MAX_HOPS; hop++) {
        const src_member *m = NULL;
        for (size_t i = s->n; i-- > 0;) /* the last one wins, as tar extraction would */
            if (!strcmp(s->m[i].name, cur)) {
                m = &s->m[i];
                break;
            }
        if (!m || !m->link)
            return m;
        snprintf(cur, sizeof cur, "%s", m->link);
    }
    return NULL;
}

bool src_has(oci_src *s, const char *name)
{
    if (s->dirfd < 0)
        return find(s, name) != NULL;
    int fd = cella_open_beneath(s->dirfd, name, O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

cella_res stream_open(oci_src *s, const char *name, oci_stream *st)
{
    memset(st, 0, sizeof *st);
    st->src = s;
    st->fd = -1;
    snprintf(st->name, sizeof st->name, "%s", name);
    st->md = EVP_MD_CTX_new();
    CELLA_ENSURE(st->md && EVP_DigestInit_ex(st->md, cella_md_sha256(), NULL), CELLA_E_CRYPTO,
                 name, "SHA-256 unavailable");
    if (s->dirfd >= 0) {
        st->fd = cella_open_beneath(s->dirfd, name, O_RDONLY | O_CLOEXEC, 0);
        CELLA_ENSURE(st->fd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_PATH, name,
                     "cannot open the image's file: %s", strerror(errno));
        struct stat sb;
        CELLA_ENSURE(fstat(st->fd, &sb) == 0 && S_ISREG(sb.st_mode), CELLA_E_PARSE, name,
                     "not a regular file");
        return CELLA_OK_RES;
    }
    const src_member *m = find(s, name);
    CELLA_ENSURE(m, CELLA_E_NOTFOUND, name, "not in the image archive");
    st->outer = outer_open(s);
    CELLA_ENSURE(st->outer, cella_error_code() ? cella_error_code() : CELLA_E_NOMEM, name,
                 "cannot reopen the archive");
    struct archive_entry *ae;
    for (uint64_t i = 0; i <= m->ordinal; i++)
        CELLA_ENSURE(AR->archive_read_next_header(st->outer, &ae) >= ARCHIVE_WARN, CELLA_E_PARSE,
                     name, "tar: %s", AR->archive_error_string(st->outer));
    return CELLA_OK_RES;
}

long stream_read(oci_stream *st, void *buf, size_t n)
{
    long k;
    if (st->fd >= 0) {
        do
            k = read(st->fd, buf, n);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            (void)cella_fail(CELLA_E_IO, st->name, "read: %s", strerror(errno));
    } else {
        k = AR->archive_read_data(st->outer, buf, n);
        if (k < 0)
            (void)cella_fail(CELLA_E_PARSE, st->name, "tar: %s",
                             AR->archive_error_string(st->outer));
    }
    if (k > 0) {
        st->got += (uint64_t)k;
        EVP_DigestUpdate(st->md, buf, (size_t)k);
    }
    return k;
}

cella_res stream_finish(oci_stream *st, int64_t size, const uint8_t *sha, const char *what)
{
    uint8_t *buf = malloc(CELLA_IO_CHUNK);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, what, "out of memory");
    long k;
    while ((k = stream_read(st, buf, CELLA_IO_CHUNK)) > 0)
        ;
    free(buf);
    if (k < 0)
        return (cella_res){.code = cella_error_code()};
#ifdef CELLA_FUZZ_NO_DIGESTS
    /* Fuzz builds only (fuzz/CMakeLists.txt): mutated JSON and layers reach
     * the parsers that the digests guard in real builds. */
    sha = NULL;
    size = -1;
#endif
    uint8_t got[32];
    unsigned int dl = 0;
    CELLA_ENSURE(EVP_DigestFinal_ex(st->md, got, &dl), CELLA_E_CRYPTO, what, "SHA-256 failed");
    CELLA_ENSURE(size < 0 || st->got == (uint64_t)size, CELLA_E_AUTH, what,
                 "size %llu differs from its descriptor's %lld",
                 (unsigned long long)st->got, (long long)size);
    CELLA_ENSURE(!sha || !memcmp(got, sha, 32), CELLA_E_AUTH, what,
                 "SHA-256 digest differs from the one the image declares");
    return CELLA_OK_RES;
}

void stream_close(oci_stream *st)
{
    if (st->fd >= 0)
        close(st->fd);
    if (st->outer)
        AR->archive_read_free(st->outer);
    EVP_MD_CTX_free(st->md);
    memset(st, 0, sizeof *st);
    st->fd = -1;
}

cella_res src_read_small(oci_src *s, const char *name, size_t max, int64_t size,
                         const uint8_t *sha, uint8_t **out, size_t *len)
{
    oci_stream st;
    cella_res r = stream_open(s, name, &st);
    uint8_t *buf = cella_ok(r) ? malloc(max + 1) : NULL;
    if (cella_ok(r) && !buf)
        r = cella_fail(CELLA_E_NOMEM, name, "out of memory");
    size_t n = 0;
    while (cella_ok(r)) {
        long k = stream_read(&st, buf + n, max + 1 - n);
        if (k < 0)
            r = (cella_res){.code = cella_error_code()};
        else if (k == 0)
            break;
        else if ((n += (size_t)k) > max)
            r = cella_fail(CELLA_E_TOOBIG, name, "larger than %zu bytes", max);
    }
    if (cella_ok(r))
        r = stream_finish(&st, size, sha, name);
    stream_close(&st);
    if (!cella_ok(r)) {
        free(buf);
        return r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CELLA_OK_RES;
}
