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
#include "unpack_box.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[320];
    unpack_box_open("import", out);
    cella_import_opts o = {.lim = {.max_file = 1 << 16, .max_total = 1 << 18,
                                   .max_entries = 256, .max_depth = 16, .max_path = 512,
                                   .max_layers = 8}};
    cella_res r = cella_app_import_mem(cella_slice_of(data, size), out, &o);
    unpack_box_close(cella_ok(r));
    return 0;
}
