/* The iExec SDK dataset format (SDK >= 6, `iexec dataset encrypt`), byte for byte:
 *
 *   key file  = base64(32 random bytes): 44 characters, no newline
 *   .enc file = IV (16 random bytes) || AES-256-CBC with PKCS#7 padding
 *   checksum  = "0x" + hex(sha256(.enc file)), the on-chain dataset checksum
 *
 * CBC is not authenticated: a wrong key or a damaged file is detected only when
 * the padding fails to check (most, not all, cases). The checksum is the format's
 * integrity check; pass it to the decrypt functions whenever it is known, as the
 * iExec pre-compute stage does.
 *
 * The shared IV || AES-256-CBC helpers are used by the result format as well.
 */
#ifndef CELLA_IEXEC_DATASET_H
#define CELLA_IEXEC_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/slice.h"

#define CELLA_IEXEC_KEY_BYTES 32
#define CELLA_IEXEC_KEY_B64_LEN 44
#define CELLA_IEXEC_IV_BYTES 16
#define CELLA_IEXEC_BLOCK 16
/* "0x" + 64 hex digits + NUL */
#define CELLA_IEXEC_CHECKSUM_LEN 67
/* Whole-file processing cap for datasets (the SDK itself holds files in memory). */
#define CELLA_IEXEC_DATASET_MAX ((size_t)1 << 30)

/* Size of IV || CBC(n bytes of plaintext). 0 if it would overflow. */
size_t cella_iexec_cbc_sealed_size(size_t n);

/* out = IV || AES-256-CBC/PKCS#7(in), with a fresh random IV. `out_cap` must be
 * at least cella_iexec_cbc_sealed_size(n); *out_len gets the size written. */
CELLA_RESULT cella_iexec_cbc_encrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                     const uint8_t *in, size_t n, uint8_t *out, size_t out_cap,
                                     size_t *out_len);

/* Inverse of cella_iexec_cbc_encrypt. `out_cap` must be at least n - 16. On any
 * failure (too short, not a whole number of blocks, bad padding: CELLA_E_AUTH)
 * `out` is wiped, so no partial plaintext is ever released. `what` names the
 * input in errors. */
CELLA_RESULT cella_iexec_cbc_decrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                     const uint8_t *in, size_t n, uint8_t *out, size_t out_cap,
                                     size_t *out_len, const char *what);

/* "0x" + lowercase hex sha256 of `data`. */
CELLA_RESULT cella_iexec_checksum(const void *data, size_t n,
                                  char out[static CELLA_IEXEC_CHECKSUM_LEN]);

/* Key text: exactly 44 base64 characters. Decoding tolerates surrounding
 * whitespace (the SDK trims keys before pushing them). */
void cella_iexec_key_encode(char out[static CELLA_IEXEC_KEY_B64_LEN + 1],
                            const uint8_t key[static CELLA_IEXEC_KEY_BYTES]);
CELLA_RESULT cella_iexec_key_decode(uint8_t key[static CELLA_IEXEC_KEY_BYTES], const char *text,
                                    size_t len, const char *what);

/* Key files. Load sets *loose when group or others may read the file (the SDK
 * writes them 0644; callers should warn). Save writes atomically, mode 0600. */
CELLA_RESULT cella_iexec_key_load(const char *path, uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                  bool *loose);
CELLA_RESULT cella_iexec_key_save(const char *path, const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                  bool exclusive);

/* Whole-buffer dataset encryption. *out is malloc'd (ciphertext is not
 * secret); free() it. `checksum` may be NULL. */
CELLA_RESULT cella_iexec_dataset_encrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                         cella_slice plain, uint8_t **out, size_t *out_len,
                                         char *checksum);

/* A plaintext held in secure memory (core/secure.h): `len` bytes at `p`, from
 * an allocation of `cap` bytes. Release with cella_iexec_secret_free (wipes). */
typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
} cella_iexec_secret;

CELLA_RESULT cella_iexec_secret_alloc(cella_iexec_secret *s, size_t cap);
void cella_iexec_secret_free(cella_iexec_secret *s);

/* Whole-buffer decryption. If `expected_checksum` is non-NULL the ciphertext
 * must hash to it first (CELLA_E_AUTH otherwise). On failure `out` is empty. */
CELLA_RESULT cella_iexec_dataset_decrypt(const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                         cella_slice enc, const char *expected_checksum,
                                         cella_iexec_secret *out, const char *what);

/* Files. encrypt: reads `src` (at most CELLA_IEXEC_DATASET_MAX bytes), stages
 * `dst` beside itself (mode 0644), then, if `key_path` is non-NULL, saves the
 * key there (exclusive unless `overwrite`), and only then publishes `dst` in
 * one rename (exclusive unless `overwrite`): the key never goes missing for a
 * published file, and a failed run leaves neither. Fills `checksum`.
 * decrypt: writes `dst` atomically (mode 0600, exclusive unless `overwrite`)
 * only after the whole file decrypted; nothing is written on failure. */
CELLA_RESULT cella_iexec_dataset_encrypt_file(const char *src, const char *dst,
                                              const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                              const char *key_path, bool overwrite,
                                              char checksum[static CELLA_IEXEC_CHECKSUM_LEN]);
CELLA_RESULT cella_iexec_dataset_decrypt_file(const char *src, const char *dst,
                                              const uint8_t key[static CELLA_IEXEC_KEY_BYTES],
                                              const char *expected_checksum, bool overwrite);

/* mkdir -p with `mode` for each created level (used for the SDK's folders). */
CELLA_RESULT cella_iexec_mkdirs(const char *path, mode_t mode);

#endif
