/* Fuzzes hub_address_list_parse (the web page's GET /v1/names?addresses=).
 * Invariants: no crash or over-read; on success 1 <= n <= max, and the
 * addresses written back as lower-case 0x hex, comma separated, parse again
 * to the same list. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hub/resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 50

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t a[MAX][20], b[MAX][20];
    size_t n = 0, m = 0;
    if (!cella_ok(hub_address_list_parse(cella_slice_of(data, size), a, MAX, &n)))
        return 0;
    if (n < 1 || n > MAX)
        __builtin_trap();
    char text[MAX * 43];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(text + len, sizeof text - len, "%s0x", i ? "," : "");
        for (int j = 0; j < 20; j++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%02x", a[i][j]);
    }
    if (!cella_ok(hub_address_list_parse(cella_slice_of(text, len), b, MAX, &m)) || m != n ||
        memcmp(a, b, n * 20) != 0)
        __builtin_trap();
    return 0;
}
