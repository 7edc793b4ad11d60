#include "volume/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/keyfile.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "core/stage.h"
#include "volume/engine.h"

struct cella_volume {
    char *dir;
    int dirfd;
    cella_vol_meta meta;
    uint8_t tag[CELLA_VOL_TAG_BYTES];
};

/* ==== open / verify ======================================================= */

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, CELLA_VOL_ID_BYTES); }

static cella_res check_listing(const cella_volume *v)
{
    const cella_vol_meta *m = &v->meta;
    size_t nfiles = 0;
    for (uint32_t i = 0; i < m->count; i++)
        nfiles += m->entries[i].type == CELLA_VOL_FILE;
    uint8_t(*ids)[CELLA_VOL_ID_BYTES + 1] = calloc(nfiles ? nfiles : 1, sizeof *ids);
    CELLA_ENSURE(ids, CELLA_E_NOMEM, v->dir, "out of memory");
    size_t k = 0;
    for (uint32_t i = 0; i < m->count; i++)
        if (m->entries[i].type == CELLA_VOL_FILE)
            memcpy(ids[k++], m->entries[i].file_id, CELLA_VOL_ID_BYTES);
    qsort(ids, nfiles, sizeof *ids, id_cmp); /* unique: checked by the parser */
    cella_res r = CELLA_OK_RES;

    int fd = dup(v->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        free(ids);
        return cella_fail(CELLA_E_IO, v->dir, "cannot list volume: %s", strerror(errno));
    }
    rewinddir(d);
    struct dirent *de;
    char where[1400];
    while (cella_ok(r) && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, CELLA_VOL_META_NAME))
            continue;
        uint8_t id[CELLA_VOL_ID_BYTES + 1] = {0};
        snprintf(where, sizeof where, "%s/%s", v->dir, n);
        bool known = strlen(n) == 32 &&
                     cella_ok(cella_hex_decode(id, CELLA_VOL_ID_BYTES, n, 32, where)) &&
                     bsearch(id, ids, nfiles, sizeof *ids, id_cmp);
        if (!known) {
            r = cella_fail(CELLA_E_AUTH, where,
                           "unexpected file in volume (added, or left from another volume "
                           "or an interrupted update)");
            break;
        }
        uint8_t *slot = bsearch(id, ids, nfiles, sizeof *ids, id_cmp);
        slot[CELLA_VOL_ID_BYTES] = 1;
    }
    closedir(d);
    for (size_t i = 0; i < nfiles && cella_ok(r); i++) {
        if (!ids[i][CELLA_VOL_ID_BYTES]) {
            vol_cfile_where(where, sizeof where, v->dir, ids[i]);
            r = cella_fail(CELLA_E_AUTH, where, "ciphertext file missing (deleted or renamed)");
        }
    }
    free(ids);
    return r;
}

static cella_res check_file(const cella_volume *v, const cella_vol_entry *e)
{
    char where[1400], name[33];
    vol_cfile_where(where, sizeof where, v->dir, e->file_id);
    vol_id_hex(name, e->file_id);
    int fd = openat(v->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_AUTH, where, "ciphertext file cannot be opened: %s",
                 strerror(errno));
    struct stat st;
    uint8_t hb[CELLA_VOL_FILE_HEADER_BYTES];
    cella_res r = CELLA_OK_RES;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        r = cella_fail(CELLA_E_AUTH, where, "ciphertext file is not a regular file");
    else if ((uint64_t)st.st_size < CELLA_VOL_FILE_HEADER_BYTES)
        r = cella_fail(CELLA_E_AUTH, where, "ciphertext file truncated (%s)", e->path);
    else
        r = cella_pread_full(fd, hb, sizeof hb, 0, where);
    close(fd);
    CELLA_TRY(r);
    cella_vol_file_header h;
    r = cella_vol_file_header_parse(cella_slice_of(hb, sizeof hb), &h);
    if (!cella_ok(r)) {
        cella_error_set_where(where);
        return r;
    }
    CELLA_ENSURE(memcmp(h.volume_id, v->meta.volume_id, CELLA_VOL_ID_BYTES) == 0, CELLA_E_AUTH,
                 where, "ciphertext file belongs to another volume");
    CELLA_ENSURE(memcmp(h.file_id, e->file_id, CELLA_VOL_ID_BYTES) == 0, CELLA_E_AUTH, where,
                 "ciphertext file holds another file's data (renamed or swapped)");
    CELLA_ENSURE(h.size == e->size && h.chunk_size == e->chunk_size, CELLA_E_AUTH, where,
                 "ciphertext file header does not match the metadata (%s)", e->path);
    uint64_t want = cella_vol_file_bytes(e->size, e->chunk_size);
    CELLA_ENSURE((uint64_t)st.st_size == want, CELLA_E_AUTH, where,
                 "ciphertext file of %s is %s (%llu bytes, expected %llu)", e->path,
                 (uint64_t)st.st_size < want ? "truncated" : "extended",
                 (unsigned long long)st.st_size, (unsigned long long)want);
    return CELLA_OK_RES;
}

cella_res cella_vol_open(const char *vol_dir, const uint8_t vkey[static 32],
                         const uint8_t *expected_tag, cella_volume **out)
{
    *out = NULL;
    cella_volume *v = calloc(1, sizeof *v);
    CELLA_ENSURE(v, CELLA_E_NOMEM, vol_dir, "out of memory");
    v->dirfd = -1;
    v->dir = strdup(vol_dir);
    cella_res r = CELLA_OK_RES;
    char where[1400];
    snprintf(where, sizeof where, "%s/%s", vol_dir, CELLA_VOL_META_NAME);
    if (!v->dir) {
        r = cella_fail(CELLA_E_NOMEM, vol_dir, "out of memory");
        goto fail;
    }
    v->dirfd = open(vol_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (v->dirfd < 0) {
        r = cella_fail(errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, vol_dir,
                       "cannot open volume directory: %s", strerror(errno));
        goto fail;
    }
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    r = cella_read_file(v->dirfd, CELLA_VOL_META_NAME, CELLA_VOL_MAX_META_BYTES, false, &raw,
                        &rawlen);
    if (r.code == CELLA_E_NOTFOUND)
        r = cella_fail(CELLA_E_NOTFOUND, where, "not a cella volume (no metadata file)");
    if (!cella_ok(r)) {
        cella_error_set_where(where);
        goto fail;
    }
    r = cella_vol_meta_open(cella_slice_of(raw, rawlen), vkey, &v->meta, v->tag);
    free(raw);
    if (!cella_ok(r)) {
        cella_error_set_where(where);
        goto fail;
    }
    if (expected_tag && !cella_ct_eq(expected_tag, v->tag, CELLA_VOL_TAG_BYTES)) {
        char got[33], want[33];
        cella_hex_encode(got, v->tag, CELLA_VOL_TAG_BYTES, false);
        cella_hex_encode(want, expected_tag, CELLA_VOL_TAG_BYTES, false);
        r = cella_fail(CELLA_E_ROLLBACK, vol_dir,
                       "volume tag %s is not the expected %s: stale (rolled back) or "
                       "replaced volume",
                       got, want);
        goto fail;
    }
    CELLA_GUARD(r, check_listing(v), fail);
    for (uint32_t i = 0; i < v->meta.count; i++)
        if (v->meta.entries[i].type == CELLA_VOL_FILE)
            CELLA_GUARD(r, check_file(v, &v->meta.entries[i]), fail);
    *out = v;
    return CELLA_OK_RES;
fail:
    cella_vol_close(v);
    return r;
}

void cella_vol_close(cella_volume *v)
{
    if (!v)
        return;
    if (v->dirfd >= 0)
        close(v->dirfd);
    cella_vol_meta_free(&v->meta);
    free(v->dir);
    free(v);
}

const cella_vol_meta *cella_vol_meta_of(const cella_volume *v) { return &v->meta; }

void cella_vol_tag(const cella_volume *v, uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    memcpy(tag, v->tag, CELLA_VOL_TAG_BYTES);
}

static void engine_init(engine *en, enum engine_op op, const cella_volume *v,
                        const cella_vol_opts *opts)
{
    memset(en, 0, sizeof *en);
    en->op = op;
    en->volume_id = v->meta.volume_id;
    en->vol_dirfd = v->dirfd;
    en->vol_dir = v->dir;
    en->src_dirfd = en->out_dirfd = -1;
    en->opts = opts;
}

cella_res cella_vol_verify(cella_volume *v, const cella_vol_opts *opts)
{
    engine en;
    engine_init(&en, OP_VERIFY, v, opts);
    return vol_engine_all(&en, &v->meta);
}

/* ==== decrypt ============================================================== */

static cella_res create_outputs(int sfd, const cella_vol_meta *m)
{
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        if (e->type == CELLA_VOL_DIR) {
            CELLA_ENSURE(cella_mkdirs_beneath(sfd, e->path, 0700) == 0, CELLA_E_IO, e->path,
                         "cannot create directory: %s", strerror(errno));
            continue;
        }
        const char *slash = strrchr(e->path, '/');
        if (slash) {
            char parent[CELLA_VOL_MAX_PATH + 1];
            memcpy(parent, e->path, (size_t)(slash - e->path));
            parent[slash - e->path] = '\0';
            CELLA_ENSURE(cella_mkdirs_beneath(sfd, parent, 0700) == 0, CELLA_E_IO, e->path,
                         "cannot create directory: %s", strerror(errno));
        }
        int fd = cella_open_beneath(sfd, e->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CELLA_ENSURE(fd >= 0, CELLA_E_IO, e->path, "cannot create output file: %s",
                     strerror(errno));
        int rc = ftruncate(fd, (off_t)e->size);
        close(fd);
        CELLA_ENSURE(rc == 0, CELLA_E_IO, e->path, "cannot size output file: %s",
                     strerror(errno));
    }
    return CELLA_OK_RES;
}

static cella_res apply_modes(int sfd, const cella_vol_meta *m)
{
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        int fd = cella_open_beneath(sfd, e->path,
                                    e->type == CELLA_VOL_DIR ? O_RDONLY | O_DIRECTORY : O_RDONLY, 0);
        CELLA_ENSURE(fd >= 0, CELLA_E_IO, e->path, "cannot open output: %s", strerror(errno));
        /* Directories stay traversable by their owner whatever was recorded. */
        mode_t mode = e->type == CELLA_VOL_DIR ? (e->mode | 0700) : e->mode;
        int rc = fchmod(fd, mode & 0777);
        close(fd);
        CELLA_ENSURE(rc == 0, CELLA_E_IO, e->path, "cannot set mode: %s", strerror(errno));
    }
    return CELLA_OK_RES;
}

/* Writes the decrypted tree beneath the empty directory `outfd`. */
static cella_res decrypt_into(cella_volume *v, int outfd, const cella_vol_opts *opts)
{
    CELLA_TRY(create_outputs(outfd, &v->meta));
    engine en;
    engine_init(&en, OP_DECRYPT_FILE, v, opts);
    en.out_dirfd = outfd;
    CELLA_TRY(vol_engine_all(&en, &v->meta));
    return apply_modes(outfd, &v->meta);
}

cella_res cella_vol_decrypt(cella_volume *v, const char *out_dir, const cella_vol_opts *opts)
{
    CELLA_TRY(cella_stage_check_new(AT_FDCWD, out_dir, true));
    cella_stage s;
    CELLA_TRY(cella_stage_open(&s, AT_FDCWD, out_dir, true, 0700));
    cella_res r = decrypt_into(v, s.fd, opts);
    if (cella_ok(r))
        r = cella_stage_publish(&s, false);
    cella_stage_abort(&s);
    return r;
}

/* Removes everything inside the directory `fd`, keeping the directory. */
static void empty_dir(int fd)
{
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            cella_rm_tree(fd, de->d_name);
    closedir(d);
}

cella_res cella_vol_decrypt_private(cella_volume *v, const char *dir, const cella_vol_opts *opts)
{
    CELLA_TRY(cella_stage_check_new(AT_FDCWD, dir, true));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    cella_res r = decrypt_into(v, fd, opts);
    if (!cella_ok(r))
        empty_dir(fd);
    close(fd);
    return r;
}

/* ==== random access ======================================================== */

cella_res cella_vol_read(cella_volume *v, const cella_vol_entry *e, uint64_t offset, void *buf,
                         size_t n, size_t *got)
{
    *got = 0;
    CELLA_ENSURE(e->type == CELLA_VOL_FILE, CELLA_E_USAGE, e->path, "not a regular file");
    if (offset >= e->size || n == 0)
        return CELLA_OK_RES;
    if (n > e->size - offset)
        n = (size_t)(e->size - offset);
    char where[1400], name[33];
    vol_cfile_where(where, sizeof where, v->dir, e->file_id);
    vol_id_hex(name, e->file_id);
    int fd = openat(v->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot open: %s", strerror(errno));
    cella_gcm *g = cella_gcm_new();
    uint8_t *ct = malloc((size_t)e->chunk_size + CELLA_GCM_TAG_BYTES);
    uint8_t *pt = cella_secure_alloc(e->chunk_size);
    cella_res r = (g && ct && pt) ? cella_gcm_set_key(g, e->key, false)
                                  : cella_fail(CELLA_E_NOMEM, where, "out of memory");
    uint64_t nch = cella_vol_chunk_count(e->size, e->chunk_size);
    uint8_t *dst = buf;
    while (cella_ok(r) && *got < n) {
        uint64_t pos = offset + *got;
        uint64_t i = pos / e->chunk_size;
        size_t clen = (size_t)((i + 1 == nch) ? e->size - i * e->chunk_size : e->chunk_size);
        r = cella_pread_full(fd, ct, clen + CELLA_GCM_TAG_BYTES,
                             cella_vol_chunk_offset(i, e->chunk_size), where);
        if (!cella_ok(r))
            break;
        r = cella_vol_chunk_open(g, v->meta.volume_id, e->file_id, i, i + 1 == nch, ct, clen, pt);
        if (r.code == CELLA_E_AUTH)
            r = cella_fail(CELLA_E_AUTH, where, "chunk %llu of %s failed authentication",
                           (unsigned long long)i, e->path);
        if (!cella_ok(r))
            break;
        size_t in_chunk = (size_t)(pos - i * e->chunk_size);
        size_t take = clen - in_chunk;
        if (take > n - *got)
            take = n - *got;
        memcpy(dst + *got, pt + in_chunk, take);
        *got += take;
    }
    close(fd);
    cella_gcm_free(g);
    free(ct);
    if (pt)
        cella_secure_free(pt, e->chunk_size);
    if (!cella_ok(r)) {
        cella_wipe(buf, n);
        *got = 0;
    }
    return r;
}

cella_res cella_vol_cat(cella_volume *v, const cella_vol_entry *e, int out_fd,
                        const cella_vol_opts *opts)
{
    CELLA_ENSURE(e->type == CELLA_VOL_FILE, CELLA_E_USAGE, e->path, "not a regular file");
    /* Every core decrypts jobs of the file into its own buffer; each job is
     * written as soon as it authenticated and all jobs before it are out, so
     * only authenticated bytes are written, in order, and memory stays at
     * one job per thread whatever the file's size. */
    engine en;
    engine_init(&en, OP_CAT, v, opts);
    en.out_fd = out_fd;
    size_t cap = 0;
    cella_res r = vol_engine_add_file(&en, &cap, e);
    if (cella_ok(r))
        r = vol_engine_run(&en);
    free(en.jobs);
    return r;
}

/* ==== encrypt ============================================================== */

typedef struct {
    char *path;
    uint8_t type;
    uint16_t mode;
    uint64_t size;
} scan_entry;

typedef struct {
    scan_entry *v;
    size_t n, cap;
    size_t path_bytes;
} scan_list;

static cella_res scan_push(scan_list *l, const char *path, uint8_t type, uint16_t mode,
                           uint64_t size)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        scan_entry *nv = realloc(l->v, ncap * sizeof *nv);
        CELLA_ENSURE(nv, CELLA_E_NOMEM, path, "out of memory");
        l->v = nv;
        l->cap = ncap;
    }
    char *p = strdup(path);
    CELLA_ENSURE(p, CELLA_E_NOMEM, path, "out of memory");
    l->v[l->n++] = (scan_entry){p, type, mode, size};
    l->path_bytes += strlen(p) + 1;
    return CELLA_OK_RES;
}

static void scan_free(scan_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
}

static cella_res scan_dir(int rootfd, const char *src_dir, const char *rel, scan_list *l,
                          int depth)
{
    char where[CELLA_VOL_MAX_PATH + 1200];
    snprintf(where, sizeof where, "%s%s%s", src_dir, *rel ? "/" : "", rel);
    CELLA_ENSURE(depth < 256, CELLA_E_PATH, where, "directory tree too deep");
    int fd = *rel ? cella_open_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY, 0)
                  : dup(rootfd);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot open directory: %s", strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, where, "cannot list directory: %s", strerror(errno));
    }
    rewinddir(d);
    cella_res r = CELLA_OK_RES;
    struct dirent *de;
    char child[CELLA_VOL_MAX_PATH + 2];
    while (cella_ok(r) && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int len = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(where, sizeof where, "%s/%s", src_dir, child);
        if (len < 0 || (size_t)len > CELLA_VOL_MAX_PATH) {
            r = cella_fail(CELLA_E_PATH, where, "path too long");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = cella_fail(CELLA_E_IO, where, "cannot stat: %s", strerror(errno));
            break;
        }
        uint16_t mode = (uint16_t)(st.st_mode & 0777);
        if (S_ISDIR(st.st_mode)) {
            r = scan_push(l, child, CELLA_VOL_DIR, mode, 0);
            if (cella_ok(r))
                r = scan_dir(rootfd, src_dir, child, l, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            r = scan_push(l, child, CELLA_VOL_FILE, mode, (uint64_t)st.st_size);
        } else if (S_ISLNK(st.st_mode)) {
            r = cella_fail(CELLA_E_UNSUPPORTED, where,
                           "symbolic links are not stored in volumes (copy the target instead)");
        } else {
            r = cella_fail(CELLA_E_UNSUPPORTED, where,
                           "only regular files and directories can be encrypted");
        }
    }
    closedir(d);
    return r;
}


/* A new file (mode 0600) in a directory of ours: never an existing one. */
static cella_res create_new(int dirfd, const char *name, const char *where, int *fd)
{
    *fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    CELLA_ENSURE(*fd >= 0, CELLA_E_IO, where, "cannot create: %s", strerror(errno));
    return CELLA_OK_RES;
}

static cella_res write_new_file(int dirfd, const char *name, const void *p, size_t n,
                                const char *where)
{
    int fd;
    CELLA_TRY(create_new(dirfd, name, where, &fd));
    cella_res r = cella_pwrite_full(fd, p, n, 0, where);
    close(fd);
    return r;
}
/* Builds metadata for the scanned tree with fresh file ids and keys. */
static cella_res build_meta(const scan_list *l, uint32_t chunk, cella_vol_meta *m)
{
    CELLA_ENSURE(l->n < UINT32_MAX, CELLA_E_TOOBIG, NULL, "too many files");
    CELLA_TRY(cella_vol_meta_alloc(m, (uint32_t)l->n, l->path_bytes));
    char *p = m->paths;
    for (size_t i = 0; i < l->n; i++) {
        cella_vol_entry *e = &m->entries[i];
        size_t len = strlen(l->v[i].path);
        memcpy(p, l->v[i].path, len + 1);
        e->path = p;
        p += len + 1;
        e->type = l->v[i].type;
        e->mode = l->v[i].mode;
        if (e->type == CELLA_VOL_FILE) {
            e->size = l->v[i].size;
            e->chunk_size = chunk;
            CELLA_TRY(cella_random(e->file_id, sizeof e->file_id));
            CELLA_TRY(cella_random(e->key, sizeof e->key));
        }
    }
    return cella_vol_meta_validate(m, true);
}

static cella_res create_cfiles(int vfd, const char *vol_dir, const cella_vol_meta *m)
{
    char name[33], where[1400];
    uint8_t hb[CELLA_VOL_FILE_HEADER_BYTES];
    for (uint32_t i = 0; i < m->count; i++) {
        const cella_vol_entry *e = &m->entries[i];
        if (e->type != CELLA_VOL_FILE)
            continue;
        vol_id_hex(name, e->file_id);
        vol_cfile_where(where, sizeof where, vol_dir, e->file_id);
        int fd;
        CELLA_TRY(create_new(vfd, name, where, &fd));
        cella_vol_file_header h = {.chunk_size = e->chunk_size, .size = e->size};
        memcpy(h.volume_id, m->volume_id, CELLA_VOL_ID_BYTES);
        memcpy(h.file_id, e->file_id, CELLA_VOL_ID_BYTES);
        cella_vol_file_header_encode(&h, hb);
        cella_res r = cella_pwrite_full(fd, hb, sizeof hb, 0, where);
        if (cella_ok(r) && ftruncate(fd, (off_t)cella_vol_file_bytes(e->size, e->chunk_size)) != 0)
            r = cella_fail(CELLA_E_IO, where, "cannot size file: %s", strerror(errno));
        close(fd);
        CELLA_TRY(r);
    }
    return CELLA_OK_RES;
}

/* Looks at what VOL_DIR holds now: nothing (absent or an empty directory), or
 * a volume that opens with `vkey` (its metadata in `old`, its directory's
 * identity in `old_st`, *has_old set). Anything else is refused. */
static cella_res examine_voldir(const char *vol_dir, const uint8_t vkey[static 32],
                                cella_vol_meta *old, bool *has_old, struct stat *old_st)
{
    *has_old = false;
    struct stat st;
    if (stat(vol_dir, &st) != 0) {
        CELLA_ENSURE(errno == ENOENT, CELLA_E_IO, vol_dir, "cannot inspect: %s", strerror(errno));
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(S_ISDIR(st.st_mode), CELLA_E_EXISTS, vol_dir,
                 "exists and is not a directory (choose another VOL_DIR)");
    char meta[PATH_MAX];
    snprintf(meta, sizeof meta, "%s/%s", vol_dir, CELLA_VOL_META_NAME);
    if (lstat(meta, &st) == 0) {
        /* Updating requires the key: open (and fully check) the old volume. */
        cella_volume *v;
        CELLA_TRY(cella_vol_open(vol_dir, vkey, NULL, &v));
        cella_res r = fstat(v->dirfd, old_st) == 0
                          ? CELLA_OK_RES
                          : cella_fail(CELLA_E_IO, vol_dir, "cannot stat: %s", strerror(errno));
        *old = v->meta;
        v->meta = (cella_vol_meta){0};
        cella_vol_close(v);
        *has_old = cella_ok(r);
        return r;
    }
    if (!cella_ok(cella_stage_check_new(AT_FDCWD, vol_dir, true)))
        return cella_fail(CELLA_E_EXISTS, vol_dir,
                          "directory is neither empty nor a cella volume (refusing to mix "
                          "files: choose another VOL_DIR, or empty this one)");
    return CELLA_OK_RES;
}

/* realpath() of `path`, or of its parent directory plus its last component
 * when `path` does not exist yet. NULL if neither resolves. */
static char *resolve_dest(const char *path)
{
    char *real = realpath(path, NULL);
    if (real || errno != ENOENT)
        return real;
    char dir[PATH_MAX];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n >= sizeof dir)
        return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    const char *parent = ".";
    if (slash == dir)
        parent = "/";
    else if (slash)
        parent = dir;
    if (slash)
        *slash = '\0';
    char *rp = realpath(parent, NULL), *out = NULL;
    if (rp && asprintf(&out, "%s/%s", strcmp(rp, "/") ? rp : "", base) < 0)
        out = NULL;
    free(rp);
    return out;
}

/* The source tree and the volume must not contain each other, or encryption
 * would read its own output. */
static cella_res check_disjoint(const char *src_dir, const char *vol_dir)
{
    char *a = realpath(src_dir, NULL), *b = resolve_dest(vol_dir);
    cella_res r = CELLA_OK_RES;
    if (!a || !b) {
        r = cella_fail(CELLA_E_IO, vol_dir, "cannot resolve path: %s", strerror(errno));
    } else {
        size_t la = strlen(a), lb = strlen(b);
        bool a_in_b = !strncmp(a, b, lb) && (a[lb] == '/' || a[lb] == '\0' || lb == 1);
        bool b_in_a = !strncmp(b, a, la) && (b[la] == '/' || b[la] == '\0' || la == 1);
        if (a_in_b || b_in_a)
            r = cella_fail(CELLA_E_USAGE, vol_dir,
                           "the volume directory and the source directory overlap");
    }
    free(a);
    free(b);
    return r;
}

/* Encrypts into a staging directory beside vol_dir and publishes it in one
 * step. With `new_key_path`, `vkey` is a fresh key saved there just before
 * publishing: a failed run leaves no key file. */
static cella_res encrypt_dir(const char *src_dir, const char *vol_dir,
                             const uint8_t vkey[static 32], const char *new_key_path,
                             const cella_vol_opts *opts, uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    uint32_t chunk = opts && opts->chunk_size ? opts->chunk_size : CELLA_VOL_DEFAULT_CHUNK;
    CELLA_ENSURE(chunk >= CELLA_VOL_MIN_CHUNK && chunk <= CELLA_VOL_MAX_CHUNK &&
                     (chunk & (chunk - 1)) == 0,
                 CELLA_E_USAGE, "--chunk-size", "chunk size must be a power of two from 4 KiB "
                                                "to 16 MiB");
    int srcfd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(srcfd >= 0, CELLA_E_IO, src_dir, "cannot open source directory: %s",
                 strerror(errno));
    scan_list l = {0};
    cella_vol_meta m = {0}, old = {0};
    struct stat old_st;
    bool has_old = false;
    cella_stage s = {.done = true};
    cella_res r = scan_dir(srcfd, src_dir, "", &l, 0);
    if (cella_ok(r))
        r = build_meta(&l, chunk, &m);
    scan_free(&l);
    if (!cella_ok(r))
        goto out;
    CELLA_GUARD(r, examine_voldir(vol_dir, vkey, &old, &has_old, &old_st), out);
    CELLA_GUARD(r, check_disjoint(src_dir, vol_dir), out);
    if (has_old) {
        memcpy(m.volume_id, old.volume_id, CELLA_VOL_ID_BYTES);
        m.version = old.version + 1;
    } else {
        CELLA_GUARD(r, cella_random(m.volume_id, CELLA_VOL_ID_BYTES), out);
        m.version = 1;
    }
    CELLA_GUARD(r, cella_stage_open(&s, AT_FDCWD, vol_dir, true, 0700), out);
    CELLA_GUARD(r, create_cfiles(s.fd, vol_dir, &m), out);
    engine en;
    memset(&en, 0, sizeof en);
    en.op = OP_SEAL;
    en.volume_id = m.volume_id;
    en.src_dirfd = srcfd;
    en.vol_dirfd = s.fd;
    en.vol_dir = vol_dir;
    en.opts = opts;
    CELLA_GUARD(r, vol_engine_all(&en, &m), out);
    /* The staging directory is private and published whole by one rename,
     * after the publish syncs everything in it: the metadata is written in
     * place, with no staging of its own. */
    cella_buf sealed;
    cella_buf_init(&sealed, false);
    r = cella_vol_meta_seal(&m, vkey, &sealed, tag);
    if (cella_ok(r))
        r = write_new_file(s.fd, CELLA_VOL_META_NAME, sealed.p, sealed.len, vol_dir);
    cella_buf_free(&sealed);
    /* The key before the volume: a published volume without its key is lost. */
    bool key_saved = false;
    if (cella_ok(r) && new_key_path)
        key_saved = cella_ok(r = cella_keyfile_save(new_key_path, vkey));
    if (cella_ok(r))
        r = has_old ? cella_stage_publish_exchange(&s, &old_st) : cella_stage_publish(&s, false);
    if (!cella_ok(r) && key_saved && !s.published)
        unlink(new_key_path); /* ours, and no volume uses it */
out:
    cella_stage_abort(&s);
    close(srcfd);
    cella_vol_meta_free(&m);
    cella_vol_meta_free(&old);
    return r;
}

cella_res cella_vol_encrypt_dir(const char *src_dir, const char *vol_dir,
                                const uint8_t vkey[static 32], const cella_vol_opts *opts,
                                uint8_t tag[static CELLA_VOL_TAG_BYTES])
{
    return encrypt_dir(src_dir, vol_dir, vkey, NULL, opts, tag);
}

cella_res cella_vol_encrypt_keyfile(const char *src_dir, const char *vol_dir,
                                    const char *key_path, const cella_vol_opts *opts,
                                    uint8_t tag[static CELLA_VOL_TAG_BYTES], bool *created)
{
    *created = false;
    CELLA_KEY32(key);
    bool fresh = false;
    CELLA_TRY(cella_keyfile_load_or_new(key_path, key.b, &fresh));
    CELLA_TRY(encrypt_dir(src_dir, vol_dir, key.b, fresh ? key_path : NULL, opts, tag));
    *created = fresh;
    return CELLA_OK_RES;
}
