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
#include "unpack_box.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[320];
    unpack_box_open("tar", out);
    cella_tree_limits lim = {.max_file = 1 << 16, .max_total = 1 << 18, .max_entries = 64};
    cella_res r = cella_tree_unpack_mem(cella_slice_of(data, size), out, &lim);
    unpack_box_close(cella_ok(r));
    return 0;
}
