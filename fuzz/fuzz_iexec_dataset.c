/* Fuzzes the iExec dataset format: key text decoding, and decryption of
 * IV || AES-256-CBC with a fixed key, with and without an expected checksum
 * taken from the input. Failures must release no plaintext. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "iexec/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[32] = {9, 8, 7};
    uint8_t k[32];
    if (cella_ok(cella_iexec_key_decode(k, (const char *)data, size, "fuzz"))) {
        char again[CELLA_IEXEC_KEY_B64_LEN + 1];
        cella_iexec_key_encode(again, k); /* must not crash; trimming may differ */
    }

    cella_iexec_secret out;
    cella_slice in = cella_slice_of(data, size);
    if (cella_ok(cella_iexec_dataset_decrypt(key, in, NULL, &out, "fuzz"))) {
        if (out.len + CELLA_IEXEC_IV_BYTES >= size || size - out.len - CELLA_IEXEC_IV_BYTES > 16)
            __builtin_trap(); /* 1..16 bytes of padding */
        /* re-encrypting gives a ciphertext of the same size */
        if (cella_iexec_cbc_sealed_size(out.len) != size)
            __builtin_trap();
        cella_iexec_secret_free(&out);
    } else if (out.p) {
        __builtin_trap();
    }

    /* A checksum read from the front of the input, over the rest. */
    if (size > 66) {
        char sum[67];
        memcpy(sum, data, 66);
        sum[66] = 0;
        if (memchr(sum, 0, 66) == NULL &&
            cella_ok(cella_iexec_dataset_decrypt(key, cella_slice_of(data + 66, size - 66), sum,
                                                 &out, "fuzz")))
            cella_iexec_secret_free(&out);
    }
    return 0;
}
