/* App bundles: manifest, measurement, deterministic tarballs. */
#include "app/app.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/safepath.h"
#include "core/secure.h"
#include "crypto/aead.h"

#define IO_CHUNK (256u * 1024u)
#define MAX_ENTRIES_WALK 100000u

/* ---- small helpers ----------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

cella_res cella_app_check_relpath(const char *p, const char *where)
{
    size_t n = strlen(p);
    CELLA_ENSURE(n > 0, CELLA_E_PATH, where, "empty path");
    CELLA_ENSURE(n <= CELLA_APP_MAX_PATH, CELLA_E_PATH, where, "path longer than %u bytes",
                 CELLA_APP_MAX_PATH);
    CELLA_ENSURE(p[0] != '/', CELLA_E_PATH, where, "absolute path not allowed: '%s'", p);
    const char *s = p;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        CELLA_ENSURE(len > 0, CELLA_E_PATH, where, "empty path component in '%s'", p);
        CELLA_ENSURE(!(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.'),
                     CELLA_E_PATH, where, "'.' or '..' component in '%s'", p);
        if (!e)
            break;
        s = e + 1;
    }
    return CELLA_OK_RES;
}

static cella_res check_abspath(const char *p, const char *where)
{
    CELLA_ENSURE(p[0] == '/', CELLA_E_PATH, where, "host file must be an absolute path: '%s'", p);
    CELLA_ENSURE(p[1] != '\0', CELLA_E_PATH, where, "host file may not be '/'");
    return cella_app_check_relpath(p + 1, where);
}

static bool env_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* ---- manifest -------------------------------------------------------------------------- */

#define MF "cella-app.json"
static const char *const k_fields[] = {"entrypoint", "args",       "heap_mb", "stack_kb",
                                       "env",        "host_files", "runtime"};
#define NFIELDS (sizeof k_fields / sizeof k_fields[0])

static cella_res get_string(json_t *v, const char *field, size_t max, char **out)
{
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, field, "expected a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    CELLA_ENSURE(strlen(s) == n, CELLA_E_PARSE, field, "NUL byte in string");
    CELLA_ENSURE(n <= max, CELLA_E_PARSE, field, "string longer than %zu bytes", max);
    *out = xstrdup(s);
    CELLA_ENSURE(*out, CELLA_E_NOMEM, field, "out of memory");
    return CELLA_OK_RES;
}

static cella_res get_strv(json_t *v, const char *field, size_t max_n, size_t max_len,
                          char ***out, size_t *n)
{
    CELLA_ENSURE(json_is_array(v), CELLA_E_PARSE, field, "expected an array of strings");
    size_t k = json_array_size(v);
    CELLA_ENSURE(k <= max_n, CELLA_E_PARSE, field, "more than %zu entries", max_n);
    char **a = calloc(k ? k : 1, sizeof *a);
    CELLA_ENSURE(a, CELLA_E_NOMEM, field, "out of memory");
    char where[64];
    for (size_t i = 0; i < k; i++) {
        snprintf(where, sizeof where, "%s[%zu]", field, i);
        cella_res r = get_string(json_array_get(v, i), where, max_len, &a[i]);
        if (!cella_ok(r)) {
            free_strv(a, k);
            return r;
        }
    }
    *out = a;
    *n = k;
    return CELLA_OK_RES;
}

static cella_res get_u32(json_t *v, const char *field, uint32_t lo, uint32_t hi, uint32_t *out)
{
    CELLA_ENSURE(json_is_integer(v), CELLA_E_PARSE, field, "expected an integer");
    json_int_t x = json_integer_value(v);
    CELLA_ENSURE(x >= (json_int_t)lo && x <= (json_int_t)hi, CELLA_E_PARSE, field,
                 "must be between %u and %u", lo, hi);
    *out = (uint32_t)x;
    return CELLA_OK_RES;
}

/* Sorts and refuses duplicates. */
static cella_res sort_unique(char **v, size_t n, const char *field)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 1; i < n; i++)
        CELLA_ENSURE(strcmp(v[i - 1], v[i]) != 0, CELLA_E_PARSE, field, "duplicate entry '%s'",
                     v[i]);
    return CELLA_OK_RES;
}

static cella_res parse_fields(json_t *root, cella_app_manifest *m)
{
    CELLA_ENSURE(json_is_object(root), CELLA_E_PARSE, MF, "expected a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        bool known = false;
        for (size_t i = 0; i < NFIELDS; i++)
            known |= !strcmp(key, k_fields[i]);
        char where[160];
        snprintf(where, sizeof where, MF ": %.120s", key);
        CELLA_ENSURE(known, CELLA_E_PARSE, where, "unknown field");
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        char where[64];
        snprintf(where, sizeof where, MF ": %s", k_fields[i]);
        CELLA_ENSURE(json_object_get(root, k_fields[i]), CELLA_E_PARSE, where, "missing field");
    }
    CELLA_TRY(get_string(json_object_get(root, "runtime"), MF ": runtime", 64, &m->runtime));
    CELLA_ENSURE(!strcmp(m->runtime, CELLA_APP_RUNTIME), CELLA_E_UNSUPPORTED, MF ": runtime",
                 "unsupported runtime '%s' (expected '%s')", m->runtime, CELLA_APP_RUNTIME);
    CELLA_TRY(get_string(json_object_get(root, "entrypoint"), MF ": entrypoint",
                         CELLA_APP_MAX_PATH, &m->entrypoint));
    CELLA_TRY(cella_app_check_relpath(m->entrypoint, MF ": entrypoint"));
    CELLA_ENSURE(strcmp(m->entrypoint, CELLA_APP_MANIFEST) != 0, CELLA_E_PARSE, MF ": entrypoint",
                 "the entrypoint cannot be the manifest");
    CELLA_TRY(get_strv(json_object_get(root, "args"), MF ": args", CELLA_APP_MAX_ARGS,
                       CELLA_APP_MAX_ARG_LEN, &m->args, &m->nargs));
    CELLA_TRY(get_u32(json_object_get(root, "heap_mb"), MF ": heap_mb", 1, CELLA_APP_MAX_HEAP_MB,
                      &m->heap_mb));
    CELLA_TRY(get_u32(json_object_get(root, "stack_kb"), MF ": stack_kb", CELLA_APP_MIN_STACK_KB,
                      CELLA_APP_MAX_STACK_KB, &m->stack_kb));
    CELLA_TRY(get_strv(json_object_get(root, "env"), MF ": env", CELLA_APP_MAX_ENV,
                       CELLA_APP_MAX_ENV_LEN, &m->env, &m->nenv));
    for (size_t i = 0; i < m->nenv; i++)
        CELLA_ENSURE(env_name_ok(m->env[i]), CELLA_E_PARSE, MF ": env",
                     "'%s' is not an environment variable name", m->env[i]);
    CELLA_TRY(sort_unique(m->env, m->nenv, MF ": env"));
    CELLA_TRY(get_strv(json_object_get(root, "host_files"), MF ": host_files",
                       CELLA_APP_MAX_HOST_FILES, CELLA_APP_MAX_PATH, &m->host_files,
                       &m->nhost_files));
    for (size_t i = 0; i < m->nhost_files; i++)
        CELLA_TRY(check_abspath(m->host_files[i], MF ": host_files"));
    CELLA_TRY(sort_unique(m->host_files, m->nhost_files, MF ": host_files"));
    return CELLA_OK_RES;
}

cella_res cella_app_manifest_parse(cella_slice json, cella_app_manifest *out)
{
    memset(out, 0, sizeof *out);
    CELLA_ENSURE(json.len <= CELLA_APP_MAX_MANIFEST, CELLA_E_TOOBIG, MF,
                 "manifest larger than %u bytes", CELLA_APP_MAX_MANIFEST);
    json_error_t je;
    json_t *root = json_loadb((const char *)json.p, json.len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cella_fail(CELLA_E_PARSE, MF, "invalid JSON at line %d: %s", je.line, je.text);
    cella_res r = parse_fields(root, out);
    json_decref(root);
    if (!cella_ok(r))
        cella_app_manifest_free(out);
    return r;
}

void cella_app_manifest_free(cella_app_manifest *m)
{
    free(m->entrypoint);
    free(m->runtime);
    free_strv(m->args, m->nargs);
    free_strv(m->env, m->nenv);
    free_strv(m->host_files, m->nhost_files);
    memset(m, 0, sizeof *m);
}

/* ---- walking a tree ----------------------------------------------------------------- */

typedef struct {
    char *path;
    char type; /* 'f' or 'd' */
} tree_ent;

typedef struct {
    tree_ent *v;
    size_t n, cap;
} tree_list;

static void tree_free(tree_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static cella_res tree_add(tree_list *l, const char *path, char type)
{
    CELLA_ENSURE(l->n < MAX_ENTRIES_WALK, CELLA_E_TOOBIG, path, "more than %u entries",
                 MAX_ENTRIES_WALK);
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        tree_ent *nv = realloc(l->v, nc * sizeof *nv);
        CELLA_ENSURE(nv, CELLA_E_NOMEM, path, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    char *p = xstrdup(path);
    CELLA_ENSURE(p, CELLA_E_NOMEM, path, "out of memory");
    l->v[l->n++] = (tree_ent){p, type};
    return CELLA_OK_RES;
}

static cella_res walk(int dfd, const char *prefix, int depth, tree_list *l)
{
    CELLA_ENSURE(depth < CELLA_TREE_MAX_DEPTH, CELLA_E_TOOBIG, prefix,
                 "directories nested deeper than %d", CELLA_TREE_MAX_DEPTH);
    int fd = dup(dfd);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, prefix, "dup: %s", strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return cella_fail(CELLA_E_IO, prefix, "cannot list directory: %s", strerror(errno));
    }
    cella_res r = CELLA_OK_RES;
    struct dirent *e;
    char path[CELLA_APP_MAX_PATH + 2];
    errno = 0;
    while (cella_ok(r) && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int n = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n > CELLA_APP_MAX_PATH) {
            r = cella_fail(CELLA_E_TOOBIG, e->d_name, "path longer than %u bytes",
                           CELLA_APP_MAX_PATH);
            break;
        }
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            r = cella_fail(CELLA_E_IO, path, "stat: %s", strerror(errno));
        } else if (S_ISLNK(st.st_mode)) {
            r = cella_fail(CELLA_E_PATH, path, "symbolic links are not allowed");
        } else if (S_ISREG(st.st_mode)) {
            r = tree_add(l, path, 'f');
        } else if (S_ISDIR(st.st_mode)) {
            r = tree_add(l, path, 'd');
            if (cella_ok(r)) {
                int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                    r = cella_fail(CELLA_E_IO, path, "cannot open directory: %s",
                                   strerror(errno));
                } else {
                    r = walk(sub, path, depth + 1, l);
                    close(sub);
                }
            }
        } else {
            r = cella_fail(CELLA_E_PATH, path, "special files are not allowed");
        }
        errno = 0;
    }
    if (cella_ok(r) && errno != 0)
        r = cella_fail(CELLA_E_IO, prefix, "readdir: %s", strerror(errno));
    closedir(d);
    return r;
}

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const tree_ent *)a)->path, ((const tree_ent *)b)->path);
}

/* Lists `dir` (opened as *rootfd) sorted bytewise by path. */
static cella_res list_tree(const char *dir, int *rootfd, tree_list *l)
{
    memset(l, 0, sizeof *l);
    *rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(*rootfd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, dir,
                 "cannot open directory: %s", strerror(errno));
    cella_res r = walk(*rootfd, "", 0, l);
    if (!cella_ok(r)) {
        tree_free(l);
        close(*rootfd);
        *rootfd = -1;
        return r;
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_ent);
    return CELLA_OK_RES;
}

/* Opens a listed regular file beneath the root, re-checking its type. */
static cella_res open_listed(int rootfd, const char *path, int *fd, struct stat *st)
{
    *fd = cella_open_beneath(rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    CELLA_ENSURE(*fd >= 0, CELLA_E_IO, path, "cannot open: %s", strerror(errno));
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return cella_fail(CELLA_E_PATH, path, "not a regular file (changed while reading?)");
    }
    return CELLA_OK_RES;
}

static uint32_t norm_mode(mode_t m, char type)
{
    return (type == 'd' || (m & S_IXUSR)) ? 0755u : 0644u;
}

/* ---- loading a bundle ----------------------------------------------------------------- */

static cella_res load_in(const char *dir, int rootfd, const tree_list *l, cella_app_manifest *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cella_res r = cella_read_file(rootfd, CELLA_APP_MANIFEST, CELLA_APP_MAX_MANIFEST, false, &buf,
                                  &len);
    if (!cella_ok(r)) {
        if (cella_error_code() == CELLA_E_NOTFOUND || errno == ENOENT)
            return cella_fail(CELLA_E_NOTFOUND, dir, "no " CELLA_APP_MANIFEST " in the bundle");
        return r;
    }
    r = cella_app_manifest_parse(cella_slice_of(buf, len), m);
    free(buf);
    CELLA_TRY(r);
    tree_ent key = {m->entrypoint, 0};
    const tree_ent *e = bsearch(&key, l->v, l->n, sizeof *l->v, cmp_ent);
    if (!e)
        r = cella_fail(CELLA_E_NOTFOUND, MF ": entrypoint", "'%s' is not in the bundle",
                       m->entrypoint);
    else if (e->type != 'f')
        r = cella_fail(CELLA_E_PARSE, MF ": entrypoint", "'%s' is not a regular file",
                       m->entrypoint);
    else {
        struct stat st;
        if (fstatat(rootfd, m->entrypoint, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            r = cella_fail(CELLA_E_PARSE, MF ": entrypoint", "'%s' is not a regular file",
                           m->entrypoint);
        else if (!(st.st_mode & S_IXUSR))
            r = cella_fail(CELLA_E_PERM, MF ": entrypoint", "'%s' is not executable",
                           m->entrypoint);
    }
    if (!cella_ok(r))
        cella_app_manifest_free(m);
    return r;
}

cella_res cella_app_load(const char *dir, cella_app_manifest *out)
{
    memset(out, 0, sizeof *out);
    int rootfd;
    tree_list l;
    CELLA_TRY(list_tree(dir, &rootfd, &l));
    cella_res r = load_in(dir, rootfd, &l, out);
    tree_free(&l);
    close(rootfd);
    return r;
}

cella_res cella_app_init(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, dir, "cannot create directory: %s", strerror(errno));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_IO, dir, "cannot open directory: %s", strerror(errno));
    static const char tmpl[] = "{\n"
                               "  \"entrypoint\": \"bin/app\",\n"
                               "  \"args\": [],\n"
                               "  \"heap_mb\": 256,\n"
                               "  \"stack_kb\": 8192,\n"
                               "  \"env\": [],\n"
                               "  \"host_files\": [],\n"
                               "  \"runtime\": \"" CELLA_APP_RUNTIME "\"\n"
                               "}\n";
    cella_res r = cella_write_file_atomic(fd, CELLA_APP_MANIFEST, tmpl, sizeof tmpl - 1, 0644, true);
    close(fd);
    if (!cella_ok(r) && cella_error_code() == CELLA_E_EXISTS) {
        char where[4200];
        snprintf(where, sizeof where, "%s/%s", dir, CELLA_APP_MANIFEST);
        cella_error_set_where(where);
    }
    return r;
}

/* ---- measurement ------------------------------------------------------------------------ */

static void put_str(cella_buf *b, const char *s)
{
    size_t n = strlen(s);
    cella_buf_u32le(b, (uint32_t)n);
    cella_buf_append(b, s, n);
}

static cella_res hash_file(int rootfd, const char *path, uint8_t digest[32], uint64_t *size,
                           uint32_t *mode)
{
    int fd;
    struct stat st;
    CELLA_TRY(open_listed(rootfd, path, &fd, &st));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t *buf = malloc(IO_CHUNK);
    cella_res r = CELLA_OK_RES;
    if (!ctx || !buf || !EVP_DigestInit_ex(ctx, cella_md_sha256(), NULL))
        r = cella_fail(CELLA_E_CRYPTO, path, "SHA-256 unavailable");
    uint64_t total = 0;
    while (cella_ok(r)) {
        ssize_t k = read(fd, buf, IO_CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = cella_fail(CELLA_E_IO, path, "read: %s", strerror(errno));
            break;
        }
        if (k == 0)
            break;
        total += (uint64_t)k;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)k))
            r = cella_fail(CELLA_E_CRYPTO, path, "SHA-256 failed");
    }
    if (cella_ok(r) && total != (uint64_t)st.st_size)
        r = cella_fail(CELLA_E_IO, path, "file changed while reading");
    unsigned int dl = 0;
    if (cella_ok(r) && !EVP_DigestFinal_ex(ctx, digest, &dl))
        r = cella_fail(CELLA_E_CRYPTO, path, "SHA-256 failed");
    *size = total;
    *mode = norm_mode(st.st_mode, 'f');
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    return r;
}

static cella_res describe(int rootfd, const tree_list *l, const cella_app_manifest *m,
                          cella_buf *b)
{
    cella_buf_append(b, CELLA_APP_MEASUREMENT_TAG, strlen(CELLA_APP_MEASUREMENT_TAG));
    put_str(b, m->runtime);
    cella_buf_u64le(b, (uint64_t)l->n);
    for (size_t i = 0; i < l->n; i++) {
        const tree_ent *e = &l->v[i];
        uint8_t digest[32] = {0};
        uint64_t size = 0;
        uint32_t mode = 0755;
        if (e->type == 'f')
            CELLA_TRY(hash_file(rootfd, e->path, digest, &size, &mode));
        cella_buf_u8(b, (uint8_t)e->type);
        put_str(b, e->path);
        cella_buf_u32le(b, mode);
        cella_buf_u64le(b, size);
        cella_buf_append(b, digest, 32);
    }
    put_str(b, m->entrypoint);
    cella_buf_u32le(b, (uint32_t)m->nargs);
    for (size_t i = 0; i < m->nargs; i++)
        put_str(b, m->args[i]);
    cella_buf_u32le(b, m->heap_mb);
    cella_buf_u32le(b, m->stack_kb);
    cella_buf_u32le(b, (uint32_t)m->nenv);
    for (size_t i = 0; i < m->nenv; i++)
        put_str(b, m->env[i]);
    cella_buf_u32le(b, (uint32_t)m->nhost_files);
    for (size_t i = 0; i < m->nhost_files; i++)
        put_str(b, m->host_files[i]);
    return cella_buf_result(b);
}

cella_res cella_app_measure(const char *dir, uint8_t out[static 32])
{
    int rootfd;
    tree_list l;
    CELLA_TRY(list_tree(dir, &rootfd, &l));
    cella_app_manifest m;
    cella_res r = load_in(dir, rootfd, &l, &m);
    if (cella_ok(r)) {
        cella_buf b;
        cella_buf_init(&b, false);
        r = describe(rootfd, &l, &m, &b);
        if (cella_ok(r))
            r = cella_sha256(out, b.p, b.len);
        cella_buf_free(&b);
        cella_app_manifest_free(&m);
    }
    tree_free(&l);
    close(rootfd);
    return r;
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
                            const tree_ent *e, uint8_t *buf)
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
        archive_entry_set_perm(ae, 0755);
        archive_entry_set_size(ae, 0);
        CELLA_ENSURE(archive_write_header(a, ae) == ARCHIVE_OK, CELLA_E_IO, e->path,
                     "tar: %s", archive_error_string(a));
        return CELLA_OK_RES;
    }
    int fd;
    struct stat st;
    CELLA_TRY(open_listed(rootfd, e->path, &fd, &st));
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, norm_mode(st.st_mode, 'f'));
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


static cella_res temp_name(char *out, size_t cap, const char *base)
{
    uint8_t rnd[8];
    char hex[17];
    CELLA_TRY(cella_random(rnd, sizeof rnd));
    cella_hex_encode(hex, rnd, sizeof rnd, false);
    int n = snprintf(out, cap, ".%.200s.tmp-%s", base, hex);
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_PATH, base, "name too long");
    return CELLA_OK_RES;
}

static cella_res write_tar(int rootfd, const tree_list *l, pack_sink *s, const char *out_path)
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
        r = pack_entry(a, ae, rootfd, &l->v[i], buf);
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

static cella_res pack_listed(int rootfd, const tree_list *l, const char *out_path,
                             uint8_t checksum[static 32])
{
    int pfd = -1;
    char base[256], tmp[300];
    CELLA_TRY(cella_open_parent(out_path, &pfd, base, sizeof base));
    cella_res r = temp_name(tmp, sizeof tmp, base);
    pack_sink s = {-1, EVP_MD_CTX_new(), 0};
    if (cella_ok(r) && (!s.md || !EVP_DigestInit_ex(s.md, cella_md_sha256(), NULL)))
        r = cella_fail(CELLA_E_CRYPTO, out_path, "SHA-256 unavailable");
    if (cella_ok(r)) {
        s.fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (s.fd < 0)
            r = cella_fail(CELLA_E_IO, out_path, "cannot create: %s", strerror(errno));
    }
    if (cella_ok(r))
        r = write_tar(rootfd, l, &s, out_path);
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
    CELLA_TRY(list_tree(dir, &rootfd, &l));
    cella_res r = pack_listed(rootfd, &l, out_path, checksum);
    tree_free(&l);
    close(rootfd);
    return r;
}

cella_res cella_app_pack(const char *dir, const char *out_path, uint8_t checksum[static 32])
{
    int rootfd;
    tree_list l;
    CELLA_TRY(list_tree(dir, &rootfd, &l));
    cella_app_manifest m;
    cella_res r = load_in(dir, rootfd, &l, &m);
    if (cella_ok(r)) {
        cella_app_manifest_free(&m);
        r = pack_listed(rootfd, &l, out_path, checksum);
    }
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
    uint64_t got = 0;
    for (;;) {
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

static cella_res unpack_entries(struct archive *a, int stage, const cella_tree_limits *lim)
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
        if (archive_entry_hardlink(ae) || archive_entry_symlink(ae) || type == AE_IFLNK) {
            r = cella_fail(CELLA_E_PATH, p, "links are not allowed in an archive");
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
        if (type == AE_IFDIR) {
            if (cella_mkdirs_beneath(stage, p, 0755) != 0) {
                r = cella_fail(CELLA_E_PATH, p, "cannot create directory: %s", strerror(errno));
                break;
            }
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
        mode_t mode = (archive_entry_perm(ae) & S_IXUSR) ? 0755 : 0644;
        r = extract_file(a, stage, p, size, mode, &total, lim, buf);
        if (!cella_ok(r))
            break;
    }
    free(buf);
    return r;
}

static cella_res unpack_archive(struct archive *a, const char *dir, const cella_tree_limits *lim0)
{
    cella_tree_limits lim = lim0 ? *lim0 : cella_tree_default_limits();
    int pfd = -1;
    char base[256], stage_name[300];
    CELLA_TRY(cella_open_parent(dir, &pfd, base, sizeof base));
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        close(pfd);
        return cella_fail(CELLA_E_EXISTS, dir, "destination already exists");
    }
    cella_res r = temp_name(stage_name, sizeof stage_name, base);
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
        r = unpack_entries(a, stage, &lim);
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
        r = unpack_archive(a, dir, lim);
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
        r = unpack_archive(a, dir, lim);
    archive_read_free(a);
    return r;
}

cella_res cella_app_unpack(const char *tarball, const char *dir)
{
    cella_tree_limits lim = {.max_file = 1ull << 30, .max_total = 4ull << 30,
                             .max_entries = 100000};
    CELLA_TRY(cella_tree_unpack(tarball, dir, &lim));
    cella_app_manifest m;
    cella_res r = cella_app_load(dir, &m);
    if (cella_ok(r)) {
        cella_app_manifest_free(&m);
        return r;
    }
    /* Not a valid bundle: leave nothing. Keep the error of the check. */
    cella_code c = cella_error_code();
    char what[512], where[512];
    snprintf(what, sizeof what, "%s", cella_error_what());
    snprintf(where, sizeof where, "%s", cella_error_where());
    int pfd = -1;
    char base[256];
    if (cella_ok(cella_open_parent(dir, &pfd, base, sizeof base))) {
        cella_rm_tree(pfd, base);
        close(pfd);
    }
    return cella_fail(c, where, "%s", what);
}
