/* Fuzzes `cella app import` on an archive in memory (cella_app_import_mem):
 * the archive index, the image's JSON (index, manifest, config, docker
 * manifest.json), digest checks and the layer flattener, with small limits.
 * Whatever the image, nothing may be written outside the destination, and a
 * refused import leaves nothing behind. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/oci.h"
#include "core/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_root[256];

static int count_entries(const char *dir)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_root, sizeof g_root, "%s/cella-fuzz-import.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(g_root))
            abort();
    }
    char box[300], out[320];
    snprintf(box, sizeof box, "%s/box", g_root);
    mkdir(box, 0700);
    snprintf(out, sizeof out, "%s/out", box);
    cella_import_opts o = {.lim = {.max_file = 1 << 16, .max_total = 1 << 18,
                                   .max_entries = 256, .max_depth = 16, .max_path = 512,
                                   .max_layers = 8}};
    cella_res r = cella_app_import_mem(cella_slice_of(data, size), out, &o);
    /* Only "box/out" may exist, and only on success; nothing beside box. */
    int in_box = count_entries(box), in_root = count_entries(g_root);
    if (in_root != 1 || in_box != (cella_ok(r) ? 1 : 0))
        __builtin_trap();
    cella_rm_tree(AT_FDCWD, box);
    return 0;
}
