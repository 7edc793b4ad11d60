/* Ethereum wallet files.
 *
 * Encrypted: Web3 Secret Storage "V3 keystore" JSON, as geth, ethers and the
 * iExec SDK write it: {"address", "id", "version": 3, "Crypto": {"cipher":
 * "aes-128-ctr", "cipherparams": {"iv"}, "ciphertext", "kdf": "scrypt" |
 * "pbkdf2", "kdfparams": {...}, "mac"}}. derivedKey = KDF(password, salt, 32);
 * ciphertext = AES-128-CTR(derivedKey[0:16], iv, privateKey);
 * mac = keccak256(derivedKey[16:32] || ciphertext). "crypto" is accepted for
 * "Crypto" on input.
 *
 * Unencrypted: the iExec SDK's `wallet create --unencrypted` file,
 * {"privateKey": "0x..", "publicKey": "0x04..", "address": "0x.."}.
 *
 * Passwords are bytes (no normalisation; ASCII passwords behave as in ethers).
 * Private keys are written only into caller buffers, which should be secure
 * memory. Input JSON is capped at CELLA_WALLET_MAX_JSON bytes.
 */
#ifndef CELLA_IDENTITY_KEYSTORE_H
#define CELLA_IDENTITY_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CELLA_WALLET_MAX_JSON (64 * 1024)

typedef enum { CELLA_KDF_SCRYPT, CELLA_KDF_PBKDF2 } cella_kdf;

typedef struct {
    cella_kdf kdf;
    uint64_t scrypt_n; /* power of two; 0 = default 131072 (as ethers and the iExec SDK) */
    uint32_t scrypt_r; /* 0 = 8 */
    uint32_t scrypt_p; /* 0 = 1 */
    uint32_t pbkdf2_c; /* 0 = 262144 (hmac-sha256) */
} cella_keystore_params;

/* Limits enforced on input files, so a hostile keystore cannot demand
 * unbounded memory or time: scrypt 128*r*n <= 1 GiB, n <= 2^20, p <= 16;
 * pbkdf2 c <= 10,000,000. */
#define CELLA_KEYSTORE_MAX_SCRYPT_MEM (1ull << 30)
#define CELLA_KEYSTORE_MAX_PBKDF2_C 10000000u

/* Encrypts priv under password. *out is a malloc'd NUL-terminated JSON text
 * (public data only), to be freed with free(). */
CELLA_RESULT cella_keystore_encrypt(const uint8_t priv[32], const char *password, size_t pwlen,
                                    const cella_keystore_params *params, char **out,
                                    size_t *out_len);

/* Decrypts a V3 keystore. A MAC mismatch fails with CELLA_E_AUTH "wrong
 * password". If the file names an address it must match the key. */
CELLA_RESULT cella_keystore_decrypt(const void *json, size_t len, const char *password,
                                    size_t pwlen, uint8_t priv[32], uint8_t addr[20]);

/* Parses and checks a keystore without the password (no key derivation):
 * what a decrypt would cost and which address it claims. */
typedef struct {
    cella_kdf kdf;
    uint64_t scrypt_n, scrypt_r, scrypt_p, pbkdf2_c;
    bool has_address;
    uint8_t address[20];
} cella_keystore_info;
CELLA_RESULT cella_keystore_inspect(const void *json, size_t len, cella_keystore_info *info);

/* The "address" field of a keystore or unencrypted wallet, without a password.
 * CELLA_E_NOTFOUND when it has none. */
CELLA_RESULT cella_wallet_peek_address(const void *json, size_t len, uint8_t addr[20]);

/* True if the JSON looks like an encrypted keystore (has Crypto/crypto). */
bool cella_wallet_is_encrypted(const void *json, size_t len);

/* Unencrypted wallet JSON: encode into secure memory (*out from
 * cella_secure_alloc(*cap); free with cella_secure_free(*out, *cap)), decode
 * (checking publicKey and address when present). */
CELLA_RESULT cella_wallet_plain_encode(const uint8_t priv[32], char **out, size_t *len,
                                       size_t *cap);
CELLA_RESULT cella_wallet_plain_decode(const void *json, size_t len, uint8_t priv[32],
                                       uint8_t addr[20]);

/* Loads a wallet file of either kind. password may be NULL for an unencrypted
 * wallet; an encrypted one then fails with CELLA_E_USAGE. Errors name `path`. */
CELLA_RESULT cella_wallet_load(const char *path, const char *password, size_t pwlen,
                               uint8_t priv[32], uint8_t addr[20]);

/* The geth/ethers file name for a keystore:
 * "UTC--2026-11-23T19-45-40.091000000Z--<checksummed address without 0x>". */
CELLA_RESULT cella_keystore_filename(char *out, size_t cap, const uint8_t addr[20]);

#endif
