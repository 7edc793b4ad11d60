/* Fuzzes the iExec encrypted-result reader: untrusted zip bytes go through
 * entry-name checks, size caps and entry reads (cella_iexec_result_unpack), then
 * the whole decrypt path with a fixed RSA key. Nothing may crash, leak or read
 * out of bounds, and any success must respect the caps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "iexec/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cella_iexec_pem g_priv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_priv.p) {
        char *pub = NULL;
        size_t pub_len = 0;
        if (!cella_ok(cella_iexec_rsa_generate(2048, &g_priv, &pub, &pub_len)))
            __builtin_trap();
        free(pub);
    }
    cella_slice in = cella_slice_of(data, size);
    uint8_t *k = NULL, *d = NULL;
    size_t kl = 0, dl = 0;
    if (cella_ok(cella_iexec_result_unpack(in, &k, &kl, &d, &dl))) {
        if (kl > CELLA_IEXEC_RESULT_KEY_MAX || dl > CELLA_IEXEC_RESULT_MAX + 32)
            __builtin_trap();
        free(k);
        free(d);
    } else if (k || d) {
        __builtin_trap(); /* nothing is handed out on failure */
    }
    cella_iexec_secret out;
    if (cella_ok(cella_iexec_result_decrypt(in, cella_slice_of(g_priv.p, g_priv.len), &out)))
        cella_iexec_secret_free(&out);
    else if (out.p)
        __builtin_trap();
    return 0;
}
