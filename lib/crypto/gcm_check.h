/* Checks an AES-256-GCM tag without decrypting: for `volume verify`, which
 * must authenticate every chunk but has no use for the plaintext.
 *
 * The GCM tag is GHASH_H(A, C) xor E_K(J0), and GHASH needs only the
 * ciphertext. OpenSSL exposes GHASH only through the AAD: with the bytes
 * A' = A, zero-padded to a block, followed by C as AAD and no data, it
 * computes GHASH over the same blocks as GCM does, except that the final
 * length block is L' = (bits of A', 0) instead of L = (bits of A, bits of C).
 * GHASH is linear and the length block is multiplied by H exactly once, so
 *     tag = GMAC(A') xor (L xor L')·H,    H = E_K(0^128),
 * which costs one GF(2^128) product per chunk on top of the GHASH pass,
 * instead of the AES-CTR pass that decrypting would cost. The tests compare
 * it with cella_gcm_open on random inputs of every length shape.
 */
#ifndef CELLA_CRYPTO_GCM_CHECK_H
#define CELLA_CRYPTO_GCM_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "crypto/aead.h"

typedef struct cella_gcm_check cella_gcm_check; /* opaque; one per thread */

cella_gcm_check *cella_gcm_check_new(void);
/* Wipes H and the key schedule. */
void cella_gcm_check_free(cella_gcm_check *c);

CELLA_RESULT cella_gcm_check_set_key(cella_gcm_check *c,
                                     const uint8_t key[static CELLA_GCM_KEY_BYTES]);

/* CELLA_OK if `tag` is the GCM tag of ciphertext in[0..n) under the key, iv
 * and aad (exactly what cella_gcm_open accepts); CELLA_E_AUTH otherwise. */
CELLA_RESULT cella_gcm_check_tag(cella_gcm_check *c, const uint8_t iv[static CELLA_GCM_IV_BYTES],
                                 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n,
                                 const uint8_t tag[static CELLA_GCM_TAG_BYTES]);

#endif
