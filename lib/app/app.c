/* App bundles: loading (both kinds). Packing and unpacking are in pack.c,
 * the measurement in measure.c, the manifest in manifest.c, the tree code in
 * tree_walk.c and tree.c. */
#include "app/app.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/internal.h"
#include "core/fs.h"
#include "core/error.h"

#define MF CELLA_APP_MANIFEST

void app_save_error(saved_error *s)
{
    s->code = cella_error_code();
    snprintf(s->what, sizeof s->what, "%s", cella_error_what());
    snprintf(s->where, sizeof s->where, "%s", cella_error_where());
}

cella_res app_restore_error(const saved_error *s)
{
    return cella_fail(s->code, s->where, "%s", s->what);
}


static cella_res read_manifest(const char *dir, int rootfd, cella_app_manifest *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cella_res r = cella_read_file(rootfd, MF, CELLA_APP_MAX_MANIFEST, false, &buf, &len);
    if (!cella_ok(r)) {
        if (cella_error_code() == CELLA_E_NOTFOUND || errno == ENOENT)
            return cella_fail(CELLA_E_NOTFOUND, dir, "no " MF " in the bundle");
        return r;
    }
    r = cella_app_manifest_parse(cella_slice_of(buf, len), m);
    free(buf);
    return r;
}

static cella_res check_entrypoint(int rootfd, const tree_list *l, const cella_app_manifest *m)
{
    tree_ent key = {.path = m->entrypoint};
    const tree_ent *e = bsearch(&key, l->v, l->n, sizeof *l->v, tree_cmp_ent);
    CELLA_ENSURE(e, CELLA_E_NOTFOUND, MF ": entrypoint", "'%s' is not in the bundle",
                 m->entrypoint);
    CELLA_ENSURE(e->type == 'f', CELLA_E_PARSE, MF ": entrypoint", "'%s' is not a regular file",
                 m->entrypoint);
    struct stat st;
    CELLA_ENSURE(fstatat(rootfd, m->entrypoint, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                     S_ISREG(st.st_mode),
                 CELLA_E_PARSE, MF ": entrypoint", "'%s' is not a regular file", m->entrypoint);
    CELLA_ENSURE(st.st_mode & S_IXUSR, CELLA_E_PERM, MF ": entrypoint", "'%s' is not executable",
                 m->entrypoint);
    return CELLA_OK_RES;
}

/* An image bundle holds the manifest and the directory rootfs/, nothing else
 * at the top (what runs is rootfs; the rest would be measured yet unused). */
static cella_res check_image_layout(const char *dir, const tree_list *l)
{
    bool rootfs = false;
    for (size_t i = 0; i < l->n; i++) {
        const tree_ent *e = &l->v[i];
        if (!strchr(e->path, '/') && !strcmp(e->path, CELLA_APP_ROOTFS)) {
            CELLA_ENSURE(e->type == 'd', CELLA_E_PARSE, CELLA_APP_ROOTFS,
                         "not a directory in an image bundle");
            rootfs = true;
        } else if (!strchr(e->path, '/')) {
            CELLA_ENSURE(!strcmp(e->path, MF), CELLA_E_PARSE, e->path,
                         "an image bundle holds only " MF " and " CELLA_APP_ROOTFS "/");
        }
    }
    CELLA_ENSURE(rootfs, CELLA_E_NOTFOUND, dir, "image bundle without " CELLA_APP_ROOTFS "/");
    return CELLA_OK_RES;
}

cella_res app_load_listed(const char *dir, int *rootfd, tree_list *l, cella_app_manifest *m)
{
    memset(m, 0, sizeof *m);
    memset(l, 0, sizeof *l);
    *rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CELLA_ENSURE(*rootfd >= 0, errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, dir,
                 "cannot open directory: %s", strerror(errno));
    /* The manifest says which kind of bundle this is, so it is read first; a
     * listing error still takes precedence over a manifest error. */
    cella_res rm = read_manifest(dir, *rootfd, m);
    saved_error se;
    if (!cella_ok(rm))
        app_save_error(&se);
    close(*rootfd);
    bool links = m->image || !cella_ok(rm); /* a broken manifest: report it, not a link */
    cella_res r = tree_list_dir(dir, links ? CELLA_APP_ROOTFS : NULL, rootfd, l);
    if (cella_ok(r) && !cella_ok(rm))
        r = app_restore_error(&se);
    if (cella_ok(r))
        r = m->image ? check_image_layout(dir, l) : check_entrypoint(*rootfd, l, m);
    if (!cella_ok(r)) {
        cella_app_manifest_free(m);
        if (*rootfd >= 0) {
            tree_free(l);
            close(*rootfd);
            *rootfd = -1;
        }
    }
    return r;
}

cella_res cella_app_load(const char *dir, cella_app_manifest *out)
{
    int rootfd;
    tree_list l;
    CELLA_TRY(app_load_listed(dir, &rootfd, &l, out));
    tree_free(&l);
    close(rootfd);
    return CELLA_OK_RES;
}
