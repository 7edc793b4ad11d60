/* Fuzzes cella_task_computed_parse (lib/runtime/task.c): the app's
 * computed.json, written by the app inside the enclave. Invariants: an
 * accepted "deterministic-output-path" names /iexec_out or a path inside it:
 * the relative part is a suffix of it, never absolute, with no "." or ".."
 * component. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    const char *det = NULL, *rel = NULL;
    if (cella_ok(cella_task_computed_parse(cella_slice_of(data, size), &doc, &det, &rel))) {
        size_t dl = strlen(det), rl = strlen(rel);
        if (!doc || rl > dl || strcmp(det + dl - rl, rel) || rel[0] == '/' || !strstr(det, "iexec_out"))
            __builtin_trap();
        for (const char *c = rel; *c;) {
            size_t k = strcspn(c, "/");
            if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.') || k == 0)
                __builtin_trap();
            c += k + (c[k] == '/');
        }
        json_decref(doc);
    } else if (doc || det || rel) {
        __builtin_trap();
    }
    return 0;
}
