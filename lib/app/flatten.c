/* Flattening image layers onto one root file system (app/flatten.h).
 *
 * Every path is opened one component at a time with O_NOFOLLOW beneath the
 * root, so nothing a layer holds can make the import write outside it: an
 * entry whose parent path goes through a symbolic link (or a file) of the
 * image is refused, naming it. A layer that replaces a link by a directory
 * (an explicit directory entry) is applied as overlayfs would. */
#include "app/flatten.h"
#include "app/archive_lib.h"

/* libarchive, through its table (app/archive_lib.h): loaded by the maker of
 * every archive object this file is handed. */
#define AR cella_archive_lib_loaded()

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/internal.h"
#include "core/fs.h"
#include "core/safepath.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WHERE_MAX (CELLA_APP_MAX_PATH + 64)

/* ---- the paths a layer wrote (an opaque directory keeps them) --------------------------- */

struct path_set {
    char **slot;
    size_t cap, n;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool set_has(const path_set *s, const char *p)
{
    if (!s || !s->cap)
        return false;
    for (size_t i = fnv1a(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i])
            return false;
        if (!strcmp(s->slot[i], p))
            return true;
    }
}

static cella_res set_grow(path_set *s)
{
    size_t nc = s->cap ? s->cap * 2 : 1024;
    char **ns = calloc(nc, sizeof *ns);
    CELLA_ENSURE(ns, CELLA_E_NOMEM, "import", "out of memory");
    for (size_t k = 0; k < s->cap; k++) {
        if (!s->slot[k])
            continue;
        size_t i = fnv1a(s->slot[k]) & (nc - 1);
        while (ns[i])
            i = (i + 1) & (nc - 1);
        ns[i] = s->slot[k];
    }
    free(s->slot);
    s->slot = ns;
    s->cap = nc;
    return CELLA_OK_RES;
}

/* Adds `p` and its ancestors: a directory the layer wrote into is its too. */
static cella_res set_add(path_set *s, const char *p)
{
    char buf[CELLA_APP_MAX_PATH + 1];
    snprintf(buf, sizeof buf, "%s", p);
    for (;;) {
        if (!set_has(s, buf)) {
            if (2 * (s->n + 1) > s->cap)
                CELLA_TRY(set_grow(s));
            size_t i = fnv1a(buf) & (s->cap - 1);
            while (s->slot[i])
                i = (i + 1) & (s->cap - 1);
            s->slot[i] = cella_xstrdup(buf);
            CELLA_ENSURE(s->slot[i], CELLA_E_NOMEM, "import", "out of memory");
            s->n++;
        }
        char *slash = strrchr(buf, '/');
        if (!slash)
            return CELLA_OK_RES;
        *slash = '\0';
    }
}

static void set_clear(path_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

void flatten_state_free(flatten_state *st)
{
    if (st->seen)
        set_clear(st->seen);
    free(st->seen);
    st->seen = NULL;
}

/* ---- paths ------------------------------------------------------------------------------- */

/* An entry's name as a path relative to the root: leading "./" and "/" and
 * trailing "/" dropped; "" is the root itself. Then the bundle's path rules
 * and the depth and length limits. */
static cella_res norm_name(const flatten_state *st, const char *name, char *out, size_t cap)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    while (name[0] == '/')
        name++;
    size_t n = strlen(name);
    char where[WHERE_MAX];
    snprintf(where, sizeof where, "layer %zu: %.*s", st->layer, CELLA_APP_MAX_PATH, name);
    CELLA_ENSURE(n < cap && n <= st->lim.max_path, CELLA_E_TOOBIG, where,
                 "path longer than %u bytes", st->lim.max_path);
    memcpy(out, name, n + 1);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    if (n == 0 || !strcmp(out, "."))
        return out[0] = '\0', CELLA_OK_RES;
    CELLA_TRY(cella_app_check_relpath(out, where));
    uint32_t depth = 1;
    for (const char *c = out; *c; c++)
        depth += *c == '/';
    CELLA_ENSURE(depth <= st->lim.max_depth, CELLA_E_TOOBIG, where,
                 "directories nested deeper than %u", st->lim.max_depth);
    return CELLA_OK_RES;
}

/* Opens directory `dir` ("" is the root) one component at a time, never
 * following a link; with `create`, missing directories are made (0755). */
static cella_res open_dir(const flatten_state *st, const char *dir, bool create, int *out,
                          const char *where)
{
    char buf[CELLA_APP_MAX_PATH + 1];
    snprintf(buf, sizeof buf, "%s", dir);
    int cur = dup(st->rootfd);
    CELLA_ENSURE(cur >= 0, CELLA_E_IO, where, "dup: %s", strerror(errno));
    for (char *comp = buf, *next; *comp; comp = next) {
        char *slash = strchr(comp, '/');
        next = slash ? slash + 1 : comp + strlen(comp);
        if (slash)
            *slash = '\0';
        int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create && mkdirat(cur, comp, 0700) == 0) {
            fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0 && fchmod(fd, 0755) != 0) {
                close(fd);
                fd = -1;
            }
        }
        int err = errno;
        close(cur);
        if (fd < 0 && (err == ELOOP || err == ENOTDIR))
            return cella_fail(CELLA_E_PATH, where,
                              "the path goes through a symbolic link or a file of the image "
                              "('%s'); import does not follow links", buf);
        CELLA_ENSURE(fd >= 0, err == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, where,
                     "cannot open directory '%s': %s", buf, strerror(err));
        cur = fd;
        if (slash)
            *slash = '/';
    }
    *out = cur;
    return CELLA_OK_RES;
}

/* Splits `p` into its parent (opened, created as needed) and last component. */
static cella_res open_parent(const flatten_state *st, char *p, bool create, int *pfd,
                             const char **base, const char *where)
{
    char *slash = strrchr(p, '/');
    if (!slash) {
        *base = p;
        return open_dir(st, "", false, pfd, where);
    }
    *slash = '\0';
    cella_res r = open_dir(st, p, create, pfd, where);
    *slash = '/';
    *base = slash + 1;
    return r;
}

/* Removes whatever is at `base` (a directory with its contents), if anything. */
static cella_res remove_at(int pfd, const char *base, const char *where)
{
    struct stat sb;
    if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return CELLA_OK_RES;
    if (S_ISDIR(sb.st_mode))
        cella_rm_tree(pfd, base);
    else
        unlinkat(pfd, base, 0);
    CELLA_ENSURE(fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) != 0, CELLA_E_IO, where,
                 "cannot remove the lower layer's entry");
    return CELLA_OK_RES;
}

/* ---- entries ----------------------------------------------------------------------------- */

static cella_res copy_data(flatten_state *st, struct archive *a, int fd, uint64_t size,
                           const char *where)
{
    uint8_t *buf = malloc(CELLA_IO_CHUNK);
    CELLA_ENSURE(buf, CELLA_E_NOMEM, where, "out of memory");
    cella_res r = CELLA_OK_RES;
    uint64_t got = 0;
    while (cella_ok(r)) {
        la_ssize_t k = AR->archive_read_data(a, buf, CELLA_IO_CHUNK);
        if (k < 0) {
            r = cella_fail(CELLA_E_PARSE, where, "tar: %s", AR->archive_error_string(a));
            break;
        }
        if (k == 0)
            break;
        got += (uint64_t)k;
        if (got > size) {
            r = cella_fail(CELLA_E_PARSE, where, "more data than the entry declares");
            break;
        }
        r = cella_pwrite_full(fd, buf, (size_t)k, got - (uint64_t)k, where);
    }
    if (cella_ok(r) && got != size)
        r = cella_fail(CELLA_E_PARSE, where, "truncated entry");
    free(buf);
    st->total += got;
    return r;
}

/* A hard link of the image becomes a copy of its target (a file written by
 * this or a lower layer), with the target's mode. */
static cella_res copy_file(flatten_state *st, const char *target, int dst, mode_t *mode,
                           const char *where)
{
    char t[CELLA_APP_MAX_PATH + 8];
    CELLA_TRY(norm_name(st, target, t, sizeof t));
    int src = t[0] ? cella_open_beneath(st->rootfd, t, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0) : -1;
    CELLA_ENSURE(src >= 0, CELLA_E_PATH, where, "hard link to '%s', which is not a file of "
                 "the image", target);
    struct stat sb;
    cella_res r = CELLA_OK_RES;
    if (fstat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
        r = cella_fail(CELLA_E_PATH, where, "hard link to '%s', which is not a regular file",
                       target);
    else if ((uint64_t)sb.st_size > st->lim.max_total - st->total)
        r = cella_fail(CELLA_E_TOOBIG, where, "hard link copies above the size limit (%llu "
                       "bytes in all)", (unsigned long long)st->lim.max_total);
    uint8_t *buf = cella_ok(r) ? malloc(CELLA_IO_CHUNK) : NULL;
    if (cella_ok(r) && !buf)
        r = cella_fail(CELLA_E_NOMEM, where, "out of memory");
    for (uint64_t off = 0; cella_ok(r) && off < (uint64_t)sb.st_size;) {
        ssize_t k = pread(src, buf, CELLA_IO_CHUNK, (off_t)off);
        if (k <= 0) {
            r = cella_fail(CELLA_E_IO, where, "read of '%s' failed", target);
            break;
        }
        r = cella_pwrite_full(dst, buf, (size_t)k, off, where);
        off += (uint64_t)k;
    }
    free(buf);
    if (cella_ok(r)) {
        st->total += (uint64_t)sb.st_size;
        *mode = sb.st_mode;
    }
    close(src);
    return r;
}

static cella_res put_file(flatten_state *st, struct archive *a, struct archive_entry *ae,
                          int pfd, const char *base, const char *where)
{
    CELLA_TRY(remove_at(pfd, base, where));
    int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot create: %s", strerror(errno));
    mode_t mode = AR->archive_entry_perm(ae);
    const char *hl = AR->archive_entry_hardlink(ae);
    cella_res r = hl ? copy_file(st, hl, fd, &mode, where)
                     : copy_data(st, a, fd, (uint64_t)AR->archive_entry_size(ae), where);
    if (cella_ok(r) && fchmod(fd, tree_image_mode(mode, 'f')) != 0)
        r = cella_fail(CELLA_E_IO, where, "chmod: %s", strerror(errno));
    close(fd);
    return r;
}

static cella_res put_dir(int pfd, const char *base, mode_t perm, const char *where)
{
    struct stat sb;
    if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(sb.st_mode))
        CELLA_TRY(remove_at(pfd, base, where)); /* a directory replaces a file or link */
    if (mkdirat(pfd, base, 0700) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, where, "mkdir: %s", strerror(errno));
    int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, where, "cannot open directory: %s", strerror(errno));
    int rc = fchmod(fd, tree_image_mode(perm, 'd'));
    close(fd);
    CELLA_ENSURE(rc == 0, CELLA_E_IO, where, "chmod: %s", strerror(errno));
    return CELLA_OK_RES;
}

static cella_res put_link(int pfd, const char *base, const char *target, const char *where)
{
    size_t n = strlen(target);
    CELLA_ENSURE(n > 0 && n <= CELLA_APP_MAX_PATH, CELLA_E_PATH, where,
                 "symbolic link target empty or longer than %u bytes", CELLA_APP_MAX_PATH);
    CELLA_TRY(remove_at(pfd, base, where));
    CELLA_ENSURE(symlinkat(target, pfd, base) == 0, CELLA_E_IO, where, "symlink: %s",
                 strerror(errno));
    return CELLA_OK_RES;
}

/* ".wh..wh..opq": what lower layers put in the directory goes; what this
 * layer writes there (before or after the marker) stays. */
static cella_res opaque(flatten_state *st, const char *dir, const char *where)
{
    int dfd;
    CELLA_TRY(open_dir(st, dir, true, &dfd, where));
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return cella_fail(CELLA_E_IO, where, "cannot list directory: %s", strerror(errno));
    }
    cella_res r = CELLA_OK_RES;
    char child[CELLA_APP_MAX_PATH + 300];
    for (struct dirent *e; cella_ok(r) && (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(child, sizeof child, "%s%s%s", dir, *dir ? "/" : "", e->d_name);
        if (!set_has(st->seen, child))
            r = remove_at(dirfd(d), e->d_name, where);
    }
    closedir(d);
    return cella_ok(r) ? set_add(st->seen, dir[0] ? dir : ".") : r;
}

/* ".wh.NAME": NAME of a lower layer goes (nothing if it is not there). */
static cella_res whiteout(flatten_state *st, char *p, const char *base, const char *where)
{
    const char *name = base + strlen(WH_PREFIX);
    CELLA_ENSURE(*name && strcmp(name, ".") && strcmp(name, ".."), CELLA_E_PATH, where,
                 "invalid whiteout");
    char victim[CELLA_APP_MAX_PATH + 1];
    snprintf(victim, sizeof victim, "%.*s%s", (int)(base - p), p, name);
    if (set_has(st->seen, victim))
        return CELLA_OK_RES; /* whiteouts hide lower layers only */
    int pfd;
    const char *vb;
    cella_res r = open_parent(st, victim, false, &pfd, &vb, where);
    if (!cella_ok(r))
        return cella_error_code() == CELLA_E_NOTFOUND ? CELLA_OK_RES : r;
    r = remove_at(pfd, vb, where);
    close(pfd);
    return r;
}

static cella_res check_limits(flatten_state *st, struct archive_entry *ae, const char *where)
{
    CELLA_ENSURE(++st->entries <= st->lim.max_entries, CELLA_E_TOOBIG, where,
                 "more than %u entries in the image's layers", st->lim.max_entries);
    if (AR->archive_entry_filetype(ae) != AE_IFREG || AR->archive_entry_hardlink(ae))
        return CELLA_OK_RES;
    int64_t size = AR->archive_entry_size(ae);
    CELLA_ENSURE(AR->archive_entry_size_is_set(ae) && size >= 0, CELLA_E_PARSE, where,
                 "entry without a size");
    CELLA_ENSURE((uint64_t)size <= st->lim.max_file, CELLA_E_TOOBIG, where,
                 "file of %lld bytes, above the limit of %llu", (long long)size,
                 (unsigned long long)st->lim.max_file);
    CELLA_ENSURE((uint64_t)size <= st->lim.max_total - st->total, CELLA_E_TOOBIG, where,
                 "the image's files exceed the limit of %llu bytes in all",
                 (unsigned long long)st->lim.max_total);
    return CELLA_OK_RES;
}

static cella_res apply_entry(flatten_state *st, struct archive *a, struct archive_entry *ae)
{
    const char *name = AR->archive_entry_pathname(ae);
    char where[WHERE_MAX];
    snprintf(where, sizeof where, "layer %zu: %.*s", st->layer, CELLA_APP_MAX_PATH,
             name ? name : "?");
    CELLA_ENSURE(name, CELLA_E_PARSE, where, "entry without a usable name");
    CELLA_TRY(check_limits(st, ae, where));
    char p[CELLA_APP_MAX_PATH + 8];
    CELLA_TRY(norm_name(st, name, p, sizeof p));
    mode_t type = AR->archive_entry_filetype(ae);
    if (!p[0]) /* the root: its mode stays the bundle's */
        return CELLA_OK_RES;
    const char *slash = strrchr(p, '/');
    const char *bn = slash ? slash + 1 : p;
    if (!strcmp(bn, WH_OPAQUE)) {
        p[slash ? (size_t)(slash - p) : 0] = '\0';
        return opaque(st, p, where);
    }
    if (!strncmp(bn, WH_PREFIX WH_PREFIX, 2 * strlen(WH_PREFIX)))
        return CELLA_OK_RES; /* aufs metadata (.wh..wh.plnk...), no file of the image */
    if (!strncmp(bn, WH_PREFIX, strlen(WH_PREFIX)))
        return whiteout(st, p, bn, where);
    bool hard = AR->archive_entry_hardlink(ae) != NULL;
    CELLA_ENSURE(hard || type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK, CELLA_E_PATH,
                 where, "device nodes, FIFOs and sockets are not allowed in an image");
    int pfd;
    const char *base;
    CELLA_TRY(open_parent(st, p, true, &pfd, &base, where));
    cella_res r;
    if (hard || type == AE_IFREG)
        r = put_file(st, a, ae, pfd, base, where);
    else if (type == AE_IFDIR)
        r = put_dir(pfd, base, AR->archive_entry_perm(ae), where);
    else
        r = put_link(pfd, base, AR->archive_entry_symlink(ae) ? AR->archive_entry_symlink(ae) : "",
                     where);
    close(pfd);
    return cella_ok(r) ? set_add(st->seen, p) : r;
}

cella_res flatten_layer(flatten_state *st, struct archive *a)
{
    if (!st->seen) {
        st->seen = calloc(1, sizeof *st->seen);
        CELLA_ENSURE(st->seen, CELLA_E_NOMEM, "import", "out of memory");
    }
    set_clear(st->seen);
    for (;;) {
        struct archive_entry *ae;
        int rc = AR->archive_read_next_header(a, &ae);
        if (rc == ARCHIVE_EOF)
            return CELLA_OK_RES;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            char where[64];
            snprintf(where, sizeof where, "layer %zu", st->layer);
            return cella_fail(CELLA_E_PARSE, where, "tar: %s", AR->archive_error_string(a));
        }
        CELLA_TRY(apply_entry(st, a, ae));
    }
}
