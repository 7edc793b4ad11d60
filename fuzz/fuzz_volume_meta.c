/* Fuzzes the volume metadata parsers: the 96-byte header, the whole sealed
 * file (with a fixed key: exercises length checks and authentication), and
 * the decrypted body parser, which a key holder could feed arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "volume/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {1, 2, 3};
    cella_slice in = cella_slice_of(data, size);
    cella_vol_header h;
    (void)cella_vol_header_parse(in, &h);

    cella_vol_meta m;
    uint8_t tag[CELLA_VOL_TAG_BYTES];
    if (cella_ok(cella_vol_meta_open(in, key, &m, tag)))
        cella_vol_meta_free(&m);

    cella_vol_meta b = {0};
    if (cella_ok(cella_vol_body_parse(in, &b))) {
        /* Anything that parses must re-encode to the same bytes. */
        cella_buf out;
        cella_buf_init(&out, true);
        cella_vol_body_encode(&b, &out);
        if (out.len != size || __builtin_memcmp(out.p, data, size) != 0)
            __builtin_trap();
        cella_buf_free(&out);
        cella_vol_meta_free(&b);
    }
    return 0;
}
