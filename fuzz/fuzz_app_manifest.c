/* Fuzzes the app manifest parser (cella-app.json): anything accepted must
 * satisfy the documented invariants (a relative entrypoint, or an image
 * object and no entrypoint/args; sorted unique env and host files; bounded
 * counts; an image's absolute working dir and NAME=value env). */
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
    if (!m.image == !m.entrypoint || (m.image && m.args))
        __builtin_trap();
    if (m.image) {
        const cella_app_image *im = m.image;
        size_t wl = strlen(im->working_dir);
        if (im->working_dir[0] != '/' || strstr(im->working_dir, "/../") ||
            (wl >= 3 && !strcmp(im->working_dir + wl - 3, "/..")) ||
            im->nentrypoint > CELLA_APP_MAX_ARGS || im->ncmd > CELLA_APP_MAX_ARGS ||
            im->nenv > CELLA_APP_MAX_IMAGE_ENV || im->uid == UINT32_MAX || im->gid == UINT32_MAX)
            __builtin_trap();
        for (size_t i = 0; i < im->nenv; i++)
            if (!strchr(im->env[i], '=') || im->env[i][0] == '=')
                __builtin_trap();
    } else if (m.entrypoint[0] == '/' || !strcmp(m.entrypoint, "..") ||
               !strncmp(m.entrypoint, "../", 3)) { /* "..y" is a name */
        __builtin_trap();
    }
    if (strcmp(m.runtime, CELLA_APP_RUNTIME) != 0 || m.nargs > CELLA_APP_MAX_ARGS ||
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
