/* Fuzzes the parsers of PCCS answers (untrusted network bytes): the
 * URL-encoded issuer-chain header, the exact-text extraction of "tcbInfo" /
 * "enclaveIdentity", CRL bodies (DER, PEM or hex), and the cache's
 * nextUpdate reader. An extracted member must lie inside the input and be
 * valid JSON on its own. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evidence/pccs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cella_slice in = cella_slice_of(data, size);
    cella_buf b;
    cella_buf_init(&b, false);
    if (cella_ok(cella_pccs_url_decode(in, &b)) && (b.len > size || (b.len && memchr(b.p, 0, b.len))))
        __builtin_trap();
    cella_buf_free(&b);

    static const char *const keys[] = {"tcbInfo", "enclaveIdentity"};
    for (int i = 0; i < 2; i++) {
        cella_slice v;
        if (cella_ok(cella_pccs_json_member(in, keys[i], &v))) {
            if (v.p < data || v.p + v.len > data + size)
                __builtin_trap();
            json_t *j = json_loadb((const char *)v.p, v.len, 0, NULL);
            if (!json_is_object(j))
                __builtin_trap();
            json_decref(j);
        }
    }

    cella_buf_init(&b, false);
    if (cella_ok(cella_pccs_crl_hex(in, &b)) && (b.len == 0 || b.len % 2))
        __builtin_trap();
    cella_buf_free(&b);

    time_t t;
    (void)cella_pccs_next_update(in, &t);
    return 0;
}
