/* AES-256-GCM through OpenSSL EVP, with the key schedule kept across calls so
 * that sealing many chunks under one key only resets the IV. */
#ifndef CELLA_CRYPTO_AEAD_H
#define CELLA_CRYPTO_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CELLA_GCM_KEY_BYTES 32
#define CELLA_GCM_IV_BYTES 12
#define CELLA_GCM_TAG_BYTES 16

typedef struct cella_gcm cella_gcm; /* opaque; one per thread */

cella_gcm *cella_gcm_new(void);
void cella_gcm_free(cella_gcm *g);

/* Installs a key for sealing (encrypt=true) or opening. The key bytes are not
 * retained by this module beyond OpenSSL's context, which is wiped on free. */
CELLA_RESULT cella_gcm_set_key(cella_gcm *g, const uint8_t key[static CELLA_GCM_KEY_BYTES],
                               bool encrypt);

/* out may equal in. */
CELLA_RESULT cella_gcm_seal(cella_gcm *g, const uint8_t iv[static CELLA_GCM_IV_BYTES],
                            const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                            uint8_t *out, uint8_t tag[static CELLA_GCM_TAG_BYTES]);

/* Returns CELLA_E_AUTH if the tag does not verify; `out` is then wiped, so no
 * unauthenticated plaintext is ever visible to the caller. out may equal in. */
CELLA_RESULT cella_gcm_open(cella_gcm *g, const uint8_t iv[static CELLA_GCM_IV_BYTES],
                            const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                            uint8_t *out, const uint8_t tag[static CELLA_GCM_TAG_BYTES]);

/* HKDF-SHA256 (RFC 5869). */
CELLA_RESULT cella_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                               const uint8_t *salt, size_t salt_len, const char *info);

/* SHA-256, fetched once per process (pass it where OpenSSL wants an EVP_MD). */
const struct evp_md_st *cella_md_sha256(void);

/* SHA-256 of a buffer. */
CELLA_RESULT cella_sha256(uint8_t out[static 32], const void *data, size_t n);

/* SHA-256 of a whole open file, read from offset 0 (pread: the offset is left
 * alone); *size (may be NULL) gets its length. `what` names it in errors. */
CELLA_RESULT cella_sha256_fd(int fd, uint8_t sha[static 32], uint64_t *size, const char *what);

#endif
