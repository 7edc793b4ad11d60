/* For fuzz targets that unpack into a directory (fuzz_app_tar,
 * fuzz_app_import): each input gets ROOT/box/out as its destination, and
 * after it only "box/out" may exist, and only on success; nothing beside box.
 * A header of static functions: each target is its own program. */
#ifndef CELLA_FUZZ_UNPACK_BOX_H
#define CELLA_FUZZ_UNPACK_BOX_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"

static char g_unpack_root[256];
static char g_unpack_box[300];

static int unpack_box_count(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Makes ROOT (once, named after `what`) and ROOT/box; `out` gets ROOT/box/out. */
static void unpack_box_open(const char *what, char out[320])
{
    if (!g_unpack_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_unpack_root, sizeof g_unpack_root, "%s/cella-fuzz-%s.XXXXXX",
                 t && *t ? t : "/tmp", what);
        if (!mkdtemp(g_unpack_root))
            abort();
    }
    snprintf(g_unpack_box, sizeof g_unpack_box, "%s/box", g_unpack_root);
    mkdir(g_unpack_box, 0700);
    snprintf(out, 320, "%s/out", g_unpack_box);
}

/* Traps unless the box holds exactly what `ok` allows; then empties it. */
static void unpack_box_close(bool ok)
{
    int in_box = unpack_box_count(g_unpack_box), in_root = unpack_box_count(g_unpack_root);
    if (in_root != 1 || in_box != (ok ? 1 : 0))
        __builtin_trap();
    cella_rm_tree(AT_FDCWD, g_unpack_box);
}

#endif
