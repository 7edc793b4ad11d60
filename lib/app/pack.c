/* App bundles packed into a tarball and unpacked from one (libarchive, in
 * tree.c): apart from app.c so that loading an app (cella-runtime) needs no
 * libarchive. */
#include "app/app.h"

#include <unistd.h>

#include "app/internal.h"
#include "core/fs.h"

cella_res cella_app_pack(const char *dir, const char *out_path, uint8_t checksum[static 32])
{
    int rootfd;
    tree_list l;
    cella_app_manifest m;
    CELLA_TRY(app_load_listed(dir, &rootfd, &l, &m));
    cella_res r = tree_pack_listed(rootfd, &l, m.image != NULL, out_path, checksum);
    cella_app_manifest_free(&m);
    tree_free(&l);
    close(rootfd);
    return r;
}

cella_res cella_app_unpack(const char *tarball, const char *dir)
{
    cella_tree_limits lim = {.max_file = 1ull << 30, .max_total = 4ull << 30,
                             .max_entries = 100000};
    /* Links are created (never followed) under rootfs/ whatever the kind;
     * the load below refuses any in a directory bundle. */
    CELLA_TRY(tree_unpack_links(tarball, dir, &lim, CELLA_APP_ROOTFS));
    cella_app_manifest m;
    cella_res r = cella_app_load(dir, &m);
    if (cella_ok(r)) {
        cella_app_manifest_free(&m);
        return r;
    }
    /* Not a valid bundle: leave nothing. Keep the error of the check. */
    saved_error se;
    app_save_error(&se);
    int pfd = -1;
    char base[256];
    if (cella_ok(cella_open_parent(dir, &pfd, base, sizeof base))) {
        cella_rm_tree(pfd, base);
        close(pfd);
    }
    return app_restore_error(&se);
}
