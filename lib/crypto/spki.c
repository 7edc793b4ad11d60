#include "crypto/spki.h"

#include "crypto/aead.h"

static cella_res hash_der(int n, unsigned char *der, uint8_t out[32])
{
    cella_res r = n > 0 ? cella_sha256(out, der, (size_t)n)
                        : cella_fail(CELLA_E_CRYPTO, NULL, "cannot encode the public key");
    OPENSSL_free(der);
    return r;
}

cella_res cella_spki_sha256(EVP_PKEY *key, uint8_t out[32])
{
    unsigned char *der = NULL;
    int n = key ? i2d_PUBKEY(key, &der) : -1;
    return hash_der(n, der, out);
}

cella_res cella_x509_spki_sha256(X509 *cert, uint8_t out[32])
{
    unsigned char *der = NULL;
    int n = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
    return hash_der(n, der, out);
}
