/* The measurement of a bundle (docs/app-measurement.md): v1 for directory
 * bundles, v2 for image bundles. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/internal.h"
#include "crypto/aead.h"

static void put_str(cella_buf *b, const char *s)
{
    size_t n = strlen(s);
    cella_buf_u32le(b, (uint32_t)n);
    cella_buf_append(b, s, n);
}

static void put_strv(cella_buf *b, char *const *v, size_t n)
{
    cella_buf_u32le(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_str(b, v[i]);
}

static cella_res hash_file(int rootfd, const char *path, uint8_t digest[32], uint64_t *size,
                           mode_t *mode)
{
    int fd;
    struct stat st;
    CELLA_TRY(tree_open_listed(rootfd, path, &fd, &st));
    cella_res r = cella_sha256_fd(fd, digest, size, path);
    if (cella_ok(r) && *size != (uint64_t)st.st_size)
        r = cella_fail(CELLA_E_IO, path, "file changed while reading");
    *mode = st.st_mode;
    close(fd);
    return r;
}

static void describe_limits(const cella_app_manifest *m, cella_buf *b)
{
    cella_buf_u32le(b, m->heap_mb);
    cella_buf_u32le(b, m->stack_kb);
    put_strv(b, m->env, m->nenv);
    put_strv(b, m->host_files, m->nhost_files);
}

static cella_res describe_v1(int rootfd, const tree_list *l, const cella_app_manifest *m,
                             cella_buf *b)
{
    cella_buf_append(b, CELLA_APP_MEASUREMENT_TAG, strlen(CELLA_APP_MEASUREMENT_TAG));
    put_str(b, m->runtime);
    cella_buf_u64le(b, (uint64_t)l->n);
    for (size_t i = 0; i < l->n; i++) {
        const tree_ent *e = &l->v[i];
        uint8_t digest[32] = {0};
        uint64_t size = 0;
        mode_t mode = S_IXUSR;
        if (e->type == 'f')
            CELLA_TRY(hash_file(rootfd, e->path, digest, &size, &mode));
        cella_buf_u8(b, (uint8_t)e->type);
        put_str(b, e->path);
        cella_buf_u32le(b, (mode & S_IXUSR) ? 0755u : 0644u);
        cella_buf_u64le(b, size);
        cella_buf_append(b, digest, 32);
    }
    put_str(b, m->entrypoint);
    put_strv(b, m->args, m->nargs);
    describe_limits(m, b);
    return cella_buf_result(b);
}

/* Image bundles: every entry with its type, its permission bits (as an image
 * bundle keeps them) and its content or link target, then the image object. */
static cella_res describe_v2(int rootfd, const tree_list *l, const cella_app_manifest *m,
                             cella_buf *b)
{
    cella_buf_append(b, CELLA_APP_MEASUREMENT_TAG_V2, strlen(CELLA_APP_MEASUREMENT_TAG_V2));
    put_str(b, m->runtime);
    cella_buf_u64le(b, (uint64_t)l->n);
    for (size_t i = 0; i < l->n; i++) {
        const tree_ent *e = &l->v[i];
        cella_buf_u8(b, (uint8_t)e->type);
        put_str(b, e->path);
        if (e->type == 'l') {
            put_str(b, e->target);
        } else if (e->type == 'd') {
            cella_buf_u32le(b, tree_image_mode(e->mode, 'd'));
        } else {
            uint8_t digest[32];
            uint64_t size = 0;
            mode_t mode = 0;
            CELLA_TRY(hash_file(rootfd, e->path, digest, &size, &mode));
            cella_buf_u32le(b, tree_image_mode(mode, 'f'));
            cella_buf_u64le(b, size);
            cella_buf_append(b, digest, 32);
        }
    }
    const cella_app_image *im = m->image;
    put_strv(b, im->entrypoint, im->nentrypoint);
    put_strv(b, im->cmd, im->ncmd);
    put_strv(b, im->env, im->nenv);
    put_str(b, im->working_dir);
    cella_buf_u32le(b, im->uid);
    cella_buf_u32le(b, im->gid);
    describe_limits(m, b);
    return cella_buf_result(b);
}

cella_res cella_app_measure(const char *dir, uint8_t out[static 32])
{
    int rootfd;
    tree_list l;
    cella_app_manifest m;
    CELLA_TRY(app_load_listed(dir, &rootfd, &l, &m));
    cella_buf b;
    /* A whole root file system describes in a few MB; the buffer grows. */
    cella_buf_init(&b, false);
    cella_res r = m.image ? describe_v2(rootfd, &l, &m, &b) : describe_v1(rootfd, &l, &m, &b);
    if (cella_ok(r))
        r = cella_sha256(out, b.p, b.len);
    cella_buf_free(&b);
    cella_app_manifest_free(&m);
    tree_free(&l);
    close(rootfd);
    return r;
}
