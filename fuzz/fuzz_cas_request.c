/* Fuzzes what cas parses from an unauthenticated client before any check:
 * the Authorization header and the RA-TLS evidence envelope of a client
 * certificate (given as DER). */
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "casapi/casapi.h"
#include "tee/ratls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t addr[20], nonce[32], sig[65];
    char nonce_hex[65];
    (void)cella_cas_parse_authorization((const char *)data, size, addr, nonce, nonce_hex, sig);

    const unsigned char *p = data;
    X509 *cert = d2i_X509(NULL, &p, (long)size);
    if (cert) {
        cella_tee_kind kind;
        uint8_t spki[32];
        cella_buf ev;
        cella_buf_init(&ev, false);
        (void)cella_ratls_extract(cert, &kind, &ev, spki);
        cella_buf_free(&ev);
        X509_free(cert);
    }
    return 0;
}
