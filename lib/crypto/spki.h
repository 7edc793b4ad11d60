/* SHA-256 of a public key's DER SubjectPublicKeyInfo: the pin of a TLS peer
 * (cella's fingerprints), the key binding of RA-TLS report data, the id of a
 * sim platform key. */
#ifndef CELLA_CRYPTO_SPKI_H
#define CELLA_CRYPTO_SPKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "core/error.h"

CELLA_RESULT cella_spki_sha256(EVP_PKEY *key, uint8_t out[32]);
/* The certificate's SubjectPublicKeyInfo as it was sent (no re-encoding of the key). */
CELLA_RESULT cella_x509_spki_sha256(X509 *cert, uint8_t out[32]);

#endif
