/* Fuzzes chunk decryption and the ciphertext file header parser: arbitrary
 * ciphertext, index and last flag must be refused cleanly, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "volume/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {7};
    static const uint8_t vid[16] = {1}, fid[16] = {2};
    cella_vol_file_header fh;
    (void)cella_vol_file_header_parse(cella_slice_of(data, size), &fh);
    if (size < 9 + CELLA_GCM_TAG_BYTES)
        return 0;
    uint64_t index;
    memcpy(&index, data, 8);
    bool last = data[8] & 1;
    const uint8_t *ct = data + 9;
    size_t n = size - 9 - CELLA_GCM_TAG_BYTES;
    cella_gcm *g = cella_gcm_new();
    uint8_t *pt = malloc(n ? n : 1);
    if (g && pt && cella_ok(cella_gcm_set_key(g, key, false))) {
        cella_res r = cella_vol_chunk_open(g, vid, fid, index, last, ct, n, pt);
        /* Random bytes must never authenticate. */
        if (cella_ok(r) && n > 0)
            __builtin_trap();
    }
    free(pt);
    cella_gcm_free(g);
    return 0;
}
