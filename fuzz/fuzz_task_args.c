/* Fuzzes cella_task_split_args (lib/runtime/task.c): iexec_args is the
 * requester's text from the order's params, split into the app's argv in the
 * enclave. Invariants: at most 256 words, NULL-terminated, no word longer
 * than the input; each word single-quoted back into a line splits to the
 * same words (quoting round-trips). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/slice.h"
#include "runtime/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char **v = NULL;
    size_t n = 0;
    if (cella_ok(cella_task_split_args(s, &v, &n))) {
        if (n > 256 || v[n])
            __builtin_trap();
        cella_buf q;
        cella_buf_init(&q, false);
        for (size_t i = 0; i < n; i++) {
            if (strlen(v[i]) > size)
                __builtin_trap();
            cella_buf_append(&q, " '", 2);
            for (const char *c = v[i]; *c; c++)
                if (*c == '\'')
                    cella_buf_append(&q, "'\\''", 4);
                else
                    cella_buf_append(&q, c, 1);
            cella_buf_append(&q, "'", 1);
        }
        cella_buf_append(&q, "", 1);
        char **v2 = NULL;
        size_t n2 = 0;
        if (!cella_ok(cella_task_split_args((const char *)q.p, &v2, &n2)) || n2 != n)
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i], v2[i]))
                __builtin_trap();
        free(v2);
        cella_buf_free(&q);
        free(v);
    }
    free(s);
    return 0;
}
