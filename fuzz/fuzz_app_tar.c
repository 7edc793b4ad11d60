/* Fuzzes the tarball unpacker (cella_tree_unpack_mem) with small limits:
 * whatever the archive, nothing may be written outside the destination, and
 * a refused archive leaves nothing behind. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "app/app.h"
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
        snprintf(g_root, sizeof g_root, "%s/cella-fuzz-tar.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(g_root))
            abort();
    }
    char box[300], out[320];
    snprintf(box, sizeof box, "%s/box", g_root);
    mkdir(box, 0700);
    snprintf(out, sizeof out, "%s/out", box);
    cella_tree_limits lim = {.max_file = 1 << 16, .max_total = 1 << 18, .max_entries = 64};
    cella_res r = cella_tree_unpack_mem(cella_slice_of(data, size), out, &lim);
    /* Only "box/out" may exist, and only on success; nothing beside box. */
    int in_box = count_entries(box), in_root = count_entries(g_root);
    if (in_root != 1 || in_box != (cella_ok(r) ? 1 : 0))
        __builtin_trap();
    cella_rm_tree(AT_FDCWD, box);
    return 0;
}
