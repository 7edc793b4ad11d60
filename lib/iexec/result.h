/* iExec beneficiary result encryption (post-compute with
 * `iexec_result_encryption: true`; `iexec result decrypt` undoes it):
 *
 *   iexec_out.zip     = zip of the output folder (relative names, sorted, fixed
 *                       timestamps, so the same folder always gives the same zip)
 *   iexec_out.zip.aes = IV (16) || AES-256-CBC/PKCS#7(iexec_out.zip), random 32-byte key
 *   aes-key.rsa       = RSAES-PKCS1-v1_5(beneficiary public key, raw AES key)
 *   encrypted zip     = flat zip holding exactly aes-key.rsa and iexec_out.zip.aes
 *
 * Beneficiary keys are RSA (4096 bits from the generator): PKCS#8 PEM private
 * key, SPKI PEM public key. A public key may also be given as base64 of the PEM
 * (the form pushed to the SMS as RESULT_ENCRYPTION_PUBLIC_KEY).
 *
 * Every zip read here is untrusted: entry names must be relative without ".."
 * (or the whole archive is refused), sizes are capped before anything is
 * allocated, and reads stop at the declared size.
 */
#ifndef CELLA_IEXEC_RESULT_H
#define CELLA_IEXEC_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"
#include "iexec/dataset.h"

#define CELLA_IEXEC_RESULT_KEY_ENTRY "aes-key.rsa"
#define CELLA_IEXEC_RESULT_DATA_ENTRY "iexec_out.zip.aes"
#define CELLA_IEXEC_RESULT_KEY_MAX 1000             /* as the SDK */
#define CELLA_IEXEC_RESULT_MAX ((size_t)1 << 30)    /* SDK: 1e9 bytes */
#define CELLA_IEXEC_RESULT_MAX_ENTRIES 100000       /* output folder files */
#define CELLA_IEXEC_RSA_BITS 4096
#define CELLA_IEXEC_PEM_MAX (64 * 1024)

/* A PEM text: private ones live in secure memory. */
typedef cella_iexec_secret cella_iexec_pem;

/* Generates an RSA key pair of `bits` (>= 2048): PKCS#8 PEM private key (in
 * secure memory) and SPKI PEM public key (malloc'd, NUL-terminated). */
CELLA_RESULT cella_iexec_rsa_generate(unsigned bits, cella_iexec_pem *priv, char **pub,
                                      size_t *pub_len);

/* Writes <dir>/<address>_key (0600) and <dir>/<address>_key.pub (0644); dir is
 * created (0700) if missing. Refuses to replace existing files unless `force`. */
CELLA_RESULT cella_iexec_keypair_write(const char *dir, const char *address, unsigned bits,
                                       bool force);

/* Zips the regular files under `dir` (sorted relative paths, deflate, fixed
 * 2020-01-01 timestamps). Symbolic links and special files are refused. The
 * zip is returned in secure memory. */
CELLA_RESULT cella_iexec_zip_dir(const char *dir, cella_iexec_secret *zip);

/* Encrypts an iexec_out.zip for the holder of `pub_pem` (PEM or base64 of PEM).
 * *out is malloc'd: the flat encrypted zip. */
CELLA_RESULT cella_iexec_result_encrypt(cella_slice result_zip, cella_slice pub_pem,
                                        uint8_t **out, size_t *out_len);

/* Checks that `pub` (PEM or base64 of PEM) is an RSA public key the encryption
 * above accepts, e.g. before pushing it to the SMS. */
CELLA_RESULT cella_iexec_result_public_key_check(cella_slice pub);

/* Extracts the two entries of an encrypted result zip (untrusted input):
 * *key_entry (<= 1000 bytes) and *data_entry (<= CELLA_IEXEC_RESULT_MAX), both
 * malloc'd. Fails on unsafe entry names, duplicates, missing entries, oversize
 * or corrupt entries. */
CELLA_RESULT cella_iexec_result_unpack(cella_slice enc_zip, uint8_t **key_entry,
                                       size_t *key_len, uint8_t **data_entry, size_t *data_len);

/* Decrypts an encrypted result zip with the beneficiary's PEM private key.
 * `out` receives iexec_out.zip (secure memory); empty on failure. */
CELLA_RESULT cella_iexec_result_decrypt(cella_slice enc_zip, cella_slice priv_pem,
                                        cella_iexec_secret *out);

/* File wrappers. encrypt_dir: zip `dir`, encrypt for the key in `pub_path`,
 * write `out_path` atomically (0644; exclusive unless `force`). decrypt_file:
 * writes `out_path` (0600; exclusive unless `force`) only on full success. */
CELLA_RESULT cella_iexec_result_encrypt_dir(const char *dir, const char *pub_path,
                                            const char *out_path, bool force);
CELLA_RESULT cella_iexec_result_decrypt_file(const char *in_path, const char *priv_path,
                                             const char *out_path, bool force);

#endif
