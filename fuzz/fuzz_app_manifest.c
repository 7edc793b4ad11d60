/* Fuzzes the app manifest parser (cella-app.json): anything accepted must
 * satisfy the documented invariants (relative entrypoint, sorted unique env
 * and host files, bounded counts). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "app/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cella_app_manifest m;
    if (!cella_ok(cella_app_manifest_parse(cella_slice_of(data, size), &m)))
        return 0;
    if (!m.entrypoint || m.entrypoint[0] == '/' || strstr(m.entrypoint, "..") == m.entrypoint ||
        strcmp(m.runtime, CELLA_APP_RUNTIME) != 0 || m.nargs > CELLA_APP_MAX_ARGS ||
        m.nenv > CELLA_APP_MAX_ENV || m.nhost_files > CELLA_APP_MAX_HOST_FILES || m.heap_mb == 0)
        __builtin_trap();
    for (size_t i = 1; i < m.nenv; i++)
        if (strcmp(m.env[i - 1], m.env[i]) >= 0)
            __builtin_trap();
    for (size_t i = 0; i < m.nhost_files; i++)
        if (m.host_files[i][0] != '/' || (i && strcmp(m.host_files[i - 1], m.host_files[i]) >= 0))
            __builtin_trap();
    cella_app_manifest_free(&m);
    return 0;
}
